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
        # "METHOD name" -> count, bytes, rows, seconds of complete exports / imports (erpload.users.exports)
        self.transfers: dict[str, dict[str, float]] = {}
        self.ws: Counter[str] = Counter()  # WebSocket order/loss counts (erpload.core.wsorder)

    def reset(self) -> None:
        """Forget every count (test start). The hot pool is set per run and the unavailable roles stay."""
        for tally in (self.violations, self.conflicts, self.sessions, self._ledger, self._pending, self.ws):
            tally.clear()
        self.transfers.clear()

    def snapshot(self) -> dict[str, Any]:
        """Plain copies of every count, as workers ship them: rbac_violations, conflicts, sessions, ledger."""
        return {
            "rbac_violations": dict(self.violations),
            "conflicts": dict(self.conflicts),
            "sessions": dict(self.sessions),
            "ledger": self.stock_ledger(),
            "transfers": {k: dict(v) for k, v in self.transfers.items()},
            "ws": dict(self.ws),
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

    def record_transfer(self, key: str, nbytes: int, rows: int, seconds: float) -> None:
        """One complete export download or import upload: body bytes, CSV rows, seconds to the last byte."""
        entry = self.transfers.setdefault(key, {"count": 0, "bytes": 0, "rows": 0, "seconds": 0.0})
        entry["count"] += 1
        entry["bytes"] += nbytes
        entry["rows"] += rows
        entry["seconds"] += seconds

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


def transfer_rates(transfers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """summary.json `load.transfers`: summed transfers per request plus bytes_per_s and rows_per_s."""
    out = {}
    for key, t in sorted(transfers.items()):
        secs = float(t.get("seconds", 0.0))
        out[key] = {
            "count": int(t.get("count", 0)),
            "bytes": int(t.get("bytes", 0)),
            "rows": int(t.get("rows", 0)),
            "seconds": round(secs, 3),
            "bytes_per_s": round(t.get("bytes", 0) / secs, 1) if secs > 0 else None,
            "rows_per_s": round(t.get("rows", 0) / secs, 1) if secs > 0 else None,
        }
    return out


def tallies_for(environment: Any) -> Tallies:
    """The Tallies of `environment` (a Locust Environment), created on first use as `environment.erpload_tallies`."""
    tallies = getattr(environment, ATTR, None)
    if not isinstance(tallies, Tallies):
        tallies = Tallies()
        setattr(environment, ATTR, tallies)
    return tallies
