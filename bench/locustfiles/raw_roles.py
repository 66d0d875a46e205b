"""Baseline (a): plain Locust FastHttpUsers doing what the role users do, without erpload (no import of it).

Same endpoints, request names, payloads, headers and task weights as `locustfiles/` (one class per
role, `Raw` + the role's class name); the state the role users keep (work order held, ids seen on a
list) is mirrored with counters, so the request mix matches without parsing bodies. No response
is checked beyond Locust's own status handling (a 403 to an RBAC probe is marked a success).
$BENCH_RAW_CHECKED=1 makes every request what a careful hand-written test does: `catch_response=True`,
`json.loads` of the body, success/failure by status (the same work the role users' checks start with).
$BENCH_RAW_COUNTS (JSON {class name: users}) sets each class's `fixed_count`.
Accounts come from $ERPLOAD_CREDENTIALS (the bench's one-account-per-role file).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import uuid
from typing import Any

from locust import FastHttpUser, constant, task

CHECKED = os.environ.get("BENCH_RAW_CHECKED", "") == "1"
ACCOUNTS: dict[str, list[dict[str, str]]] = {}
if os.environ.get("ERPLOAD_CREDENTIALS"):
    with open(os.environ["ERPLOAD_CREDENTIALS"]) as f:
        ACCOUNTS = json.load(f)
PROBE = " [rbac-probe]"
WO, CLAIM, NOTE = (
    "/production/work-orders",
    "/production/work-orders/[id]/claim",
    "/production/work-orders/[id]",
)
ORDERS, ORDER, REPORT = "/ppic/manufacturing-orders", "/ppic/manufacturing-orders/[id]", "/reports/production"
TESTS, RESULT = "/qc/tests", "/qc/tests/[id]/result"
RECEIPTS, RECEIVE, STOCK, ITEM = (
    "/warehouse/receipts",
    "/warehouse/receipts/[id]/receive",
    "/warehouse/stock",
    "/warehouse/stock/[sku]",
)
ADJUST = "/warehouse/stock/[sku]/adjust"
STYLES = ("POLO", "TEE", "HOODIE", "JACKET", "CHINO", "JEANS", "DRESS", "SKIRT", "SHIRT", "BLAZER")
CUSTOMERS = ("Nordic Apparel", "Urban Outfitters", "Coastal Retail", "Alpine Wear", "Metro Stores")
NOTES = (
    "bundle checked",
    "needle changed",
    "shade variation noted",
    "machine restarted",
    "waiting for trims",
)
LOCATIONS = ("WH1-A01-R01", "WH1-A02-R03", "WH2-A05-R02", "WH3-A10-R07", "WH4-A20-R10")
REASONS = (
    "cycle count",
    "damaged in storage",
    "found during audit",
    "supplier over-delivery",
    "sample pulled",
)
Probe = tuple[str, str, str, dict[str, Any]]  # method, path, name, request kwargs


def report_body() -> dict[str, str]:
    """The production report over the last month."""
    today = dt.datetime.now(dt.UTC).date()
    return {
        "from": (today - dt.timedelta(days=30)).isoformat(),
        "to": today.isoformat(),
        "group_by": random.choice(("department", "day", "style")),
    }


class _Raw(FastHttpUser):
    """Base: log in on start, send requests with the bearer token, RBAC probes expecting 403."""

    abstract = True
    wait_time = constant(0)
    role_key = ""
    probes: tuple[Probe, ...] = ()

    def on_start(self) -> None:
        """Log in (the token is the only thing parsed), then GET /auth/me."""
        account = ACCOUNTS[self.role_key][0]
        resp = self.client.post(
            "/auth/login", json={"username": account["username"], "password": account["password"]}
        )
        self.auth = {"Authorization": "Bearer " + json.loads(resp.content)["access_token"]}
        self.call("GET", "/auth/me")

    def call(self, method: str, path: str, name: str | None = None, **kwargs: Any) -> Any:
        """One request with the bearer token (a request may bring its own headers)."""
        headers = kwargs.pop("headers", self.auth)
        if not CHECKED:
            return self.client.request(method, path, name=name or path, headers=headers, **kwargs)
        with self.client.request(
            method, path, name=name or path, headers=headers, catch_response=True, **kwargs
        ) as resp:
            if resp.status_code >= 400:
                resp.failure(f"HTTP {resp.status_code}")
            else:
                try:
                    json.loads(resp.content)
                    resp.success()
                except ValueError:
                    resp.failure("body is not JSON")
        return resp

    def probe(self) -> None:
        """An endpoint the role may not call: 403 counts as success."""
        method, path, name, kwargs = random.choice(self.probes)
        with self.client.request(
            method, path, name=name + PROBE, headers=self.auth, catch_response=True, **kwargs
        ) as resp:
            if CHECKED:
                try:
                    json.loads(resp.content)
                except ValueError:
                    resp.failure("body is not JSON")
                    return
            if resp.status_code == 403:
                resp.success()

    def dashboard(self) -> None:
        """GET /dashboard."""
        self.call("GET", "/dashboard")


def _operator_probes(other: str) -> tuple[Probe, ...]:
    """The probes of an operator (other department's work, admin/planning/warehouse screens)."""
    return (
        ("GET", "/admin/users", "/admin/users", {}),
        ("GET", ORDERS, ORDERS, {}),
        ("GET", WO, WO, {"params": {"department": other, "status": "open"}}),
        (
            "POST",
            f"/production/{other}",
            f"/production/{other}",
            {"json": {"work_order_id": 0, "quantity": 1}},
        ),
        ("POST", "/warehouse/receipts/0/receive", RECEIVE, {"json": {}}),
    )


class _RawOperator(_Raw):
    """Shop-floor operator: queue, claim, record bundles (20 % finish the work order), notes."""

    abstract = True
    department = ""
    base_id = 0

    def on_start(self) -> None:
        super().on_start()
        self.call(
            "GET", WO, params={"department": self.department, "status": "in_progress", "page_size": 200}
        )
        self.mine = 3  # the bench's in-progress list holds 3 work orders of this account
        self.candidates = 0
        self.holding = False

    @task(6)
    def view_queue(self) -> None:
        self.call("GET", WO, params={"department": self.department, "status": "open", "page_size": 50})
        self.candidates = 50

    @task(18)
    def record_bundle(self) -> None:
        if not self.holding:
            if self.mine:
                self.mine -= 1
            else:
                if not self.candidates:
                    self.view_queue()
                self.candidates -= 1
                self.call("POST", f"{WO}/{self.base_id + random.randrange(50)}/claim", name=CLAIM)
            self.holding = True
        self.call(
            "POST",
            f"/production/{self.department}",
            json={"work_order_id": self.base_id + 7, "quantity": random.randint(20, 60)},
        )
        if random.random() < 0.2:  # the bench target answers "done" to 20 % of the steps
            self.holding = False

    @task(2)
    def add_note(self) -> None:
        if self.holding:
            self.call("PATCH", f"{WO}/{self.base_id + 7}", name=NOTE, json={"note": random.choice(NOTES)})

    @task(2)
    def dash(self) -> None:
        self.dashboard()

    @task(1)
    def rbac(self) -> None:
        self.probe()


class RawCuttingOperator(_RawOperator):
    """Mirror of CuttingOperator."""

    role_key = department = "cutting"
    base_id = 100000
    probes = _operator_probes("sewing")


class RawSewingOperator(_RawOperator):
    """Mirror of SewingOperator."""

    role_key = department = "sewing"
    base_id = 200000
    probes = _operator_probes("finishing")


class RawFinishingOperator(_RawOperator):
    """Mirror of FinishingOperator."""

    role_key = department = "finishing"
    base_id = 300000
    probes = _operator_probes("cutting")


class RawQcInspector(_Raw):
    """Mirror of QcInspector: pending list (50 ids), submit results, history."""

    role_key = "qc"
    probes = (
        ("GET", "/admin/audit-log", "/admin/audit-log", {}),
        ("GET", RECEIPTS, RECEIPTS, {}),
        ("GET", WO, WO, {"params": {"department": "finishing"}}),
        (
            "POST",
            "/production/finishing",
            "/production/finishing",
            {"json": {"work_order_id": 0, "quantity": 1}},
        ),
    )

    def on_start(self) -> None:
        super().on_start()
        self.pending = 0

    @task(5)
    def review_pending(self) -> None:
        self.call("GET", TESTS, params={"status": "pending", "page_size": 50})
        self.pending = 50

    @task(10)
    def inspect_lot(self) -> None:
        if not self.pending:
            self.review_pending()
        self.pending -= 1
        passed = random.random() < 0.9
        result: dict[str, Any] = {
            "passed": passed,
            "defects": random.randint(0, 2) if passed else random.randint(3, 20),
        }
        if not passed:
            result["notes"] = "open seam"
        self.call("POST", f"{TESTS}/{5000 + random.randrange(50)}/result", name=RESULT, json=result)

    @task(2)
    def review_history(self) -> None:
        self.call(
            "GET",
            TESTS,
            params={
                "status": random.choice(("passed", "failed")),
                "page": random.randint(1, 3),
                "page_size": 50,
            },
        )

    @task(2)
    def dash(self) -> None:
        self.dashboard()

    @task(1)
    def rbac(self) -> None:
        self.probe()


class RawPpicPlanner(_Raw):
    """Mirror of PpicPlanner: list/search/open/plan orders, production report."""

    role_key = "ppic"
    probes = (
        ("GET", "/admin/users", "/admin/users", {}),
        ("GET", RECEIPTS, RECEIPTS, {}),
        ("POST", "/production/cutting", "/production/cutting", {"json": {"work_order_id": 0, "quantity": 1}}),
        ("POST", "/qc/tests/0/result", RESULT, {"json": {"passed": True, "defects": 0}}),
    )

    def on_start(self) -> None:
        super().on_start()
        self.call("GET", STOCK, params={"q": "FG-", "page_size": 50})
        self.seen_orders = False

    @task(8)
    def list_orders(self) -> None:
        params: dict[str, Any] = {"page": random.randint(1, 5), "page_size": 50}
        if random.random() < 0.5:
            params["status"] = random.choice(("planned", "in_progress", "completed"))
        self.call("GET", ORDERS, params=params)
        self.seen_orders = True

    @task(5)
    def search_orders(self) -> None:
        self.call(
            "GET", ORDERS, params={"q": random.choice(("POLO", "JEANS", "MO-000", "Nordic")), "page_size": 50}
        )
        self.seen_orders = True

    @task(3)
    def open_order(self) -> None:
        if not self.seen_orders:
            self.list_orders()
        self.call("GET", f"{ORDERS}/{1000 + random.randrange(50)}", name=ORDER)

    @task(3)
    def plan_order(self) -> None:
        due = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=random.randint(14, 60))
        self.call(
            "POST",
            ORDERS,
            json={
                "style": f"{random.choice(STYLES)}-{random.randint(0, 99):03d}",
                "quantity": random.randint(4, 30) * 10,
                "due_date": due.isoformat(),
                "customer": random.choice(CUSTOMERS),
                "product_sku": "FG-000007",
            },
        )

    @task(1)
    def production_report(self) -> None:
        self.call("POST", REPORT, json=report_body())

    @task(2)
    def dash(self) -> None:
        self.dashboard()

    @task(1)
    def rbac(self) -> None:
        self.probe()


class RawWarehouseClerk(_Raw):
    """Mirror of WarehouseClerk: receipts, receive, stock search/open/adjust (Idempotency-Key)."""

    role_key = "warehouse"
    probes = (
        ("GET", "/admin/rbac", "/admin/rbac", {}),
        ("GET", ORDERS, ORDERS, {}),
        ("GET", TESTS, TESTS, {}),
        ("POST", "/qc/tests/0/result", RESULT, {"json": {"passed": True, "defects": 0}}),
    )

    def on_start(self) -> None:
        super().on_start()
        self.call("GET", STOCK, params={"page": random.randint(1, 50), "page_size": 50})
        self.receipts = 0

    @task(4)
    def pending_receipts(self) -> None:
        self.call("GET", RECEIPTS, params={"status": "pending", "page_size": 50})
        self.receipts = 50

    @task(6)
    def receive_lot(self) -> None:
        if not self.receipts:
            self.pending_receipts()
        self.receipts -= 1
        self.call(
            "POST",
            f"{RECEIPTS}/{7000 + random.randrange(50)}/receive",
            name=RECEIVE,
            json={"location": random.choice(LOCATIONS)},
        )

    @task(4)
    def search_stock(self) -> None:
        self.call(
            "GET", STOCK, params={"q": random.choice(("FAB-00", "TRM-01", "FG-000", "Navy")), "page_size": 50}
        )

    @task(3)
    def open_item(self) -> None:
        self.call("GET", f"{STOCK}/FG-{random.randrange(50):06d}", name=ITEM)

    @task(3)
    def adjust_item(self) -> None:
        self.call(
            "POST",
            f"{STOCK}/FG-{random.randrange(50):06d}/adjust",
            name=ADJUST,
            json={"delta": random.randint(1, 20), "reason": random.choice(REASONS)},
            headers={**self.auth, "Idempotency-Key": uuid.uuid4().hex},
        )

    @task(2)
    def dash(self) -> None:
        self.dashboard()

    @task(1)
    def rbac(self) -> None:
        self.probe()


class RawAdmin(_Raw):
    """Mirror of Admin: users, audit log, RBAC matrix, reports, orders in progress."""

    role_key = "admin"
    probes = (
        ("POST", "/production/work-orders/0/claim", CLAIM, {}),
        ("POST", "/production/cutting", "/production/cutting", {"json": {"work_order_id": 0, "quantity": 1}}),
        ("POST", "/qc/tests/0/result", RESULT, {"json": {"passed": True, "defects": 0}}),
        ("POST", "/warehouse/receipts/0/receive", RECEIVE, {"json": {}}),
    )

    @task(6)
    def browse_users(self) -> None:
        self.call(
            "GET",
            "/admin/users",
            params={
                "role": random.choice(("admin", "ppic", "operator", "qc")),
                "page": random.randint(1, 2),
                "page_size": 50,
            },
        )

    @task(6)
    def audit_log(self) -> None:
        self.call("GET", "/admin/audit-log", params={"page": random.randint(1, 3), "page_size": 50})

    @task(2)
    def rbac_matrix(self) -> None:
        self.call("GET", "/admin/rbac")

    @task(2)
    def production_report(self) -> None:
        self.call("POST", REPORT, json=report_body())

    @task(2)
    def orders_in_progress(self) -> None:
        self.call("GET", ORDERS, params={"status": "in_progress", "page_size": 50})

    @task(2)
    def dash(self) -> None:
        self.dashboard()

    @task(1)
    def rbac(self) -> None:
        self.probe()


for _cls_name, _n in json.loads(os.environ.get("BENCH_RAW_COUNTS", "{}")).items():
    globals()[_cls_name].fixed_count = int(_n)
