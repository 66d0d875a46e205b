"""erpload: Locust-based load-testing suite for the garment-manufacturing ERP API."""

__version__ = "0.1.0"
