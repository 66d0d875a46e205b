"""The correctness part of summary.md and report.html, from summary.json's free-form `correctness` (pure).

Shows what `erpload.locust.correctness` recorded: the lost / duplicated stock-update check with per-SKU
evidence (the SKUs that failed first, capped at MAX_SKU_ROWS; units lost beside the SKUs), RBAC
violations per role, recovery episodes after scheduled faults, and the WebSocket figures (the
"WS ..." request rows, plus a `websocket` mapping if one is ever recorded). A part appears only when
its check ran (`parts`): no RBAC part without probes, no Recovery part without a fault plan or a
`recovery_s` rule, nothing at all without correctness data. The HTML is `correctness_html`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from erpload.core.stockcheck import units_note
from erpload.core.units import fmt_num, fmt_value
from erpload.report.summary import EndpointSummary

MAX_SKU_ROWS = 50  # per-SKU evidence rows shown; summary.json has them all
MAX_ROWS = 50  # other tables (roles, episodes, faults)
STOCK_HEADER = [
    "sku",
    "status",
    "initial",
    "confirmed delta",
    "received",
    "expected",
    "final",
    "difference",
    "adjustments",
    "unanswered",
]
RBAC_HEADER = ["role", "violations"]
RECOVERY_HEADER = ["from (s)", "first failure (s)", "recovered at (s)", "recovery", "failures"]
FAULT_HEADER = ["fault", "action", "at (s)", "duration (s)", "applied", "error"]
WS_HEADER = ["request", "count", "fail", "p50", "p95", "p99", "max"]

Table = Callable[[list[str], Iterable[Sequence[object]]], list[str]]


def _n(value: Any) -> str:
    """A number for a cell ('–' when absent)."""
    if value is None or isinstance(value, bool):
        return "–" if value is None else str(value)
    return fmt_num(value) if isinstance(value, float) else str(value)


def _recovery(value: Any, recovered: Any = True) -> str:
    """'4 s', or 'not recovered' for None/inf (JSON stores infinity as null)."""
    if recovered is False or value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "not recovered"
    return fmt_value("duration", float(value))


def parts(correctness: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """The parts whose check ran: {'stock': ..., 'rbac': ..., 'recovery': ...} (absent when it did not run)."""
    correctness = correctness or {}
    out: dict[str, Mapping[str, Any]] = {}
    stock = correctness.get("stock")
    if isinstance(stock, Mapping) and stock:
        out["stock"] = stock
    violations = correctness.get("rbac_violations")
    probes = correctness.get("rbac_probes")
    if isinstance(violations, Mapping) and (violations or (isinstance(probes, int) and probes > 0)):
        out["rbac"] = {"probes": probes, "violations": violations}
    rec = correctness.get("recovery")
    if isinstance(rec, Mapping) and (rec.get("episodes") or rec.get("faults")):
        out["recovery"] = rec
    return out


def has_data(correctness: Mapping[str, Any] | None, ws: Sequence[EndpointSummary] = ()) -> bool:
    """True when there is something to show."""
    return bool(ws or parts(correctness) or (correctness or {}).get("websocket"))


def rbac_line(rbac: Mapping[str, Any]) -> str:
    """'120 probe(s) sent; 3 answered 2xx instead of 403.'"""
    violations = rbac.get("violations") or {}
    total = sum(int(v or 0) for v in violations.values())
    probes = rbac.get("probes")
    sent = f"{probes} probe(s) sent; " if isinstance(probes, int) else ""
    return f"{sent}{total} probe(s) answered 2xx instead of 403."


def ws_requests(requests: Iterable[EndpointSummary]) -> list[EndpointSummary]:
    """The WebSocket rows of the request stats (method "WS", erpload.users.ws)."""
    return [e for e in requests if e.method == "WS"]


def stock_line(stock: Mapping[str, Any]) -> str:
    """One sentence on the stock check: SKUs affected with the units lost / duplicated beside them."""
    if not stock.get("checked"):
        return f"Stock check not done: {stock.get('error') or 'unknown reason'}"
    found = [units_note(m, dict(stock)) for m in ("lost_updates", "duplicated_updates") if stock.get(m)]
    head = "; ".join(n for n in found if n) or (
        f"{_n(stock.get('lost_updates'))} lost and {_n(stock.get('duplicated_updates'))} duplicated update(s)"
    )
    return (
        f"{head} (of {_n(stock.get('skus'))} hot SKU(s); "
        f"{_n(stock.get('confirmed_adjustments'))} confirmed adjustments)"
    )


def stock_rows(stock: Mapping[str, Any]) -> tuple[list[list[str]], int]:
    """Per-SKU evidence, failing SKUs first, cut to MAX_SKU_ROWS; and how many rows there were."""
    per_sku = [r for r in stock.get("per_sku") or () if isinstance(r, Mapping)]
    ordered = sorted(per_sku, key=lambda r: r.get("status") == "ok")  # stable: lost/duplicated first
    keys = [
        "sku",
        "status",
        "initial",
        "confirmed_delta",
        "received",
        "expected",
        "final",
        "difference",
        "adjustments",
        "unanswered",
    ]
    return [[_n(r.get(k)) for k in keys] for r in ordered[:MAX_SKU_ROWS]], len(per_sku)


def rbac_rows(violations: Mapping[str, Any]) -> list[list[str]]:
    """Roles with their violation counts, most first."""
    items = sorted(violations.items(), key=lambda kv: (-int(kv[1] or 0), str(kv[0])))
    return [[str(role), _n(n)] for role, n in items[:MAX_ROWS]]


def recovery_rows(recovery: Mapping[str, Any]) -> list[list[str]]:
    """One row per episode (from each applied fault, or the run start)."""
    return [
        [
            _n(e.get("from_s")),
            _n(e.get("first_failure_s")),
            _n(e.get("recovered_s")),
            _recovery(e.get("recovery_s"), e.get("recovered")),
            _n(e.get("failures")),
        ]
        for e in (recovery.get("episodes") or [])[:MAX_ROWS]
        if isinstance(e, Mapping)
    ]


def fault_rows(recovery: Mapping[str, Any]) -> list[list[str]]:
    """One row per scheduled fault as applied (or not)."""
    return [
        [
            str(f.get("fault") or ""),
            str(f.get("action") or ""),
            _n(f.get("at_s")),
            _n(f.get("duration_s")),
            "yes" if f.get("ok") else "NO",
            str(f.get("error") or ""),
        ]
        for f in (recovery.get("faults") or [])[:MAX_ROWS]
        if isinstance(f, Mapping)
    ]


def ws_rows(ws: Sequence[EndpointSummary]) -> list[list[str]]:
    """WebSocket connect / event latency / broadcast rows."""

    def ms(v: float | None) -> str:
        return "–" if v is None else fmt_value("latency", v)

    return [
        [e.name, str(e.count), str(e.failures), ms(e.p50), ms(e.p95), ms(e.p99), ms(e.max)]
        for e in ws[:MAX_ROWS]
    ]


def recovery_line(recovery: Mapping[str, Any]) -> str:
    """One sentence on the worst recovery episode and what "recovered" means."""
    worst = _recovery(recovery.get("recovery_s"))
    return (
        f"Recovery (worst episode): {worst} — recovered = {_n(recovery.get('sustain_s'))} s in a row "
        f"under {fmt_value('rate', float(recovery.get('max_error_rate') or 0))} errors"
    )


def ws_extra(correctness: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(figure, value) rows of a recorded `websocket` mapping, if any."""
    ws = correctness.get("websocket")
    return [(str(k), _n(v)) for k, v in list(ws.items())[:MAX_ROWS]] if isinstance(ws, Mapping) else []


def markdown_lines(
    correctness: Mapping[str, Any] | None,
    table: Table,
    cell: Callable[[object], str],
    requests: Iterable[EndpointSummary] = (),
) -> list[str]:
    """'## Correctness' with its tables; `table(header, rows)` and `cell(text)` are the report's escaping helpers."""
    correctness = correctness or {}
    ws = ws_requests(requests)
    if not has_data(correctness, ws):
        return []
    out = ["## Correctness", ""]
    ran = parts(correctness)
    stock = ran.get("stock")
    if stock is not None:
        out += ["### Stock updates", "", cell(stock_line(stock)), ""]
        rows, total = stock_rows(stock)
        if rows:
            if total > len(rows):
                out += [f"_Showing {len(rows)} of {total} SKUs (failing first); summary.json has all._", ""]
            out += [*table(STOCK_HEADER, rows), ""]
    rbac = ran.get("rbac")
    if rbac is not None:
        out += ["### RBAC violations", "", cell(rbac_line(rbac)), ""]
        if rbac["violations"]:
            out += [*table(RBAC_HEADER, rbac_rows(rbac["violations"])), ""]
    recovery = ran.get("recovery")
    if recovery is not None:
        out += ["### Recovery", "", cell(recovery_line(recovery)), ""]
        if recovery.get("faults"):
            out += [*table(FAULT_HEADER, fault_rows(recovery)), ""]
        if recovery.get("episodes"):
            out += [*table(RECOVERY_HEADER, recovery_rows(recovery)), ""]
    extra = ws_extra(correctness)
    if ws or extra:
        out += ["### WebSocket", ""]
        if ws:
            out += [*table(WS_HEADER, ws_rows(ws)), ""]
        if extra:
            out += [*table(["figure", "value"], extra), ""]
    return out
