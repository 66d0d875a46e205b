"""Rows for erpload's web UI tabs and report sections (pure: no Locust import).

Locust's React table renders every cell as plain text, so "over the run" is a Unicode sparkline
(``▁▂▄█``) next to the min–max numbers. Row keys are single lowercase words because the UI
camel-cases the keys of the polled JSON.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from erpload.core.units import fmt_bound, fmt_num, fmt_observed, fmt_value
from erpload.sla.evaluation import RuleResult

AT_RISK_MARGIN = 0.10  # a passing rule within 10 % of its threshold is "at risk"
SPARK = "▁▂▃▄▅▆▇█"
PROFILE_SUFFIXES = (".yaml", ".yml")

SLA_STRUCTURE = [
    {"key": "rule", "title": "Rule"},
    {"key": "observed", "title": "Observed"},
    {"key": "threshold", "title": "Threshold"},
    {"key": "bound", "title": "Percentile bound"},
    {"key": "state", "title": "State"},
    {"key": "detail", "title": "Detail"},
]
RESOURCES_STRUCTURE = [
    {"key": "process", "title": "Process"},
    {"key": "host", "title": "Host"},
    {"key": "cpu", "title": "CPU now"},
    {"key": "cpurange", "title": "CPU min–max"},
    {"key": "cpuspark", "title": "CPU over run"},
    {"key": "rss", "title": "RSS now"},
    {"key": "rssrange", "title": "RSS min–max"},
    {"key": "rssspark", "title": "RSS over run"},
    {"key": "leak", "title": "Leak verdict"},
]

PASS, FAIL, AT_RISK, NO_DATA, ABORTED = "✔ pass", "✘ fail", "⚠ at risk", "… no data", "⛔ aborted"


class ProfileChoices(list):
    """The profiles offered as a dropdown in the web UI; on the command line any path is accepted.

    argparse checks ``value in action.choices``; Locust's start form lists the items.
    """

    def __contains__(self, item: object) -> bool:
        return True


def profile_choices(directory: Path, extra: Iterable[str] = ()) -> ProfileChoices:
    """Profile files in `directory`, `extra` paths (the command line's) first, else smoke first."""
    found: list[str] = []
    if directory.is_dir():
        files = sorted(p for p in directory.iterdir() if p.suffix in PROFILE_SUFFIXES and p.is_file())
        files.sort(key=lambda p: p.stem != "smoke")
        found = [_display_path(p) for p in files]
    for path in extra:
        shown = _display_path(Path(path)) if path and Path(path).is_file() else path
        if shown:  # first: the form pre-selects the first entry when the default is not listed verbatim
            found = [shown, *(f for f in found if f != shown)]
    return ProfileChoices(found)


def _display_path(path: Path) -> str:
    """Relative to the working directory when inside it (what a user types), else absolute."""
    try:
        return (
            os.path.relpath(path.resolve(), Path.cwd())
            if path.resolve().is_relative_to(Path.cwd())
            else str(path)
        )
    except (OSError, ValueError):
        return str(path)


# -- SLA -------------------------------------------------------------------------------------------
def sla_state(result: RuleResult, live: bool = True) -> str:
    """pass / fail / at risk / no data; a failing abort rule still inside its grace is at risk while live."""
    rule = result.rule
    if result.observed is None:
        return NO_DATA
    if not result.passed:
        return AT_RISK if (live and rule.abort) else FAIL
    if isinstance(result.observed, bool) or isinstance(rule.threshold, bool):
        return PASS
    value, limit = float(result.observed), float(rule.threshold)
    if rule.op in ("<", "<="):
        return AT_RISK if value >= limit * (1 - AT_RISK_MARGIN) else PASS
    if rule.op in (">", ">="):
        return AT_RISK if value <= limit * (1 + AT_RISK_MARGIN) else PASS
    return PASS


def sla_rows(results: Sequence[RuleResult], trip: Any = None, live: bool = True) -> list[dict[str, str]]:
    """One row per rule; a banner row first when a live-abort rule stopped the run."""
    rows: list[dict[str, str]] = []
    if trip is not None:
        rows.append(
            {
                "rule": f"RUN STOPPED by live-abort rule {trip.rule.title} at {trip.at_s:.0f}s",
                "observed": fmt_observed(
                    trip.rule.kind, trip.result.observed, trip.rule.op, trip.rule.threshold
                ),
                "threshold": "",
                "bound": "",
                "state": ABORTED,
                "detail": f"failing since {trip.failing_since_s:.0f}s: {trip.result.detail}",
            }
        )
    for r in results:
        kind = r.rule.kind
        detail = r.detail
        state = sla_state(r, live and trip is None)
        if state == AT_RISK and not r.passed:
            detail += f" (abort rule: grace {fmt_num(r.rule.after_s)}s + {fmt_num(r.rule.for_s)}s)"
        rows.append(
            {
                "rule": r.rule.title,
                "observed": fmt_observed(kind, r.observed, r.rule.op, r.rule.threshold),
                "threshold": f"{r.rule.op} {fmt_value(kind, r.rule.threshold)}",
                "bound": fmt_bound(r.bound).strip(" ()") or ("exact" if r.observed is not None else ""),
                "state": state,
                "detail": detail,
            }
        )
    return rows


def message_row(text: str) -> dict[str, str]:
    return {"rule": text, "observed": "", "threshold": "", "bound": "", "state": "", "detail": ""}


# -- resources -------------------------------------------------------------------------------------
def sparkline(values: Sequence[float], width: int = 24) -> str:
    """`values` as at most `width` block characters (mean of each slice), scaled min..max."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not vals:
        return ""
    if len(vals) > width:
        step = len(vals) / width
        vals = [
            _mean(vals[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)]) for i in range(width)
        ]
    lo, hi = min(vals), max(vals)
    span = hi - lo if hi - lo > 0.01 * max(abs(hi), abs(lo)) else 0.0  # ±1 % is noise, not a trend
    return "".join(
        SPARK[0 if span <= 0 else min(len(SPARK) - 1, int((v - lo) / span * len(SPARK)))] for v in vals
    )


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _series_values(series: Iterable[Sequence[float]] | None) -> list[float]:
    return [float(p[1]) for p in series or () if len(p) > 1 and p[1] is not None]


def _range(values: Sequence[float], unit: str) -> str:
    return f"{fmt_num(min(values))}–{fmt_num(max(values))}{unit}" if values else ""


def _now(value: Any, unit: str) -> str:
    return "" if value is None else f"{fmt_num(float(value))}{unit}"


def leak_text(leak: Mapping[str, Any] | None) -> str:
    if not leak:
        return "n/a"
    text = str(leak.get("verdict", "n/a"))
    slope, growth = leak.get("slope_mb_per_min"), leak.get("growth_pct")
    extra = []
    if slope is not None:
        extra.append(f"{float(slope):+.2f} MB/min")
    if growth is not None:
        extra.append(f"{float(growth):+.1f}%")
    return f"{text} ({', '.join(extra)})" if extra else text


def resource_rows(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """One row per process (target, master, worker:N), then one per generator-health warning."""
    rows: list[dict[str, str]] = []
    order = {"target": 0, "master": 1}
    procs = sorted(
        data.get("processes", []), key=lambda p: (order.get(p.get("key", ""), 2), str(p.get("key")))
    )
    for p in procs:
        cpu, rss = _series_values(p.get("cpu_series")), _series_values(p.get("rss_series"))
        rows.append(
            {
                "process": str(p.get("key", "?")),
                "host": str(p.get("host") or ""),
                "cpu": _now(p.get("cpu_percent"), "%"),
                "cpurange": _range(cpu, "%"),
                "cpuspark": sparkline(cpu),
                "rss": _now(p.get("rss_mb"), " MB"),
                "rssrange": _range(rss, " MB"),
                "rssspark": sparkline(rss),
                "leak": str(p.get("note") or leak_text(p.get("leak"))),
            }
        )
    for w in data.get("warnings", []):
        rows.append(
            {
                "process": "⚠ warning",
                "host": str(w),
                "cpu": "",
                "cpurange": "",
                "cpuspark": "",
                "rss": "",
                "rssrange": "",
                "rssspark": "",
                "leak": "",
            }
        )
    return rows


def leak_estimate(
    series: Sequence[Sequence[float]], min_span_s: float = 60.0, slope_limit_mb_per_min: float = 1.0
) -> dict[str, Any]:
    """A rough leak verdict from an RSS series [[t_s, mb], ...]: least-squares slope over the run."""
    pts = [(float(t), float(v)) for t, v in series]
    if len(pts) < 3 or pts[-1][0] - pts[0][0] < min_span_s:
        return {"verdict": "too short", "slope_mb_per_min": None, "growth_pct": None}
    n = len(pts)
    mt, mv = sum(t for t, _ in pts) / n, sum(v for _, v in pts) / n
    var = sum((t - mt) ** 2 for t, _ in pts)
    slope = (sum((t - mt) * (v - mv) for t, v in pts) / var * 60.0) if var else 0.0
    growth = (pts[-1][1] - pts[0][1]) / pts[0][1] * 100 if pts[0][1] else 0.0
    verdict = "suspect" if slope > slope_limit_mb_per_min else "stable"
    return {"verdict": verdict, "slope_mb_per_min": round(slope, 3), "growth_pct": round(growth, 1)}


# -- report section --------------------------------------------------------------------------------
def _html_table(
    table_id: str, structure: Sequence[Mapping[str, str]], rows: Sequence[Mapping[str, str]]
) -> str:
    head = "".join(f"<th>{escape(c['title'])}</th>" for c in structure)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(r.get(c['key'], '')))}</td>" for c in structure) + "</tr>"
        for r in rows
    )
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


_SECTION_CSS = (
    "#erpload-live{font-family:sans-serif;margin:2em;color:inherit}"
    "#erpload-live table{border-collapse:collapse;margin-bottom:1.5em}"
    "#erpload-live td,#erpload-live th{border:1px solid #888;padding:4px 8px;text-align:left}"
)


def report_section(
    title: str, sla: Sequence[Mapping[str, str]], resources: Sequence[Mapping[str, str]]
) -> str:
    """erpload's SLA and resources sections as HTML, appended to Locust's downloadable report."""
    return (
        f'<style>{_SECTION_CSS}</style><section id="erpload-live"><h2>{escape(title)}</h2>'
        f'<h3 id="erpload-sla-title">erpload SLA</h3>{_html_table("erpload-sla", SLA_STRUCTURE, sla)}'
        f'<h3 id="erpload-resources-title">erpload resources</h3>'
        f"{_html_table('erpload-resources', RESOURCES_STRUCTURE, resources)}</section>"
    )
