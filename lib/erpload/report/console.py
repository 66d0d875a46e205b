"""The console verdict block, rendered from a RunSummary (pure): what a person reads at the end of a run.

    for level, text in verdict_block(summary):   # level: "info" | "warning" | "error"
        log.log(LEVELS[level], "%s", text)

A header (verdict, exit code, profile, the think times in effect), the SLA lines (the format of
`erpload.sla.evaluation.verdict_lines`), then every problem the run found **whether or not a rule
asks for it**: INVALID reasons, a memory leak detected in any process, lost / duplicated stock
updates (units and SKUs), a stock check that could not be done, RBAC violations, a run that never
recovered, scheduled faults not applied, users that died in on_start, unhandled exceptions in user
code. A problem nobody wrote a rule for is still a problem; the exit code stays the verdict's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from erpload.core.stockcheck import units_note
from erpload.report import capacity_report, correctness_report, exceptions
from erpload.report.model import RunSummary

__all__ = ["header", "problem_lines", "sla_lines", "think_text", "verdict_block"]

MAX_EXCEPTION_LINES = 3


def think_text(load: Mapping[str, Any] | None) -> str:
    """The think times in effect as recorded in summary.json `load.think_time` ('' when not recorded)."""
    think = (load or {}).get("think_time")
    return str(think.get("text") or "") if isinstance(think, Mapping) else ""


def header(summary: RunSummary) -> str:
    """'== erpload verdict: FAIL (exit 3) · profile smoke · think time 0.5–2 s for every role (...) =='."""
    parts = [f"erpload verdict: {summary.verdict.upper()} (exit {summary.exit_code})"]
    if summary.profile.name:
        parts.append(f"profile {summary.profile.name}")
    think = think_text(summary.load)
    parts.append(f"think time {think}" if think else "think time not recorded")
    return "== " + " · ".join(parts) + " =="


def sla_lines(summary: RunSummary) -> list[str]:
    """One line per rule and a closing line, as `erpload.sla.evaluation.verdict_lines` prints them."""
    if not summary.sla:
        return ["SLA no rules configured"]
    width = min(60, max(len(s.name or s.rule) for s in summary.sla))
    lines = [
        f"SLA {'PASS' if s.passed else 'FAIL'}  {s.name or s.rule:<{width}}   {s.detail}" for s in summary.sla
    ]
    failed = len(summary.failed_rules)
    if failed:
        lines.append(f"SLA {failed} of {len(summary.sla)} rules failed -> exit 3")
    else:
        lines.append(f"SLA all {len(summary.sla)} rules passed")
    return lines


def _leaks(resources: Mapping[str, Any]) -> list[str]:
    out = []
    for row in resources.get("leaks") or ():
        if not isinstance(row, Mapping) or row.get("verdict") != "leak":
            continue
        figures = (
            [f"{row['slope_mb_per_min']:+.2f} MB/min"]
            if isinstance(row.get("slope_mb_per_min"), float | int)
            else []
        )
        if isinstance(row.get("kb_per_request"), float | int):
            figures.append(f"{row['kb_per_request']:.1f} KiB/request")
        if isinstance(row.get("growth_pct"), float | int):
            figures.append(f"growth {row['growth_pct']:.0f}%")
        out.append(
            f"LEAK {row.get('key')}: memory leak detected ({', '.join(figures)}): {row.get('reason', '')}"
        )
    return out


def _integrity(correctness: Mapping[str, Any]) -> list[str]:
    ran = correctness_report.parts(correctness)
    out = []
    stock = ran.get("stock")
    if stock is not None and not stock.get("checked"):
        out.append(f"INTEGRITY stock check not done: {stock.get('error') or 'unknown reason'}")
    elif stock is not None:
        for metric, what in (("lost_updates", "lost updates"), ("duplicated_updates", "duplicated updates")):
            if stock.get(metric):
                note = units_note(metric, dict(stock)) or f"{stock.get(metric)} SKU(s)"
                out.append(f"INTEGRITY {what}: {note}")
    rbac = ran.get("rbac")
    if rbac is not None:
        violations = {str(k): int(v or 0) for k, v in rbac["violations"].items() if v}
        if violations:
            per_role = ", ".join(f"{k} {v}" for k, v in sorted(violations.items(), key=lambda kv: -kv[1]))
            out.append(
                f"INTEGRITY RBAC violations: {correctness_report.rbac_line(rbac).rstrip('.')} ({per_role})"
            )
    recovery = ran.get("recovery")
    if recovery is not None:
        for f in recovery.get("faults") or ():
            if isinstance(f, Mapping) and not f.get("ok"):
                out.append(f"FAULT not applied: {f.get('fault')}: {f.get('error') or 'no answer'}")
        if any(
            isinstance(e, Mapping) and e.get("recovered") is False for e in recovery.get("episodes") or ()
        ):
            out.append(f"INTEGRITY not recovered: {correctness_report.recovery_line(recovery)}")
    return out


def problem_lines(summary: RunSummary) -> list[tuple[str, str]]:
    """(level, text) of every problem found, asked for by a rule or not."""
    out = [
        ("error", f"INVALID run: {i.get('reason')} at {i.get('at_s')}s: {i.get('detail')}")
        for i in summary.invalid
    ]
    out += [("warning", text) for text in _leaks(summary.resources or {})]
    out += [("warning", text) for text in _integrity(summary.correctness or {})]
    died = (summary.load or {}).get("died_on_start")
    if isinstance(died, Mapping) and died.get("users"):
        roles = ", ".join(f"{k} {v}" for k, v in (died.get("by_role") or {}).items())
        out.append(
            ("warning", f"USERS {died['users']} user(s) died in on_start ({roles}) and sent no load after")
        )
    if summary.exceptions:
        n, total = len(summary.exceptions), exceptions.total(summary.exceptions)
        out.append(
            ("warning", f"EXCEPTIONS {n} distinct unhandled exception(s) in user code, {total} in all:")
        )
        out += [("warning", f"  {exceptions.line(e)}") for e in summary.exceptions[:MAX_EXCEPTION_LINES]]
        if n > MAX_EXCEPTION_LINES:
            out.append(("warning", f"  ... {n - MAX_EXCEPTION_LINES} more in summary.json / report.html"))
    return out


def verdict_block(summary: RunSummary, sla: bool = True) -> list[tuple[str, str]]:
    """The whole block as (level, text): header, SLA lines (unless `sla` is False), problems."""
    lines = [("info", header(summary))]
    cap = capacity_report.section_of(summary)
    lines += [("info", capacity_report.headline(cap))] if cap is not None else []
    lines += [("info", text) for text in (sla_lines(summary) if sla else [])]
    return lines + problem_lines(summary)
