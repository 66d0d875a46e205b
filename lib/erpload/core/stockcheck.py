"""The lost / duplicated stock-update check (pure): one SKU's verdict and the run's stock report.

Per hot SKU the target's final stock must equal
    initial + sum(confirmed adjust deltas) + sum(received quantities);
adjustments still unanswered when the run stopped may or may not have applied, so a difference equal
to a subset sum of their deltas is consistent. Below that the target lost updates, above it it applied
some twice. `erpload.locust.correctness` fetches the stock and the workers' ledgers and calls these.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

MAX_PENDING_EXACT = 12  # subset sums of more unanswered adjustments than this are not enumerated


def stock_verdict(sku: str, initial: int, final: int, ledger: dict[str, Any]) -> dict[str, Any]:
    """One SKU: expected vs actual and the classification ok / lost / duplicated (pure)."""
    delta, received = int(ledger.get("delta", 0)), int(ledger.get("received", 0))
    pending = [int(v) for v in (ledger.get("pending") or {}).values()]
    expected = initial + delta + received
    diff = final - expected
    if len(pending) <= MAX_PENDING_EXACT:
        possible = {sum(c) for r in range(len(pending) + 1) for c in itertools.combinations(pending, r)}
    else:  # too many to enumerate: anything between the extremes is accepted
        lo, hi = sum(p for p in pending if p < 0), sum(p for p in pending if p > 0)
        possible = set(range(lo, hi + 1))
    if diff in possible:
        status = "ok"
    elif diff < min(possible):
        status = "lost"
    elif diff > max(possible):
        status = "duplicated"
    else:
        status = "lost" if diff < 0 else "duplicated"
    return {
        "sku": sku,
        "status": status,
        "initial": initial,
        "final": final,
        "expected": expected,
        "difference": diff,
        "confirmed_delta": delta,
        "adjustments": int(ledger.get("count", 0)),
        "received": received,
        "receipts": int(ledger.get("receipts", 0)),
        "unanswered": len(pending),
    }


def stock_report(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The summary's `correctness.stock` from the per-SKU verdicts (`stock_verdict` rows, kept as evidence)."""
    lost = [r for r in rows if r["status"] == "lost"]
    dup = [r for r in rows if r["status"] == "duplicated"]
    return {
        "checked": True,
        "skus": len(rows),
        "lost_updates": len(lost),
        "duplicated_updates": len(dup),
        "missing_units": -sum(r["difference"] for r in lost),
        "surplus_units": sum(r["difference"] for r in dup),
        "confirmed_adjustments": sum(r["adjustments"] for r in rows),
        "per_sku": list(rows),
    }
