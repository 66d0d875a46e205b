"""Latency from intended start and generator loop lag in summary.md and report.html (pure).

Reads summary.json's `load.intended` (erpload.locust.intended: per endpoint timed from the send and
from the iteration's intended start; iterations started, late, dropped; lateness) and
`resources.loop_lag` (erpload.locust.looplag: per generator). Stable hooks for tests: `#intended`,
`#intended-table`, `#loop-lag`, `#loop-lag-table`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

INTENDED_HEADER = ["request", "count", "p50 send", "p50 intended", "p95 send", "p95 intended",
                   "p99 send", "p99 intended", "max send", "max intended"]  # fmt: skip
LAG_HEADER = ["generator", "ticks", "p50", "p90", "p99", "p99.9", "max", "sustained over limit"]
Table = Callable[[list[str], Sequence[Sequence[object]]], list[str]]


def _ms(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:.0f} ms" if v >= 10 else f"{v:.1f} ms"


def intended_rows(intended: Mapping[str, Any]) -> list[list[str]]:
    """One row per endpoint: both timings side by side."""
    out = []
    for e in intended.get("endpoints") or ():
        s, i = e.get("send") or {}, e.get("intended") or {}
        label = f"{e.get('method', '')} {e.get('name', '')}".strip()
        row = [label, str(e.get("count", 0))]
        for key in ("p50", "p95", "p99", "max"):
            row += [_ms(s.get(key)), _ms(i.get(key))]
        out.append(row)
    return out


def intended_line(intended: Mapping[str, Any]) -> str:
    """'1200 iterations started, 240 late (> 10 ms), 0 dropped; lateness p50 .. p99 .. max ..'."""
    it, late = intended.get("iterations") or {}, intended.get("lateness") or {}
    return (
        f"{it.get('started', 0)} iterations started, {it.get('late', 0)} late "
        f"(> {intended.get('late_threshold_ms', 10):g} ms after their intended start), "
        f"{it.get('dropped', 0)} dropped; lateness p50 {_ms(late.get('p50'))}, p95 {_ms(late.get('p95'))}, "
        f"p99 {_ms(late.get('p99'))}, max {_ms(late.get('max'))}"
    )


def lag_rows(loop_lag: Mapping[str, Any]) -> list[list[str]]:
    out = []
    for key, g in (loop_lag.get("generators") or {}).items():
        ep = g.get("episode")
        over = f"yes: p99 {_ms(ep.get('p99_ms'))} {ep.get('start_s')}–{ep.get('end_s')} s" if ep else "no"
        ms = [_ms(g.get(k)) for k in ("p50_ms", "p90_ms", "p99_ms", "p99_9_ms", "max_ms")]
        out.append([str(key), str(g.get("samples", 0)), *ms, over])
    return out


def _lag_title(loop_lag: Mapping[str, Any]) -> str:
    return (
        f"Generator event-loop lag (limit: p99 over {loop_lag.get('window_s', 30):g} s "
        f"> {loop_lag.get('limit_ms', 50):g} ms is INVALID)"
    )


def markdown_lines(
    load: Mapping[str, Any] | None, resources: Mapping[str, Any] | None, table: Table
) -> list[str]:
    """'## Latency from intended start' and '## Generator event-loop lag' (when measured)."""
    out: list[str] = []
    intended = (load or {}).get("intended")
    if intended:
        out += ["## Latency from intended start (open model)", "", intended_line(intended), ""]
        out += ["*send*: Locust's response time, from the send; *intended*: from when the request should have "
                "been sent had its iteration started on schedule (coordinated omission corrected).", ""]  # fmt: skip
        out += [*table(INTENDED_HEADER, intended_rows(intended)), ""]
    lag = (resources or {}).get("loop_lag")
    if lag and lag.get("generators"):
        out += [f"## {_lag_title(lag)}", "", *table(LAG_HEADER, lag_rows(lag)), ""]
    return out


def _html_table(table_id: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def html_section(load: Mapping[str, Any] | None, resources: Mapping[str, Any] | None) -> str:
    """The same two sections for report.html ('' when neither was measured)."""
    parts = []
    intended = (load or {}).get("intended")
    if intended:
        parts.append(
            '<section id="intended"><h2>Latency from intended start (open model)</h2>'
            f"<p>{escape(intended_line(intended))}</p>"
            + _html_table("intended-table", INTENDED_HEADER, intended_rows(intended))
            + "</section>"
        )
    lag = (resources or {}).get("loop_lag")
    if lag and lag.get("generators"):
        parts.append(
            f'<section id="loop-lag"><h2>{escape(_lag_title(lag))}</h2>'
            + _html_table("loop-lag-table", LAG_HEADER, lag_rows(lag))
            + "</section>"
        )
    return "".join(parts)
