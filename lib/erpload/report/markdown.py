"""summary.md: verdict, SLA table, resources, correctness, top requests, errors, baseline; always < 1 MiB.

GitHub rejects a step summary over 1 MiB, and PR comments are capped lower, so tables are cut to
the most requested endpoints / most frequent errors with a note, and the whole text is bounded by
`max_bytes`. `append_step_summary` appends it to `$GITHUB_STEP_SUMMARY` when that is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from erpload.core.units import fmt_bound, fmt_num, fmt_observed, fmt_value
from erpload.report import (
    capacity_report,
    correctness_report,
    exceptions,
    resources_report,
    stages_report,
    throughput_report,
    timing_report,
)
from erpload.report.baseline import Comparison, render_table
from erpload.report.console import think_text
from erpload.report.summary import EndpointSummary, RunSummary

FILENAME = "summary.md"
MAX_BYTES = 1024 * 1024 - 16 * 1024  # under GitHub's 1 MiB step-summary limit, with room to spare
TOP_N = 50
_ICON = {
    "pass": "✅ PASS",
    "fail": "❌ FAIL",
    "invalid": "⚠️ INVALID",
    "aborted": "⏹️ ABORTED",
    "error": "💥 ERROR",
}


def cell(value: object) -> str:
    """Markdown-table-safe text: no pipes, newlines or HTML (names come from users)."""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.split())[:300]


def _row(values: Iterable[object]) -> str:
    return "| " + " | ".join(cell(v) for v in values) + " |"


def _table(header: list[str], rows: Iterable[Sequence[object]]) -> list[str]:
    return [_row(header), "|" + "|".join("---" for _ in header) + "|", *(_row(r) for r in rows)]


def _ms(e: EndpointSummary, key: str) -> str:
    value = getattr(e, key)
    if value is None:
        return "–"
    return fmt_value("latency", value) + (fmt_bound(e.bounds.get(key)) if key in e.bounds else "")


def _endpoint_rows(items: list[EndpointSummary]) -> list[list[object]]:
    return [
        [
            e.label,
            e.count,
            e.failures,
            fmt_value("rate", e.error_rate),
            fmt_num(e.rps),
            _ms(e, "avg"),
            _ms(e, "p50"),
            _ms(e, "p95"),
            _ms(e, "p99"),
            _ms(e, "max"),
        ]
        for e in items
    ]


_ENDPOINT_HEADER = ["request", "count", "fail", "error rate", "rps", "avg", "p50", "p95", "p99", "max"]


def _sla_section(summary: RunSummary) -> list[str]:
    if not summary.sla:
        return ["_No SLA rules configured._"]
    rows = [
        [
            "✅ pass" if s.passed else "❌ FAIL",
            s.name or s.rule,
            fmt_observed(s.kind, s.observed, s.op, s.threshold) + fmt_bound(s.bound),
            f"{s.op} {fmt_value(s.kind, s.threshold)}",
            s.detail,
        ]
        for s in summary.sla
    ]
    return _table(["", "rule", "observed", "threshold", "detail"], rows)


def _baseline_section(baseline: Mapping[str, object] | None, top_n: int) -> list[str]:
    if not baseline:
        return []
    try:
        comparison = Comparison.from_dict(baseline)
    except (KeyError, TypeError, ValueError) as e:
        return ["## Baseline", "", f"_baseline comparison unreadable: {cell(e)}_"]
    return ["## Baseline", "", render_table(comparison, "markdown", only_regressions=True, limit=top_n)]


def render_markdown(summary: RunSummary, max_bytes: int = MAX_BYTES, top_n: int = TOP_N) -> str:
    """The Markdown report, cut to at most `max_bytes` (UTF-8) with a note when truncated."""
    failed = len(summary.failed_rules)
    title = summary.profile.name or "run"
    lines = [
        f"# erpload: {cell(title)} — {_ICON.get(summary.verdict, cell(summary.verdict))} (exit {summary.exit_code})",
        "",
        f"{failed} of {len(summary.sla)} SLA rules failed · {summary.total.count} requests, "
        f"{summary.total.failures} failures · {fmt_num(summary.duration_s)} s · {summary.workers} worker(s) · "
        f"host `{cell(summary.host) or '-'}` · started {cell(summary.started_at) or '-'}"
        + (f" · think time {cell(think_text(summary.load))}" if think_text(summary.load) else ""),
        "",
        "## SLA",
        "",
        *_sla_section(summary),
        "",
    ]
    lines += [f"> {cell(n)}" for n in summary.notes[:20]] + ([""] if summary.notes else [])
    lines += capacity_report.markdown_lines(summary, _table)
    lines += _baseline_section(summary.baseline, top_n) + [""]
    lines += resources_report.markdown_lines(summary.resources, _table)
    lines += timing_report.markdown_lines(summary.load, summary.resources, _table)
    lines += throughput_report.markdown_lines(summary.load, summary.sla, _table)
    tail: list[str] = correctness_report.markdown_lines(summary.correctness, _table, cell, summary.requests)
    busiest = sorted(summary.requests, key=lambda e: (-e.count, e.label))
    shown = busiest[:top_n]
    tail += [f"## Requests (top {len(shown)} of {len(busiest)} by count)", ""]
    tail += _table(_ENDPOINT_HEADER, _endpoint_rows([*shown, summary.total]))
    if summary.roles:
        tail += ["", "## Roles", ""]
        tail += _table(
            ["role", "users", "count", "fail", "p50", "p95", "p99"],
            [
                [
                    r.name,
                    r.users if r.users is not None else "–",
                    r.count,
                    r.failures,
                    _ms(r, "p50"),
                    _ms(r, "p95"),
                    _ms(r, "p99"),
                ]
                for r in summary.roles[:top_n]
            ],
        )
    tail += stages_report.markdown_lines(summary.stages, _table)  # per-stage tables (ramp marked)
    if summary.errors:
        errs = summary.errors[:top_n]
        tail += ["", f"## Errors (top {len(errs)} of {len(summary.errors)})", ""]
        tail += _table(
            ["request", "error", "occurrences"],
            [[f"{e.method} {e.name}", e.error, e.occurrences] for e in errs],
        )
    if summary.exceptions:
        tail += ["", *exceptions.markdown_lines(summary.exceptions[:top_n], _table)]
    return _fit("\n".join(lines), tail, max_bytes)


def _fit(head: str, tail: list[str], max_bytes: int) -> str:
    """head + as many tail lines as fit in max_bytes, with a truncation note."""
    note = "\n\n_… truncated to stay under the size limit; see summary.json for everything._\n"
    budget = max_bytes - len(head.encode()) - len(note.encode()) - 1
    if budget <= 0:
        return head.encode()[: max(0, max_bytes - len(note.encode()))].decode(errors="ignore") + note
    out: list[str] = []
    for line in tail:
        size = len(line.encode()) + 1
        if size > budget:
            return head + "\n" + "\n".join(out) + note
        out.append(line)
        budget -= size
    return head + "\n" + "\n".join(out) + "\n"


def append_step_summary(markdown: str, env: Mapping[str, str] | None = None) -> Path | None:
    """Append to the file named by $GITHUB_STEP_SUMMARY (if set); returns its path."""
    target = (env if env is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as f:
        f.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return path
