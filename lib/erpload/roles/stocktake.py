"""Stock take: warehouse clerks correcting the counts of the same few items at once (lost-update check)."""

from __future__ import annotations

import random

from locust import between, task

from erpload.users.base import ErpUser

REASONS = ("stock take", "recount", "cycle count correction")
FALLBACK_SKUS = ("FAB-000001", "FAB-000002")  # without a profile `hot_skus:` pool


class StockTaker(ErpUser):
    """Warehouse clerk on a stock take: adjusts the profile's hot SKUs back to back (Idempotency-Key, ledger)."""

    role_key = "warehouse"
    wait_time = between(0.2, 1)  # scanning the next bin

    def __init__(self, environment: object) -> None:
        super().__init__(environment)
        self.seen: dict[str, int] = {}  # sku -> last quantity the target confirmed

    @task
    def recount(self) -> None:
        """Correct one hot item's quantity; a lower count only when there is plenty (never below zero)."""
        sku = self.tallies.pick_hot_sku() or random.choice(FALLBACK_SKUS)
        delta = (
            -random.randint(1, 5)
            if self.seen.get(sku, 0) > 100 and random.random() < 0.3
            else random.randint(1, 20)
        )
        body = self.adjust_stock(sku, delta, random.choice(REASONS))
        if body is not None and isinstance(body["quantity"], int):
            self.seen[sku] = body["quantity"]
