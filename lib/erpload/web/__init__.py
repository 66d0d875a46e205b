"""The web UI extension (SLA and Resources tabs, profile picker) and its login."""
