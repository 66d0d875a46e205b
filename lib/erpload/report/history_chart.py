"""Inline SVG charts of a metric across runs (x: one run per step, oldest left), for the trend report.

Same look and stable structure as `charts.line_chart` (gridlines, axis labels, one `<polyline
class="series ...">` per series, a legend), with a run axis instead of a time axis: every point is a
`<circle>` whose `<title>` is the hover tooltip (run id, date, branch and commit, the value). The
y axis includes 0 and handles negative values (an RSS slope may fall). No script, no external URL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from erpload.core.units import fmt_num
from erpload.report.charts import (
    BOTTOM,
    LEFT,
    PALETTE,
    RIGHT,
    TOP,
    H,
    Series,
    W,
    known_runs,
    legend,
    no_data,
    polyline,
    series_class,
    svg_open,
    ticks,
    y_grid,
)

__all__ = ["COLORS", "trend_chart"]

COLORS = (*PALETTE, "#0891b2", "#db2777", "#65a30d", "#ea580c", "#4b5563")
MAX_X_LABELS = 12
LEGEND_COLUMNS, LEGEND_ROW = 4, 16  # legend entries per row, row height (px)


def _fmt(v: float, unit: str) -> str:
    if unit == "%":
        return f"{fmt_num(v * 100)}%"
    return f"{fmt_num(v)}{unit}" if unit != "MB/min" else f"{fmt_num(v)}"


def trend_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    tips: Sequence[str],
    series: Sequence[Series],
    unit: str = "",
    empty: str = "no data",
    css_class: str = "",
) -> str:
    """A chart of `series` over runs; `labels` name each run on the x axis, `tips` describe each run."""
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    height = H + LEGEND_ROW * (max(1, math.ceil(len(series) / LEGEND_COLUMNS)) - 1)
    parts = svg_open(chart_id, title, height, f"chart trend {css_class}".strip())
    values = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    if not labels or not values:
        return "".join(parts) + no_data(empty) + "</svg>"
    marks = ticks(min(values), max(values))
    lo, hi = marks[0], marks[-1]
    n = len(labels)

    def x(i: int) -> float:
        return LEFT + (pw / 2 if n == 1 else i / (n - 1) * pw)

    def y(v: float) -> float:
        return TOP + ph - (v - lo) / ((hi - lo) or 1.0) * ph

    parts += y_grid(marks, y, lambda tick: _fmt(tick, unit), zero_axis=True)
    every = max(1, math.ceil(n / MAX_X_LABELS))
    for i, label in enumerate(labels):
        if i % every == 0 or i == n - 1:
            parts.append(
                f'<text class="tick run-label" x="{x(i):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
    suffix = " MB/min" if unit == "MB/min" else ""
    fixed = {s.color for s in series if s.color}
    free = iter([c for c in COLORS if c not in fixed] * (1 + len(series) // len(COLORS)))
    for k, s in enumerate(series):
        color = s.color or next(free)  # never the colour of another series
        for run in known_runs(s.values):
            if len(run) > 1:  # a lone point is its circle
                parts.append(polyline(series_class(s.name), color, ((x(i), y(v)) for i, v in run)))
        for i, v in enumerate(s.values):
            if v is not None and math.isfinite(v):
                tip = f"{tips[i] if i < len(tips) else labels[i]}\n{s.name}: {_fmt(v, unit)}{suffix}"
                parts.append(
                    f'<circle class="point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                    f"<title>{escape(tip)}</title></circle>"
                )
        lx = LEFT + 8 + (k % LEGEND_COLUMNS) * (pw // LEGEND_COLUMNS)
        ly = H - 14 + (k // LEGEND_COLUMNS) * LEGEND_ROW
        parts += legend(lx, ly, color, _short(s.name))
    return "".join(parts) + "</svg>"


def _short(name: str, limit: int = 32) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
