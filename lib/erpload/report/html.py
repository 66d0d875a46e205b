"""report.html: one self-contained page (inline CSS + inline SVG, no script, no external URL).

Stable hooks for browser tests: `#verdict`, `#sla-table`, `#chart-users`, `#chart-rps`,
`#chart-latency`, `#chart-errors`, `#requests-table`, `#roles-table`, `#errors-table`, `#baseline`,
`#correctness` (erpload.report.correctness_html), `#exceptions` (erpload.report.exceptions).
Every string that comes from a user, a profile or the target is passed through `html.escape`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from importlib import resources
from string import Template

from erpload.core.units import fmt_bound, fmt_num, fmt_observed, fmt_value
from erpload.report import (
    capacity_report,
    correctness_html,
    exceptions,
    resources_report,
    stages_report,
    throughput_report,
    timing_report,
)
from erpload.report.baseline import Comparison
from erpload.report.charts import Series, line_chart
from erpload.report.console import think_text
from erpload.report.summary import EndpointSummary, RunSummary

FILENAME = "report.html"
MAX_ROWS = 500  # rows per table; the full data is in summary.json


def _template() -> Template:
    return Template(resources.files("erpload.report").joinpath("template.html").read_text(encoding="utf-8"))


def _table(table_id: str, header: Sequence[str], rows: Iterable[tuple[str, Sequence[str]]]) -> str:
    """rows: (tr class, cells already escaped); text columns left, numbers right, status coloured."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for cls, cells in rows:
        tds = "".join(f"<td{_cell_class(header[i])}>{c}</td>" for i, c in enumerate(cells))
        body.append(f'<tr class="{cls}">{tds}</tr>' if cls else f"<tr>{tds}</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _cell_class(column: str) -> str:
    if column == "status":
        return ' class="status"'
    return "" if column in ("request", "role", "rule", "detail", "error") else ' class="num"'


def _ms(e: EndpointSummary, key: str) -> str:
    value = getattr(e, key)
    if value is None:
        return "–"
    bound = e.bounds.get(key)
    text = escape(fmt_value("latency", value))
    return f'{text}<span class="bound">±{escape(fmt_num(bound))}</span>' if bound else text


def _sla(summary: RunSummary) -> str:
    if not summary.sla:
        return '<p id="sla-table" class="empty">No SLA rules configured.</p>'
    rows = []
    for s in summary.sla:
        status = "PASS" if s.passed else "FAIL"
        observed = fmt_observed(s.kind, s.observed, s.op, s.threshold) + fmt_bound(s.bound)
        cells = [
            status,
            escape(s.name or s.rule),
            escape(observed),
            escape(f"{s.op} {fmt_value(s.kind, s.threshold)}"),
            escape(s.detail),
        ]
        rows.append(("pass" if s.passed else "fail", cells))
    return _table("sla-table", ["status", "rule", "observed", "threshold", "detail"], rows)


def _endpoints(table_id: str, items: list[EndpointSummary], first: str) -> str:
    header = [
        first,
        "count",
        "fail",
        "error rate",
        "rps",
        "avg",
        "min",
        "p50",
        "p90",
        "p95",
        "p99",
        "p99.9",
        "max",
    ]
    rows = [
        (
            "",
            [
                escape(e.label),
                str(e.count),
                str(e.failures),
                escape(fmt_value("rate", e.error_rate)),
                fmt_num(e.rps),
                _ms(e, "avg"),
                _ms(e, "min"),
                _ms(e, "p50"),
                _ms(e, "p90"),
                _ms(e, "p95"),
                _ms(e, "p99"),
                _ms(e, "p99_9"),
                _ms(e, "max"),
            ],
        )
        for e in items
    ]
    return f'<div class="scroll">{_table(table_id, header, rows)}</div>'


def _charts(summary: RunSummary) -> str:
    tl = summary.timeline
    return "".join(
        [
            line_chart("chart-users", "Users", tl.t, [Series("users", tl.users)], tl.stages),
            line_chart("chart-rps", "Requests per second", tl.t, [Series("rps", tl.rps)], tl.stages, "/s"),
            line_chart(
                "chart-latency",
                "Response time percentiles (ms)",
                tl.t,
                [Series("p50", tl.p50), Series("p95", tl.p95), Series("p99", tl.p99)],
                tl.stages,
                "ms",
            ),
            line_chart(
                "chart-errors",
                "Failure rate",
                tl.t,
                [Series("failure rate", tl.fail_rate, "#dc2626")],
                tl.stages,
                "%",
            ),
        ]
    )


def _baseline(summary: RunSummary) -> str:
    if not summary.baseline:
        return ""
    try:
        comparison = Comparison.from_dict(summary.baseline)
    except (KeyError, TypeError, ValueError) as e:
        return f'<section id="baseline"><h2>Baseline</h2><p class="note">unreadable comparison: {escape(str(e))}</p></section>'
    n = len(comparison.regressions)
    rows = [
        (
            "regressed" if e.regressed else "",
            [escape(e.label), *(escape(("▲ " if d.regressed else "") + d.text()) for d in e.deltas)],
        )
        for e in comparison.endpoints[:MAX_ROWS]
    ]
    table = _table("baseline-table", ["request", "p95", "p99", "rps", "error rate"], rows)
    title = f"Baseline: {n} regression(s) vs {comparison.baseline_label}, tolerance {fmt_num(comparison.tolerance * 100)}%"
    return f'<section id="baseline"><h2>{escape(title)}</h2>{table}</section>'


def render_html(summary: RunSummary) -> str:
    """The whole report page."""
    verdict = (
        summary.verdict if summary.verdict in ("pass", "fail", "invalid", "aborted", "error") else "error"
    )
    failed = len(summary.failed_rules)
    name = summary.profile.name or "run"
    meta = [
        (
            "profile",
            f"{summary.profile.name} ({summary.profile.file})"
            if summary.profile.file
            else summary.profile.name,
        ),
        ("description", summary.profile.description),
        ("host", summary.host),
        ("started / ended", f"{summary.started_at} / {summary.ended_at}"),
        ("duration", f"{fmt_num(summary.duration_s)} s"),
        ("workers", str(summary.workers)),
        ("think time", think_text(summary.load)),
        (
            "requests",
            f"{summary.total.count} ({summary.total.failures} failed, {fmt_num(summary.total.rps)}/s)",
        ),
    ]
    parts = [
        f'<header id="verdict" class="verdict verdict-{verdict}">{escape(verdict.upper())} — {escape(name)}'
        f"<small>{failed} of {len(summary.sla)} SLA rules failed · exit code {summary.exit_code}</small></header><main>",
        '<dl class="meta">'
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in meta if v)
        + "</dl>",
        *(f'<p class="note">{escape(n)}</p>' for n in summary.notes[:50]),
        capacity_report.html_section(summary),
        "<h2>SLA</h2>",
        _sla(summary),
        "<h2>Over time</h2>",
        _charts(summary),
        _baseline(summary),
        correctness_html.html_section(summary.correctness, summary.requests),
    ]
    busiest = sorted(summary.requests, key=lambda e: (-e.count, e.label))
    cut = f" (top {MAX_ROWS} of {len(busiest)} by count)" if len(busiest) > MAX_ROWS else ""
    parts += [
        f"<h2>Requests{escape(cut)}</h2>",
        _endpoints("requests-table", [*busiest[:MAX_ROWS], summary.total], "request"),
    ]
    if summary.roles:
        parts += ["<h2>Roles</h2>", _endpoints("roles-table", summary.roles[:MAX_ROWS], "role")]
    parts.append(stages_report.html_section(summary.stages))  # per-stage tables (#stages)
    if summary.errors:
        rows = [
            ("", [escape(f"{e.method} {e.name}"), escape(e.error), str(e.occurrences)])
            for e in summary.errors[:MAX_ROWS]
        ]
        parts += ["<h2>Errors</h2>", _table("errors-table", ["request", "error", "occurrences"], rows)]
    parts.append(exceptions.html_section(summary.exceptions))
    if summary.resources and summary.resources.get("processes"):
        parts.append(resources_report.html_section(summary.resources))
    elif summary.resources:
        text = json.dumps(summary.resources, indent=2, default=str, ensure_ascii=False)
        parts += ['<h2>Resources</h2><pre id="resources">', escape(text), "</pre>"]
    parts.append(timing_report.html_section(summary.load, summary.resources))
    parts.append(throughput_report.html_section(summary.load, summary.sla))
    parts.append("</main>")
    title = f"erpload {verdict.upper()}: {name}"
    return _template().substitute(title=escape(title), body="\n".join(parts))
