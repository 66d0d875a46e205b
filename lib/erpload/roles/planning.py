"""Production planning (PPIC): planners browse and search manufacturing orders, plan new ones, run reports."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from locust import between, task

from erpload.users.checks import Probe, item_ids
from erpload.users.shopfloor import ShopFloorUser

ORDERS = "/ppic/manufacturing-orders"
ORDER = "/ppic/manufacturing-orders/[id]"
REPORT = "/reports/production"
STYLES = ("POLO", "TEE", "HOODIE", "JACKET", "CHINO", "JEANS", "DRESS", "SKIRT", "SHIRT", "BLAZER")
CUSTOMERS = ("Nordic Apparel", "Urban Outfitters", "Coastal Retail", "Alpine Wear", "Metro Stores")
SEARCHES = ("POLO", "JEANS", "MO-000", "Nordic", "Urban", "HOODIE-0", "Retail", "DRESS")
_MO_FIELDS = ("id", "number", "status", "quantity")


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
        Probe("GET", "/admin/users", "/admin/users"),
        Probe("GET", "/warehouse/receipts", "/warehouse/receipts"),
        Probe("POST", "/production/cutting", "/production/cutting", json={"work_order_id": 0, "quantity": 1}),
        Probe("POST", "/qc/tests/0/result", "/qc/tests/[id]/result", json={"passed": True, "defects": 0}),
    )

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.order_ids: list[Any] = []  # orders seen on lists (to open one)
        self.skus: list[str] = []  # finished-goods SKUs a new order can produce

    def on_start(self) -> None:
        """Log in, then look up the finished-goods catalogue once."""
        super().on_start()
        body = self.api("GET", "/warehouse/stock", params={"q": "FG-", "page_size": 50}, required=("items",))
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
        self._remember(self.api("GET", ORDERS, params=params, required=("items", "total")))

    @task(5)
    def search_orders(self) -> None:
        """Search orders by number, style or customer."""
        self._remember(
            self.api(
                "GET",
                ORDERS,
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
            self.api(
                "GET",
                f"{ORDERS}/{random.choice(self.order_ids)}",
                name=ORDER,
                required=(*_MO_FIELDS, "work_orders"),
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
        body = self.api("POST", ORDERS, json=order, expect=(201,), required=(*_MO_FIELDS, "work_orders"))
        if body is not None:
            self.order_ids.insert(0, body["id"])

    @task(1)
    def production_report(self) -> None:
        """Run the production report for the last month."""
        self.api("POST", REPORT, json=report_body(), required=("rows", "totals", "group_by"))
