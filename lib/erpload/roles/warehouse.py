"""Warehouse: clerks receive finished lots into stock, search stock, and correct quantities."""

from __future__ import annotations

import random
from typing import Any
from urllib.parse import quote

from locust import between, task

from erpload.users.checks import Probe, item_ids, pop_random
from erpload.users.shopfloor import ShopFloorUser

RECEIPTS = "/warehouse/receipts"
RECEIVE = "/warehouse/receipts/[id]/receive"
STOCK = "/warehouse/stock"
ITEM = "/warehouse/stock/[sku]"
LOCATIONS = ("WH1-A01-R01", "WH1-A02-R03", "WH2-A05-R02", "WH3-A10-R07", "WH4-A20-R10")
SEARCHES = ("FAB-00", "TRM-01", "ACC-0", "FG-000", "Denim", "Zipper", "Poly Bag", "Navy")
REASONS = (
    "cycle count",
    "damaged in storage",
    "found during audit",
    "supplier over-delivery",
    "sample pulled",
)


class WarehouseClerk(ShopFloorUser):
    """Warehouse clerk: receives pending receipts, searches and opens stock items, adjusts stock (idempotently)."""

    role_key = "warehouse"
    wait_time = between(4, 12)  # walking the aisles between screens
    rbac_probes = (
        Probe("GET", "/admin/rbac", "/admin/rbac"),
        Probe("GET", "/ppic/manufacturing-orders", "/ppic/manufacturing-orders"),
        Probe("GET", "/qc/tests", "/qc/tests"),
        Probe("POST", "/qc/tests/0/result", "/qc/tests/[id]/result", json={"passed": True, "defects": 0}),
    )

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.receipts: list[Any] = []  # pending receipt ids seen on the list
        self.stock: dict[str, int] = {}  # sku -> last quantity seen

    def on_start(self) -> None:
        """Log in, then open a page of the stock list to know some items."""
        super().on_start()
        self._learn(
            self.api(
                "GET",
                STOCK,
                params={"page": random.randint(1, 50), "page_size": 50},
                required=("items", "total"),
            )
        )

    def _learn(self, body: dict[str, Any] | None) -> None:
        if body is not None:
            for item in body["items"]:
                if (
                    isinstance(item, dict)
                    and isinstance(item.get("sku"), str)
                    and isinstance(item.get("quantity"), int)
                ):
                    self.stock[item["sku"]] = item["quantity"]
            while len(self.stock) > 200:
                self.stock.pop(next(iter(self.stock)))

    @task(4)
    def pending_receipts(self) -> None:
        """Open the list of lots waiting to be received."""
        body = self.api(
            "GET", RECEIPTS, params={"status": "pending", "page_size": 50}, required=("items", "total")
        )
        if body is not None:
            self.receipts = item_ids(body)

    @task(6)
    def receive_lot(self) -> None:
        """Receive one pending lot into a location; 409 means a colleague already did."""
        if not self.receipts:
            self.pending_receipts()
        if not self.receipts:
            return
        receipt_id = pop_random(self.receipts)
        body = self.api(
            "POST",
            f"{RECEIPTS}/{receipt_id}/receive",
            name=RECEIVE,
            ok_conflict=True,
            json={"location": random.choice(LOCATIONS)},
            required=("receipt.sku", "receipt.quantity", "stock.sku", "stock.quantity"),
        )
        if body is not None:
            receipt = body["receipt"]
            self.tallies.record_stock(receipt["sku"], received=int(receipt["quantity"]))
            self.stock[body["stock"]["sku"]] = body["stock"]["quantity"]

    @task(4)
    def search_stock(self) -> None:
        """Search stock by SKU prefix or item name."""
        self._learn(
            self.api(
                "GET",
                STOCK,
                params={"q": random.choice(SEARCHES), "page_size": 50},
                required=("items", "total"),
            )
        )

    @task(3)
    def open_item(self) -> None:
        """Open one stock item."""
        if self.stock:
            sku = random.choice(list(self.stock))
            body = self.api("GET", f"{STOCK}/{quote(sku, safe='')}", name=ITEM, required=("sku", "quantity"))
            if body is not None and isinstance(body["quantity"], int):
                self.stock[sku] = body["quantity"]

    @task(3)
    def adjust_item(self) -> None:
        """Correct an item's quantity after a count (Idempotency-Key; recorded in the stock ledger)."""
        if not self.stock:
            return
        sku = random.choice(list(self.stock))
        delta = (
            -random.randint(1, 5)
            if self.stock[sku] > 100 and random.random() < 0.3
            else random.randint(1, 20)
        )
        body = self.adjust_stock(sku, delta, random.choice(REASONS))
        if body is not None and isinstance(body["quantity"], int):
            self.stock[sku] = body["quantity"]
