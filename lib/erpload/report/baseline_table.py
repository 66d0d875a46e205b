"""A baseline comparison as an aligned text table or a Markdown table (pure): one row per endpoint.

Every row shows the verdict, n on both sides, and per metric the values, the effect, its CI and
the floor it was judged against (`Delta.text`): `erpload compare` prints it, summary.md embeds it.
"""

from __future__ import annotations

from erpload.core.units import fmt_num
from erpload.report.baseline_model import Comparison, EndpointComparison

HEADER = ["", "verdict", "request", "n base/cur", "p95", "p99", "rps", "error rate"]
COLUMNS = ("p95", "p99", "rps", "error_rate")
_MARK = {"regressed": "✗", "improved": "▲", "unchanged": "✓", "inconclusive": "?"}


def _md(text: str) -> str:
    """Escape Markdown table metacharacters in user-provided names."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _row(e: EndpointComparison, md: bool) -> list[str]:
    cells = []
    by_metric = {d.metric: d for d in e.deltas}
    for metric in COLUMNS:
        d = by_metric.get(metric)
        if d is None:  # a comparison written by an older erpload may lack a metric
            cells.append("")
            continue
        text = d.text()
        if d.regressed:
            text = ("**REGRESSED** " if md else "REGRESSED ") + (_md(text) if md else text)
        elif d.verdict == "improved":
            text = ("_improved_ " if md else "improved ") + (_md(text) if md else text)
        elif md:
            text = _md(text)
        cells.append(text)
    verdict = e.verdict_text
    return [
        _MARK.get(e.verdict, "✓"),
        f"**{verdict}**" if md and e.regressed else verdict,
        _md(e.label) if md else e.label,
        f"{e.n_baseline}/{e.n_current}",
        *cells,
    ]


def headline(comparison: Comparison) -> str:
    """'Baseline X vs current Y: 1 regressed, 12 unchanged, ...; tolerance 10%, 95% CI (...)'."""
    c = comparison
    counts = ", ".join(f"{n} {word}" for word, n in c.counts().items() if n) or "no endpoint"
    return (
        f"Baseline {c.baseline_label} vs current {c.current_label}: {len(c.regressions)} regression(s) "
        f"({counts}); tolerance {fmt_num(c.tolerance * 100)}%, {fmt_num(c.confidence * 100)}% CI "
        f"({c.method}, {c.resamples} resamples, seed {c.seed}), MIN n {c.min_samples}"
    )


def render_table(
    comparison: Comparison, fmt: str = "text", only_regressions: bool = False, limit: int = 0
) -> str:
    """The comparison as an aligned text table or a Markdown table (regressed cells marked)."""
    if fmt not in ("text", "markdown"):
        raise ValueError(f"unknown format {fmt!r}; use 'text' or 'markdown'")
    md = fmt == "markdown"
    rows = [e for e in comparison.endpoints if e.regressed or not only_regressions]
    cut = len(rows) - limit if limit and len(rows) > limit else 0
    rows = rows[:limit] if cut else rows
    table = [_row(e, md) for e in rows]
    head = headline(comparison)
    lines = [_md(head) if md else head, ""]
    if not table:
        lines.append(
            "No regressions." if only_regressions and comparison.endpoints else "No endpoint in common."
        )
    elif md:
        lines += ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
        lines += ["| " + " | ".join(r) + " |" for r in table]
    else:
        widths = [max(len(r[i]) for r in [HEADER, *table]) for i in range(len(HEADER))]
        lines += ["  ".join(h.ljust(w) for h, w in zip(HEADER, widths, strict=True)).rstrip()]
        lines += ["  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip() for r in table]
    if cut:
        lines.append(f"... {cut} more endpoint(s) not shown")
    for what, labels in (
        ("only in current", comparison.only_current),
        ("only in baseline", comparison.only_baseline),
    ):
        if labels:
            shown = ", ".join(labels[:20]) + (f", ... ({len(labels)} in all)" if len(labels) > 20 else "")
            lines.append(f"{what}: {_md(shown) if md else shown}")
    lines += [f"note: {_md(n) if md else n}" for n in comparison.notes]
    return "\n".join(lines) + "\n"
