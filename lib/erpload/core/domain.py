"""The suite's domain constants, defined once: shipped role users, credential pool keys, departments.

The reference ERP keeps its own (lib/erp_target/rbac.py): the two sides meet only over HTTP.
"""

from __future__ import annotations

# Role users of the `reports` profile only (exports, 1,000-row imports, bulk adjustments back to back).
REPORTING_CLASSES: tuple[str, ...] = ("AuditReviewer", "PlanImporter", "StockController")
# The role user classes shipped in locustfiles/ (what a profile's `roles:` may name without a locustfile of its own).
USER_CLASSES: tuple[str, ...] = (
    "CuttingOperator",
    "SewingOperator",
    "FinishingOperator",
    "QcInspector",
    "PpicPlanner",
    "WarehouseClerk",
    "Admin",
    "Supervisor",
    "StockTaker",
    *REPORTING_CLASSES,
)
# Shop-floor departments an operator belongs to.
DEPARTMENTS: tuple[str, ...] = ("cutting", "sewing", "finishing")
# Credential pool keys (ERPLOAD_CREDENTIALS file): one pool per ERP role, operators per department.
CREDENTIAL_KEYS: tuple[str, ...] = ("admin", "ppic", *DEPARTMENTS, "qc", "warehouse")
