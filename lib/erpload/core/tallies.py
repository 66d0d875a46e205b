"""Correctness tallies of one Environment (pure): RBAC violations, 409 conflicts, sessions, the stock ledger.

Role users count into `tallies_for(self.environment)`; the plugin ships `snapshot()` to the master
with every worker report (`erpload.locust.exchange.CumulativeTallies`) and the master sums them.
One `Tallies` per Environment, so two environments in one process (tests; master and workers
in-process) never mix their counts. Nothing here imports locust.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from typing import Any

ATTR = "erpload_tallies"  # where `tallies_for` keeps an Environment's Tallies


class Tallies:
    """Cumulative correctness counters of one Environment (reset at each test start)."""

    def __init__(self) -> None:
        self.violations: Counter[str] = Counter()  # role key -> 2xx answers to RBAC probes
        self.conflicts: Counter[str] = Counter()  # "METHOD name" -> 409s taken as the business outcome
        self.sessions: Counter[str] = Counter()  # login, renew, relogin_401, login_failed, task_errors
        self.unavailable: set[str] = set()  # role keys without accounts (logged once per Environment)
        self._ledger: dict[str, list[int]] = {}  # sku -> [adjust delta, adjusts, received qty, receipts]
        self._pending: dict[str, dict[str, int]] = {}  # sku -> {idempotency key: delta} not yet confirmed
        self.hot_skus: tuple[str, ...] = ()  # profile `hot_skus:`: stock adjusts pick from these only

    def reset(self) -> None:
        """Forget every count (test start). The hot pool is set per run and the unavailable roles stay."""
        for tally in (self.violations, self.conflicts, self.sessions, self._ledger, self._pending):
            tally.clear()

    def snapshot(self) -> dict[str, Any]:
        """Plain copies of every count, as workers ship them: rbac_violations, conflicts, sessions, ledger."""
        return {
            "rbac_violations": dict(self.violations),
            "conflicts": dict(self.conflicts),
            "sessions": dict(self.sessions),
            "ledger": self.stock_ledger(),
        }

    def stock_ledger(self) -> dict[str, dict[str, Any]]:
        """Confirmed stock changes per SKU: adjust delta/count, received quantity/receipts, unconfirmed."""
        return {
            sku: {
                "delta": v[0],
                "count": v[1],
                "received": v[2],
                "receipts": v[3],
                "pending": dict(self._pending.get(sku, {})),
            }
            for sku, v in self._ledger.items()
        }

    def record_stock(self, sku: str, delta: int = 0, received: int = 0) -> None:
        """Add one confirmed adjustment (`delta`) or receipt (`received`) to the ledger."""
        entry = self._ledger.setdefault(sku, [0, 0, 0, 0])
        if delta:
            entry[0] += delta
            entry[1] += 1
        if received:
            entry[2] += received
            entry[3] += 1

    def begin_adjust(self, sku: str, key: str, delta: int) -> None:
        """An adjustment is about to be sent: until `end_adjust`, it may or may not apply (keys are unique)."""
        self._ledger.setdefault(sku, [0, 0, 0, 0])
        self._pending.setdefault(sku, {})[key] = delta

    def end_adjust(self, sku: str, key: str) -> None:
        """The target answered definitely (confirmed, or refused with a 4xx): the outcome is known."""
        self._pending.get(sku, {}).pop(key, None)

    def set_hot_skus(self, skus: Iterable[str]) -> None:
        """Confine stock adjustments to this small pool (collisions on purpose); empty: no pool."""
        self.hot_skus = tuple(skus)

    def pick_hot_sku(self) -> str | None:
        """A random SKU of the hot pool, or None when there is no pool."""
        return random.choice(self.hot_skus) if self.hot_skus else None


def tallies_for(environment: Any) -> Tallies:
    """The Tallies of `environment` (a Locust Environment), created on first use as `environment.erpload_tallies`."""
    tallies = getattr(environment, ATTR, None)
    if not isinstance(tallies, Tallies):
        tallies = Tallies()
        setattr(environment, ATTR, tallies)
    return tallies
