"""The resources part of summary.md and report.html, from summary.json's free-form `resources` (pure).

Stable hooks for browser tests: `#resources`, `#resources-table`, and per process
`#chart-res-cpu-<key>` / `#chart-res-rss-<key>` (key with ':' -> '-', e.g. `chart-res-cpu-worker-0`).
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from erpload.report.charts import Series, line_chart

HEADER = [
    "process",
    "host",
    "cpu avg",
    "cpu max",
    "rss first",
    "rss last",
    "rss peak",
    "leak",
    "slope MB/min",
    "growth",
]


def _num(v: Any, fmt: str = "{:.1f}", suffix: str = "") -> str:
    return "–" if v is None else fmt.format(v) + suffix


def rows(resources: Mapping[str, Any]) -> list[list[str]]:
    """One row per process (target, master, workers) with its leak verdict."""
    leaks = {r.get("key"): r for r in resources.get("leaks") or ()}
    out = []
    for p in resources.get("processes") or ():
        leak = leaks.get(p.get("key"), {})
        out.append(
            [
                str(p.get("key")) + ("" if p.get("available", True) else " (unavailable)"),
                str(p.get("host") or ""),
                _num(p.get("cpu_avg_percent"), suffix="%"),
                _num(p.get("cpu_max_percent"), suffix="%"),
                _num(p.get("rss_first_mb"), suffix=" MB"),
                _num(p.get("rss_last_mb"), suffix=" MB"),
                _num(p.get("rss_peak_mb"), suffix=" MB"),
                str(leak.get("verdict", "–")),
                _num(leak.get("slope_mb_per_min"), "{:.2f}"),
                _num(leak.get("growth_pct"), suffix="%"),
            ]
        )
    return out


def markdown_lines(resources: Mapping[str, Any] | None, table: Any) -> list[str]:
    """'## Resources' with the process table (`table(header, rows)` is the report's table helper)."""
    if not resources or not resources.get("processes"):
        return []
    out = ["## Resources (CPU: 100% = one core)", "", *table(HEADER, rows(resources))]
    out += [
        f"- **{p.get('key')} unavailable**: {p.get('unavailable_reason') or 'no sample'}"
        for p in resources.get("processes") or ()
        if not p.get("available", True)
    ]
    out += [f"> {w}" for w in (resources.get("warnings") or [])[:10]]
    return [*out, ""]


def _chart_id(kind: str, key: str) -> str:
    return f"chart-res-{kind}-" + "".join(ch if ch.isalnum() else "-" for ch in key)


def html_section(resources: Mapping[str, Any] | None) -> str:
    """<section id="resources">: process table, then a CPU and an RSS chart per process."""
    if not resources or not resources.get("processes"):
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADER)
    body = "".join(
        "<tr>"
        + "".join(f"<td{'' if i < 2 or i == 7 else ' class=num'}>{escape(c)}</td>" for i, c in enumerate(r))
        + "</tr>"
        for r in rows(resources)
    )
    parts = [
        '<section id="resources"><h2>Resources</h2>',
        f'<table id="resources-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>',
    ]
    parts += [f'<p class="note">{escape(str(w))}</p>' for w in (resources.get("warnings") or [])[:10]]
    for p in resources.get("processes") or ():
        key = str(p.get("key"))
        cpu = p.get("cpu_series") or []
        rss = p.get("rss_series") or []
        label = f"{key} ({p.get('host') or '?'})"
        parts.append(
            line_chart(
                _chart_id("cpu", key),
                f"CPU % of one core — {label}",
                [c[0] for c in cpu],
                [Series("cpu", [c[1] for c in cpu], "#f59e0b")],
                (),
                "",
            )
        )
        parts.append(
            line_chart(
                _chart_id("rss", key),
                f"RSS (MB) — {label}",
                [r[0] for r in rss],
                [Series("rss", [r[1] for r in rss], "#7c3aed")],
                (),
                " MB",
            )
        )
    parts.append("</section>")
    return "".join(parts)
