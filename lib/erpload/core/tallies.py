"""Per-process correctness tallies (pure): RBAC violations, 409 conflicts, sessions, the stock ledger, hot SKUs.

Role users count here; the plugin ships `read()`-style snapshots to the master with every worker
report (`erpload.locust.exchange.CumulativeTallies`) and the master sums them. Nothing here imports locust.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable

_violations: Counter[str] = Counter()  # role key -> 2xx answers to RBAC probes
_conflicts: Counter[str] = Counter()  # "METHOD name" -> 409s taken as the normal business outcome
_sessions: Counter[str] = Counter()  # login, renew, relogin_401, login_failed, task_errors
_unavailable: set[str] = set()  # role keys without accounts (logged once)
_ledger: dict[str, list[int]] = {}  # sku -> [confirmed adjust delta, adjust count, received qty, receipts]
_pending: dict[str, dict[str, int]] = {}  # sku -> {idempotency key: delta} sent but not (yet) confirmed
_hot_skus: tuple[str, ...] = ()  # when set (profile `hot_skus:`), stock adjusts pick from these only


def rbac_violations() -> dict[str, int]:
    """RBAC probes answered 2xx, per role key, in this process."""
    return dict(_violations)


def conflicts() -> dict[str, int]:
    """409 answers counted as business outcomes (e.g. a work order claimed by someone else), per request."""
    return dict(_conflicts)


def session_counts() -> dict[str, int]:
    """Logins, token renewals (expiry / 401), failed logins and suite-side task errors in this process."""
    return dict(_sessions)


def stock_ledger() -> dict[str, dict[str, int]]:
    """Confirmed stock changes per SKU in this process: adjust delta/count, received quantity/receipts, unconfirmed."""
    return {
        sku: {
            "delta": v[0],
            "count": v[1],
            "received": v[2],
            "receipts": v[3],
            "pending": dict(_pending.get(sku, {})),
        }
        for sku, v in _ledger.items()
    }


def record_stock(sku: str, delta: int = 0, received: int = 0) -> None:
    """Add one confirmed adjustment (`delta`) or receipt (`received`) to the ledger."""
    entry = _ledger.setdefault(sku, [0, 0, 0, 0])
    if delta:
        entry[0] += delta
        entry[1] += 1
    if received:
        entry[2] += received
        entry[3] += 1


def begin_adjust(sku: str, key: str, delta: int) -> None:
    """An adjustment is about to be sent: until `end_adjust`, it may or may not apply (keys are unique)."""
    _ledger.setdefault(sku, [0, 0, 0, 0])
    _pending.setdefault(sku, {})[key] = delta


def end_adjust(sku: str, key: str) -> None:
    """The target answered definitely (confirmed, or refused with a 4xx): the outcome is known."""
    _pending.get(sku, {}).pop(key, None)


def set_hot_skus(skus: Iterable[str]) -> None:
    """Confine stock adjustments to this small pool (collisions on purpose); empty: no pool."""
    global _hot_skus
    _hot_skus = tuple(skus)


def hot_skus() -> tuple[str, ...]:
    """The hot-SKU pool of the current run (empty when the profile sets none)."""
    return _hot_skus


def pick_hot_sku() -> str | None:
    """A random SKU of the hot pool, or None when there is no pool."""
    return random.choice(_hot_skus) if _hot_skus else None


def reset_tallies() -> None:
    """Forget every tally (tests; the plugin at test start). The hot pool is set per run, not reset here."""
    for tally in (_violations, _conflicts, _sessions, _ledger, _pending):
        tally.clear()
