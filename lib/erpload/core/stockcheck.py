"""The lost / duplicated stock-update check (pure): one SKU's verdict and the run's stock report.

Per hot SKU the target's final stock must equal
    initial + sum(confirmed adjust deltas) + sum(received quantities);
adjustments still unanswered when the run stopped may or may not have applied, so a difference equal
to a subset sum of their deltas is consistent. Below that the target lost updates, above it it applied
some twice. `erpload.locust.correctness` fetches the stock and the workers' ledgers and calls these.

The subset sums are exact however many adjustments went unanswered (an outage leaves dozens): a
bitset of reachable sums, one shift per delta. Only a span of sums beyond MAX_SUM_SPAN (deltas of
millions) falls back to accepting anything between the extremes.

`lost_updates` / `duplicated_updates` count the SKUs affected (the SLA metrics, "== 0" is the rule);
`lost_units` / `duplicated_units` say how much stock went missing or appeared beside them, and
`lost_skus` / `duplicated_skus` name the SKUs (worst first): "2 SKUs" alone hides 139 lost units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_SUM_SPAN = 10_000_000  # bits of the reachable-sums bitset; beyond, the whole range is accepted
MAX_NAMED_SKUS = 20  # SKUs named in lost_skus / duplicated_skus (per_sku has every row)


def reachable(pending: Sequence[int], diff: int) -> tuple[bool, int, int]:
    """(whether some subset of `pending` sums to `diff`, the smallest sum, the largest sum)."""
    lo, hi = sum(p for p in pending if p < 0), sum(p for p in pending if p > 0)
    if not lo <= diff <= hi:
        return False, lo, hi
    if hi - lo > MAX_SUM_SPAN:
        return True, lo, hi
    bits = 1 << -lo  # bit i: the sum lo + i is reachable; the empty subset sums to 0
    for p in pending:
        bits |= bits << p if p > 0 else bits >> -p
    return bool((bits >> (diff - lo)) & 1), lo, hi


def stock_verdict(sku: str, initial: int, final: int, ledger: dict[str, Any]) -> dict[str, Any]:
    """One SKU: expected vs actual and the classification ok / lost / duplicated (pure)."""
    delta, received = int(ledger.get("delta", 0)), int(ledger.get("received", 0))
    pending = [int(v) for v in (ledger.get("pending") or {}).values()]
    expected = initial + delta + received
    diff = final - expected
    consistent, lo, hi = reachable(pending, diff)
    if consistent:
        status = "ok"
    elif diff < lo:
        status = "lost"
    elif diff > hi:
        status = "duplicated"
    else:  # inside the range but no subset of the unanswered adjustments explains it
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
    lost = sorted((r for r in rows if r["status"] == "lost"), key=lambda r: r["difference"])
    dup = sorted((r for r in rows if r["status"] == "duplicated"), key=lambda r: -r["difference"])
    lost_units = -sum(r["difference"] for r in lost)
    dup_units = sum(r["difference"] for r in dup)
    return {
        "checked": True,
        "skus": len(rows),
        "lost_updates": len(lost),  # SKUs with lost updates (the SLA metric)
        "lost_units": lost_units,
        "lost_skus": [r["sku"] for r in lost[:MAX_NAMED_SKUS]],
        "duplicated_updates": len(dup),  # SKUs with duplicated updates (the SLA metric)
        "duplicated_units": dup_units,
        "duplicated_skus": [r["sku"] for r in dup[:MAX_NAMED_SKUS]],
        "missing_units": lost_units,  # the older names of lost_units / duplicated_units
        "surplus_units": dup_units,
        "confirmed_adjustments": sum(r["adjustments"] for r in rows),
        "per_sku": list(rows),
    }


def units_note(metric: str, stock: Any) -> str:
    """'139 unit(s) lost on 2 SKU(s): FAB-1 -75, FAB-2 -64' for the lost_updates / duplicated_updates metrics ('' else)."""
    kind = {"lost_updates": "lost", "duplicated_updates": "duplicated"}.get(metric)
    if kind is None or not isinstance(stock, Mapping) or not stock.get("checked"):
        return ""
    units, skus = stock.get(f"{kind}_units"), stock.get(f"{kind}_skus")
    if not isinstance(units, int) or not isinstance(skus, list):
        return ""
    count = int(stock.get(f"{kind}_updates") or 0)
    if not count:
        return f"0 units {kind} on {stock.get('skus', 0)} SKU(s)"
    diff = {r.get("sku"): r.get("difference") for r in stock.get("per_sku") or () if isinstance(r, Mapping)}
    named = ", ".join(
        f"{sku} {diff[sku]:+d}" if isinstance(diff.get(sku), int) else str(sku) for sku in skus[:5]
    )
    more = f" and {count - min(len(skus), 5)} more" if count > min(len(skus), 5) else ""
    return f"{units} unit(s) {kind} on {count} SKU(s): {named}{more}"
