"""Production planning (PPIC): planners browse and search manufacturing orders, plan new ones, run reports."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from locust import between, task

from erpload.users.base import ErpUser
from erpload.users.checks import Probe, item_ids
from erpload.users.exports import import_csv
from erpload.users.shopfloor import ShopFloorUser

STYLES = ("POLO", "TEE", "HOODIE", "JACKET", "CHINO", "JEANS", "DRESS", "SKIRT", "SHIRT", "BLAZER")
CUSTOMERS = ("Nordic Apparel", "Urban Outfitters", "Coastal Retail", "Alpine Wear", "Metro Stores")
SEARCHES = ("POLO", "JEANS", "MO-000", "Nordic", "Urban", "HOODIE-0", "Retail", "DRESS")
_MO_FIELDS = ("id", "number", "status", "quantity")
IMPORT_COLUMNS = ("mo_number", "department", "quantity", "note")
DEPARTMENTS = ("cutting", "sewing", "finishing")
BAD_CELLS = (
    ("department", "knitting"),
    ("quantity", "0"),
    ("quantity", "ten"),
    ("mo_number", "NO-SUCH-ORDER"),
)


def report_body() -> dict[str, str]:
    """A production report over the last month, grouped one of the three ways."""
    today = dt.datetime.now(dt.UTC).date()
    return {
        "from": (today - dt.timedelta(days=30)).isoformat(),
        "to": today.isoformat(),
        "group_by": random.choice(("department", "day", "style")),
    }


class PpicPlanner(ShopFloorUser):
    """PPIC planner: lists and searches manufacturing orders, opens one, plans new orders, runs the report."""

    role_key = "ppic"
    wait_time = between(5, 15)  # reading an order or a report before the next click
    rbac_probes = (
        Probe("list_users"),
        Probe("list_receipts"),
        Probe("record_cutting", json={"work_order_id": 0, "quantity": 1}),
        Probe("submit_qc_result", {"id": 0}, json={"passed": True, "defects": 0}),
    )

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.order_ids: list[Any] = []  # orders seen on lists (to open one)
        self.skus: list[str] = []  # finished-goods SKUs a new order can produce

    def on_start(self) -> None:
        """Log in, then look up the finished-goods catalogue once."""
        super().on_start()
        body = self.call("list_stock", params={"q": "FG-", "page_size": 50}, required=("items",))
        if body is not None:
            self.skus = [
                s["sku"] for s in body["items"] if isinstance(s, dict) and isinstance(s.get("sku"), str)
            ]

    def _remember(self, body: dict[str, Any] | None) -> None:
        if body is not None:
            ids = item_ids(body)
            self.order_ids = (ids + self.order_ids)[:100]

    @task(8)
    def list_orders(self) -> None:
        """Page through the manufacturing orders, sometimes filtered by status."""
        params: dict[str, Any] = {"page": random.randint(1, 5), "page_size": 50}
        if random.random() < 0.5:
            params["status"] = random.choice(("planned", "in_progress", "completed"))
        self._remember(self.call("list_orders", params=params, required=("items", "total")))

    @task(5)
    def search_orders(self) -> None:
        """Search orders by number, style or customer."""
        self._remember(
            self.call(
                "list_orders",
                params={"q": random.choice(SEARCHES), "page_size": 50},
                required=("items", "total"),
            )
        )

    @task(3)
    def open_order(self) -> None:
        """Open one order with its work orders."""
        if not self.order_ids:
            self.list_orders()
        if self.order_ids:
            self.call(
                "get_order", path={"id": random.choice(self.order_ids)}, required=(*_MO_FIELDS, "work_orders")
            )

    @task(3)
    def plan_order(self) -> None:
        """Plan a new manufacturing order (it starts as an open cutting work order)."""
        due = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=random.randint(14, 60))
        order: dict[str, Any] = {
            "style": f"{random.choice(STYLES)}-{random.randint(0, 99):03d}",
            "quantity": random.randint(4, 30) * 10,
            "due_date": due.isoformat(),
            "customer": random.choice(CUSTOMERS),
        }
        if self.skus:
            order["product_sku"] = random.choice(self.skus)
        body = self.call("create_order", json=order, expect=(201,), required=(*_MO_FIELDS, "work_orders"))
        if body is not None:
            self.order_ids.insert(0, body["id"])

    @task(1)
    def production_report(self) -> None:
        """Run the production report for the last month."""
        self.call("production_report", json=report_body(), required=("rows", "totals", "group_by"))

    import_rows = 50  # a week's plan from the planning spreadsheet
    import_share = 0.3  # of the `import_plan` turns that upload: a few imports an hour at this think time

    @task(1)
    def import_plan(self) -> None:
        """A few times an hour: import a plan of work orders from CSV (sometimes with rows the ERP must refuse)."""
        if random.random() < self.import_share:
            import_work_orders(self, self.import_rows)


class PlanImporter(ErpUser):
    """Planner loading plans (profile `reports`): 1,000-row work-order CSV imports, now and then with bad rows."""

    role_key = "ppic"
    wait_time = between(3, 8)  # preparing the next file

    @task
    def import_plan(self) -> None:
        """Import 1,000 work orders; one file in four carries three bad rows, which the 422 must name."""
        import_work_orders(self, 1000, bad=3 if random.random() < 0.25 else 0)


def import_work_orders(user: ErpUser, rows: int, bad: int | None = None) -> None:
    """Upload `rows` work orders for orders in progress; `bad` rows made invalid on purpose (None: 1 file in 10)."""
    body = user.call("list_orders", params={"status": "in_progress", "page_size": 50}, required=("items",))
    numbers = [o["number"] for o in (body or {}).get("items", []) if isinstance(o, dict) and o.get("number")]
    if not numbers:
        return
    lines = [
        [random.choice(numbers), random.choice(DEPARTMENTS), random.randint(1, 30) * 10, "imported plan"]
        for _ in range(rows)
    ]
    if bad is None:
        bad = random.choice((1, 2)) if random.random() < 0.1 else 0
    spoiled = random.sample(range(rows), min(bad, rows))
    for i in spoiled:
        column, value = random.choice(BAD_CELLS)
        lines[i][IMPORT_COLUMNS.index(column)] = value
    import_csv(user, "import_work_orders", IMPORT_COLUMNS, lines, bad_rows=[i + 2 for i in spoiled])
