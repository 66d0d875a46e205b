"""The correctness section of report.html, from summary.json's free-form `correctness` (pure).

The same parts as summary.md (`correctness_report.parts`: a part only when its check ran). Every
string from the target, a profile or a user is passed through `html.escape`.

Stable hooks for browser tests: `#correctness`, `#stock-table`, `#rbac-table`, `#recovery-table`,
`#faults-table`, `#ws-table`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from html import escape
from typing import Any

from erpload.report.correctness_report import (
    FAULT_HEADER,
    RBAC_HEADER,
    RECOVERY_HEADER,
    STOCK_HEADER,
    WS_HEADER,
    fault_rows,
    has_data,
    parts,
    rbac_line,
    rbac_rows,
    recovery_line,
    recovery_rows,
    stock_line,
    stock_rows,
    ws_extra,
    ws_requests,
    ws_rows,
)
from erpload.report.model import EndpointSummary


def _html_table(
    table_id: str,
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    row_class: Callable[[Sequence[str]], str] = lambda r: "",
) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for r in rows:
        cls = row_class(r)
        tds = "".join(f"<td>{escape(c)}</td>" for c in r)
        body.append(f'<tr class="{escape(cls)}">{tds}</tr>' if cls else f"<tr>{tds}</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _stock(stock: Mapping[str, Any]) -> list[str]:
    out = [f'<h3>Stock updates</h3><p class="note">{escape(stock_line(stock))}</p>']
    rows, total = stock_rows(stock)
    if rows:
        if total > len(rows):
            out.append(
                f'<p class="note">Showing {len(rows)} of {total} SKUs (failing first); summary.json has all.</p>'
            )
        table = _html_table("stock-table", STOCK_HEADER, rows, lambda r: "" if r[1] == "ok" else "fail")
        out.append(f'<div class="scroll">{table}</div>')
    return out


def _rbac(rbac: Mapping[str, Any]) -> list[str]:
    out = [f"<h3>RBAC violations</h3><p>{escape(rbac_line(rbac))}</p>"]
    if rbac["violations"]:
        rows = rbac_rows(rbac["violations"])
        out.append(
            _html_table("rbac-table", RBAC_HEADER, rows, lambda r: "fail" if r[1] not in ("0", "–") else "")
        )
    return out


def _recovery(recovery: Mapping[str, Any]) -> list[str]:
    out = [f"<h3>Recovery</h3><p>{escape(recovery_line(recovery))}</p>"]
    if recovery.get("faults"):
        rows = fault_rows(recovery)
        out.append(_html_table("faults-table", FAULT_HEADER, rows, lambda r: "" if r[4] == "yes" else "fail"))
    if recovery.get("episodes"):
        rows = recovery_rows(recovery)
        out.append(
            _html_table(
                "recovery-table", RECOVERY_HEADER, rows, lambda r: "fail" if r[3] == "not recovered" else ""
            )
        )
    return out


def html_section(correctness: Mapping[str, Any] | None, requests: Iterable[EndpointSummary] = ()) -> str:
    """<section id="correctness">: stock check, RBAC violations, recovery, WebSocket ('' without data)."""
    correctness = correctness or {}
    ws = ws_requests(requests)
    if not has_data(correctness, ws):
        return ""
    out = ['<section id="correctness"><h2>Correctness</h2>']
    ran = parts(correctness)
    if "stock" in ran:
        out += _stock(ran["stock"])
    if "rbac" in ran:
        out += _rbac(ran["rbac"])
    if "recovery" in ran:
        out += _recovery(ran["recovery"])
    extra = ws_extra(correctness)
    if ws or extra:
        out.append("<h3>WebSocket</h3>")
        if ws:
            out.append(_html_table("ws-table", WS_HEADER, ws_rows(ws)))
        if extra:
            out.append(_html_table("ws-figures", ["figure", "value"], [list(x) for x in extra]))
    out.append("</section>")
    return "".join(out)
