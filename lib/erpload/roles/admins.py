"""Administration: admins review users, the audit log and the RBAC matrix, and run reports."""

from __future__ import annotations

import datetime as dt
import random

from locust import between, task

from erpload.users.checks import Probe
from erpload.users.shopfloor import ShopFloorUser

ROLES = ("admin", "ppic", "operator", "qc", "warehouse")
REPORT_GROUPS = ("department", "day", "style")


class Admin(ShopFloorUser):
    """ERP administrator: browses users, the audit log and the RBAC matrix, runs reports, checks orders."""

    role_key = "admin"
    wait_time = between(8, 20)  # reading tables, not clicking fast
    rbac_probes = (  # admins may read everything, but shop-floor, QC and receiving actions are not theirs
        Probe("POST", "/production/work-orders/0/claim", "/production/work-orders/[id]/claim"),
        Probe("POST", "/production/cutting", "/production/cutting", json={"work_order_id": 0, "quantity": 1}),
        Probe("POST", "/qc/tests/0/result", "/qc/tests/[id]/result", json={"passed": True, "defects": 0}),
        Probe("POST", "/warehouse/receipts/0/receive", "/warehouse/receipts/[id]/receive", json={}),
    )

    @task(6)
    def browse_users(self) -> None:
        """Page through the user list, filtered by role."""
        self.api(
            "GET",
            "/admin/users",
            params={"role": random.choice(ROLES), "page": random.randint(1, 2), "page_size": 50},
            required=("items", "total"),
            validate=_no_secrets,
        )

    @task(6)
    def audit_log(self) -> None:
        """Read the newest audit-log entries."""
        self.api(
            "GET",
            "/admin/audit-log",
            params={"page": random.randint(1, 3), "page_size": 50},
            required=("items", "total"),
        )

    @task(2)
    def rbac_matrix(self) -> None:
        """Review the RBAC matrix the server enforces."""
        self.api("GET", "/admin/rbac", required=("roles", "operations"))

    @task(2)
    def production_report(self) -> None:
        """Run the production report for the last month."""
        today = dt.datetime.now(dt.UTC).date()
        self.api(
            "POST",
            "/reports/production",
            json={
                "from": (today - dt.timedelta(days=30)).isoformat(),
                "to": today.isoformat(),
                "group_by": random.choice(REPORT_GROUPS),
            },
            required=("rows", "totals", "group_by"),
        )

    @task(2)
    def orders_in_progress(self) -> None:
        """Check which manufacturing orders are in progress."""
        self.api(
            "GET",
            "/ppic/manufacturing-orders",
            params={"status": "in_progress", "page_size": 50},
            required=("items", "total"),
        )


def _no_secrets(body: dict) -> str | None:
    """The user list must never carry a password or hash."""
    for user in body["items"] if isinstance(body["items"], list) else ():
        if isinstance(user, dict) and any(k in user for k in ("password", "password_hash", "hash")):
            return "user list exposes a password field"
    return None
