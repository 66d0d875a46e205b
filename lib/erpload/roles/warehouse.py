"""Warehouse: clerks receive finished lots into stock, search stock, and correct quantities."""

from __future__ import annotations

import random
from typing import Any

from locust import between, task

from erpload.users.base import ErpUser
from erpload.users.checks import Probe, item_ids, pop_random
from erpload.users.exports import bulk_adjust, download
from erpload.users.shopfloor import ShopFloorUser

LOCATIONS = ("WH1-A01-R01", "WH1-A02-R03", "WH2-A05-R02", "WH3-A10-R07", "WH4-A20-R10")
SEARCHES = ("FAB-00", "TRM-01", "ACC-0", "FG-000", "Denim", "Zipper", "Poly Bag", "Navy")
STOCK_COLUMNS = ("sku", "name", "quantity", "location", "updated_at")
EXPORT_ROWS = 10_000  # the roadmap's export size (< 2 s for 10,000 rows)
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
        Probe("rbac_matrix"),
        Probe("list_orders"),
        Probe("list_qc_tests"),
        Probe("submit_qc_result", {"id": 0}, json={"passed": True, "defects": 0}),
    )

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.receipts: list[Any] = []  # pending receipt ids seen on the list
        self.stock: dict[str, int] = {}  # sku -> last quantity seen

    def on_start(self) -> None:
        """Log in, then open a page of the stock list to know some items."""
        super().on_start()
        self._learn(
            self.call(
                "list_stock",
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
        body = self.call(
            "list_receipts", params={"status": "pending", "page_size": 50}, required=("items", "total")
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
        body = self.call(
            "receive_receipt",
            path={"id": receipt_id},
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
            self.call(
                "list_stock",
                params={"q": random.choice(SEARCHES), "page_size": 50},
                required=("items", "total"),
            )
        )

    @task(3)
    def open_item(self) -> None:
        """Open one stock item."""
        if self.stock:
            sku = random.choice(list(self.stock))
            body = self.call("get_stock", path={"sku": sku}, required=("sku", "quantity"))
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

    export_share = 0.3  # of the `export_or_bulk` turns that act: a few exports / bulk corrections an hour

    @task(1)
    def export_or_bulk(self) -> None:
        """A few times an hour: correct several counted items at once (bulk adjustment).

        The 10,000-row stock export belongs to `StockController` (profile `reports`): like the
        year-long audit export, it would be in flight whenever a short daily-mix run stops.
        """
        if random.random() < self.export_share:
            bulk_correct(self, self.stock, random.randint(5, 20))


class StockController(ErpUser):
    """Inventory controller (profile `reports`): 10,000-row stock exports and bulk count corrections."""

    role_key = "warehouse"
    wait_time = between(3, 8)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.stock: dict[str, int] = {}

    @task(2)
    def export(self) -> None:
        """Export 10,000 stock rows to CSV."""
        export_stock(self)

    @task(1)
    def bulk(self) -> None:
        """Correct 50 counted items in one request (booked in the stock ledger, entry by entry)."""
        if len(self.stock) < 50:
            body = self.call(
                "list_stock",
                params={"page": random.randint(1, 200), "page_size": 200},
                required=("items",),
            )
            for item in (body or {}).get("items", []):
                if isinstance(item, dict) and isinstance(item.get("quantity"), int):
                    self.stock[str(item.get("sku"))] = item["quantity"]
        bulk_correct(self, self.stock, 50)


def export_stock(user: ErpUser) -> None:
    """Download 10,000 stock rows as CSV (timed to the last byte)."""
    download(user, "stock_export", params={"limit": EXPORT_ROWS}, header=STOCK_COLUMNS, rows=EXPORT_ROWS)


def bulk_correct(user: ErpUser, stock: dict[str, int], count: int) -> None:
    """Adjust up to `count` known items in one bulk request (small positive deltas: never below zero)."""
    hot = user.tallies.pick_hot_sku()
    skus = random.sample(list(stock), min(count, len(stock)))
    if hot is not None and hot not in skus:
        skus = [hot, *skus[1:]]
    if not skus:
        return
    body = bulk_adjust(
        user, "bulk_adjust_stock", [(s, random.randint(1, 20), random.choice(REASONS)) for s in skus]
    )
    for result in (body or {}).get("results", []):
        if isinstance(result, dict) and isinstance(result.get("quantity"), int):
            stock[str(result.get("sku"))] = result["quantity"]
