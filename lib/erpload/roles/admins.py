"""Administration: admins review users, the audit log and the RBAC matrix, and run reports."""

from __future__ import annotations

import datetime as dt
import random

from locust import between, task

from erpload.users.base import ErpUser
from erpload.users.checks import Probe
from erpload.users.exports import download
from erpload.users.shopfloor import ShopFloorUser

ROLES = ("admin", "ppic", "operator", "qc", "warehouse")
REPORT_GROUPS = ("department", "day", "style")
AUDIT_COLUMNS = ("id", "at", "username", "action", "entity", "entity_id", "detail")
RBAC_COLUMNS = ("username", "role", "department", "active")  # then one column per operation


class Admin(ShopFloorUser):
    """ERP administrator: browses users, the audit log and the RBAC matrix, runs reports, checks orders."""

    role_key = "admin"
    wait_time = between(8, 20)  # reading tables, not clicking fast
    rbac_probes = (  # admins may read everything, but shop-floor, QC and receiving actions are not theirs
        Probe("claim_work_order", {"id": 0}),
        Probe("record_cutting", json={"work_order_id": 0, "quantity": 1}),
        Probe("submit_qc_result", {"id": 0}, json={"passed": True, "defects": 0}),
        Probe("receive_receipt", {"id": 0}, json={}),
    )

    @task(6)
    def browse_users(self) -> None:
        """Page through the user list, filtered by role."""
        self.call(
            "list_users",
            params={"role": random.choice(ROLES), "page": random.randint(1, 2), "page_size": 50},
            required=("items", "total"),
            validate=_no_secrets,
        )

    @task(6)
    def audit_log(self) -> None:
        """Read the newest audit-log entries."""
        self.call(
            "audit_log",
            params={"page": random.randint(1, 3), "page_size": 50},
            required=("items", "total"),
        )

    @task(2)
    def rbac_matrix(self) -> None:
        """Review the RBAC matrix the server enforces."""
        self.call("rbac_matrix", required=("roles", "operations"))

    @task(2)
    def production_report(self) -> None:
        """Run the production report for the last month."""
        today = dt.datetime.now(dt.UTC).date()
        self.call(
            "production_report",
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
        self.call(
            "list_orders",
            params={"status": "in_progress", "page_size": 50},
            required=("items", "total"),
        )

    export_share = 0.5  # of the `exports` turns that download: a few exports an hour at this think time

    @task(1)
    def exports(self) -> None:
        """A few times an hour: download the RBAC matrix report (a second or less).

        The year-long audit-trail export (seconds, megabytes) belongs to an audit, not to the daily
        round: `AuditReviewer` runs it (profile `reports`). In the daily mix it would be in flight
        whenever a short run stops, and count as a failure there.
        """
        if random.random() < self.export_share:
            rbac_report(self)


class AuditReviewer(ErpUser):
    """Admin preparing an audit (profile `reports`): year-long audit-trail exports, RBAC reports, month reports."""

    role_key = "admin"
    wait_time = between(3, 8)  # opening the file before asking for the next one

    @task(2)
    def audit_year(self) -> None:
        """Export the audit trail of the last 365 days."""
        export_audit_year(self)

    @task(2)
    def rbac_matrix_report(self) -> None:
        """Download the RBAC matrix report (every account against every operation)."""
        rbac_report(self)

    @task(2)
    def month_report(self) -> None:
        """Run the production report for the last month."""
        production_month(self)


def export_audit_year(user: ErpUser) -> None:
    """The audit trail of the last 365 days as CSV (streamed; timed to the last byte)."""
    today = dt.datetime.now(dt.UTC).date()
    params = {"from": (today - dt.timedelta(days=364)).isoformat(), "to": today.isoformat()}
    download(user, "audit_export", params=params, header=AUDIT_COLUMNS)


def rbac_report(user: ErpUser) -> None:
    """The RBAC matrix report as CSV: one row per account, one column per operation."""
    download(user, "rbac_report", params={"format": "csv"}, header=RBAC_COLUMNS)


def production_month(user: ErpUser) -> None:
    """The production report over the last 30 days."""
    today = dt.datetime.now(dt.UTC).date()
    user.call(
        "production_report",
        json={
            "from": (today - dt.timedelta(days=30)).isoformat(),
            "to": today.isoformat(),
            "group_by": random.choice(REPORT_GROUPS),
        },
        required=("rows", "totals", "group_by"),
    )


def _no_secrets(body: dict) -> str | None:
    """The user list must never carry a password or hash."""
    for user in body["items"] if isinstance(body["items"], list) else ():
        if isinstance(user, dict) and any(k in user for k in ("password", "password_hash", "hash")):
            return "user list exposes a password field"
    return None
