"""The run history's trend report: one self-contained HTML page (inline CSS and SVG, no script).

    html = render_trend(rows, store.endpoints(r.id for r in rows), source="history.db")

One section per profile (endpoints differ between profiles), oldest run left, with the charts the
team trends: p95 per endpoint (the busiest MAX_SERIES, plus all requests), error rate, throughput,
and the target's RSS slope (MB/min, when the target was monitored); then every run in a table,
newest first. Stable hooks for browser tests: `#history-head`, `section.profile[data-profile]`,
`svg.trend-p95`, `svg.trend-errors`, `svg.trend-rps`, `svg.trend-rss`, `#runs-table`.
Every string from a profile, a branch or the target goes through `html.escape`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from importlib import resources
from string import Template

from erpload.core.units import fmt_num, fmt_value
from erpload.report.charts import Series
from erpload.report.history import EndpointRow, RunRow
from erpload.report.history_chart import trend_chart
from erpload.report.history_db import display_name

__all__ = ["MAX_SERIES", "render_trend"]

MAX_SERIES = 7  # endpoints per p95 chart, busiest first (plus "all requests")
AGGREGATED = "Aggregated"
_STYLE = (
    "<style>#history-head{background:#1f2937}"
    " .verdict-cell{font-weight:600} tr.v-pass .verdict-cell{color:#166534}"
    " tr.v-fail .verdict-cell,tr.v-error .verdict-cell{color:#991b1b}"
    " tr.v-invalid .verdict-cell,tr.v-aborted .verdict-cell{color:#92400e}"
    " .chart .point{stroke:#fff;stroke-width:1} p.more{color:#6b7280;font-size:12px}</style>"
)


def _template() -> Template:
    return Template(resources.files("erpload.report").joinpath("template.html").read_text(encoding="utf-8"))


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-") or "profile"


def _tip(r: RunRow) -> str:
    return f"run #{r.id} · {r.started_at} · {r.branch}@{r.commit[:10]} · {r.verdict} (exit {r.exit_code})"


def _value(rows: Sequence[EndpointRow], label: str, field: str) -> float | None:
    row = next((e for e in rows if e.label == label), None)
    value = getattr(row, field) if row is not None else None
    return float(value) if value is not None else None


def _profile_section(profile: str, runs: Sequence[RunRow], eps: Mapping[int, Sequence[EndpointRow]]) -> str:
    """The charts of one profile's runs (oldest first)."""
    labels = [f"#{r.id}" for r in runs]
    tips = [_tip(r) for r in runs]
    per_run = [eps.get(r.id, ()) for r in runs]
    counts: dict[str, int] = {}
    fails: dict[str, int] = {}
    for rows in per_run:
        for e in rows:
            if e.label != AGGREGATED:
                counts[e.label] = counts.get(e.label, 0) + int(e.count or 0)
                fails[e.label] = fails.get(e.label, 0) + int(e.failures or 0)
    busiest = sorted(counts, key=lambda k: (-counts[k], k))
    shown = busiest[:MAX_SERIES]
    p95 = [Series("all requests", [_value(rows, AGGREGATED, "p95") for rows in per_run], "#111827")]
    p95 += [Series(lb, [_value(rows, lb, "p95") for rows in per_run]) for lb in shown]
    failing = sorted((k for k in fails if fails[k]), key=lambda k: (-fails[k], k))[:4]
    errors = [Series("all requests", [_value(rows, AGGREGATED, "error_rate") for rows in per_run], "#dc2626")]
    errors += [Series(lb, [_value(rows, lb, "error_rate") for rows in per_run]) for lb in failing]
    rps = [Series("all requests", [_value(rows, AGGREGATED, "rps") for rows in per_run], "#2563eb")]
    rss = [Series("target RSS slope", [r.rss_slope_mb_per_min for r in runs], "#7c3aed")]
    branches = sorted({r.branch for r in runs})
    slug = _slug(profile)
    more = (
        f'<p class="more">{len(busiest) - len(shown)} more endpoint(s) not charted; '
        "every run's summary.json is in the DB.</p>"
        if len(busiest) > len(shown)
        else ""
    )
    return "".join(
        [
            f'<section class="profile" id="profile-{escape(slug)}" data-profile="{escape(profile)}">',
            f"<h2>{escape(profile or '(no profile)')} — {len(runs)} run(s) on "
            f"{escape(', '.join(branches))}</h2>",
            trend_chart(
                f"p95-{slug}", "p95 per endpoint (ms)", labels, tips, p95, "ms", css_class="trend-p95"
            ),
            more,
            trend_chart(f"errors-{slug}", "Error rate", labels, tips, errors, "%", css_class="trend-errors"),
            trend_chart(
                f"rps-{slug}", "Throughput (requests/s)", labels, tips, rps, "/s", css_class="trend-rps"
            ),
            trend_chart(
                f"rss-{slug}",
                "Target RSS slope (MB/min)",
                labels,
                tips,
                rss,
                "MB/min",
                empty="no data: target not monitored (--target-pid, --target-metrics) or runs too short "
                "for a slope (needs 40 s of load after a 10 s warm-up)",
                css_class="trend-rss",
            ),
            "</section>",
        ]
    )


def _runs_table(runs: Sequence[RunRow]) -> str:
    header = [
        "run", "started (UTC)", "profile", "branch", "commit", "host", "verdict", "exit",
        "requests", "error rate", "p95", "rps", "RSS slope",
    ]  # fmt: skip
    body = []
    for r in runs:
        cells = [
            f"#{r.id}",
            escape(r.started_at.replace("T", " ").rstrip("Z")),
            escape(r.profile),
            escape(r.branch),
            f"<code>{escape(r.commit[:10])}</code>",
            escape(r.host),
            f'<span class="verdict-cell">{escape(r.verdict)}</span>',
            str(r.exit_code),
            str(r.requests if r.requests is not None else "–"),
            escape(fmt_value("rate", r.error_rate)) if r.error_rate is not None else "–",
            escape(fmt_value("latency", r.p95)) if r.p95 is not None else "–",
            escape(fmt_value("rps", r.rps)) if r.rps is not None else "–",
            escape(f"{fmt_num(r.rss_slope_mb_per_min)} MB/min")
            if r.rss_slope_mb_per_min is not None
            else "–",
        ]
        tds = "".join(f"<td>{c}</td>" for c in cells)
        body.append(f'<tr class="v-{escape(r.verdict)}" data-run="{r.id}">{tds}</tr>')
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    return (
        f'<div class="scroll"><table id="runs-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render_trend(
    runs: Sequence[RunRow], endpoints: Mapping[int, Sequence[EndpointRow]], *, source: str, filters: str = ""
) -> str:
    """The whole trend page for `runs` (any order; drawn oldest first, listed newest first)."""
    oldest_first = sorted(runs, key=lambda r: (r.started_at, r.id))
    profiles = sorted({r.profile for r in runs})
    source = display_name(source)
    passing = sum(1 for r in runs if r.verdict == "pass" and r.exit_code == 0)
    parts = [
        _STYLE,
        f'<header id="history-head" class="verdict">erpload run history — {len(runs)} run(s)'
        f"<small>{escape(source)}{escape(' · ' + filters) if filters else ''} · {passing} passing · "
        f"{len(profiles)} profile(s)</small></header><main>",
    ]
    if not runs:
        parts.append('<p class="note">No run matches: record runs with --history, or widen the filters.</p>')
    for profile in profiles:
        parts.append(_profile_section(profile, [r for r in oldest_first if r.profile == profile], endpoints))
    parts += ["<h2>Runs</h2>", _runs_table(oldest_first[::-1]), "</main>"]
    return _template().substitute(title=escape(f"erpload run history: {source}"), body="\n".join(parts))
