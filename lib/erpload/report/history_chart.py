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
from erpload.report.charts import BOTTOM, LEFT, PALETTE, RIGHT, TOP, H, Series, W

__all__ = ["COLORS", "trend_chart"]

COLORS = (*PALETTE, "#0891b2", "#db2777", "#65a30d", "#ea580c", "#4b5563")
MAX_X_LABELS = 12
LEGEND_COLUMNS, LEGEND_ROW = 4, 16  # legend entries per row, row height (px)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round ticks covering [min(lo, 0), max(hi, 0)] in 1/2/5 x 10^k steps."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    span = hi - lo
    if span <= 0 or not math.isfinite(span):
        return [0.0, 1.0]
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [i * step for i in range(first, last + 1)]


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
    cls = f"chart trend {css_class}".strip()
    parts = [
        f'<svg id="{escape(chart_id)}" class="{escape(cls)}" viewBox="0 0 {W} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text class="chart-title" x="{LEFT}" y="18">{escape(title)}</text>',
    ]
    values = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    if not labels or not values:
        parts.append(
            f'<text class="no-data" x="{W / 2}" y="{H / 2}" text-anchor="middle">{escape(empty)}</text>'
        )
        return "".join(parts) + "</svg>"
    ticks = _ticks(min(values), max(values))
    lo, hi = ticks[0], ticks[-1]
    n = len(labels)

    def x(i: int) -> float:
        return LEFT + (pw / 2 if n == 1 else i / (n - 1) * pw)

    def y(v: float) -> float:
        return TOP + ph - (v - lo) / ((hi - lo) or 1.0) * ph

    for tick in ticks:
        yy = y(tick)
        grid = "axis" if tick == 0 else "grid"
        parts.append(f'<line class="{grid}" x1="{LEFT}" x2="{W - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">{escape(_fmt(tick, unit))}</text>'
        )
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
        name = "series series-" + "".join(ch if ch.isalnum() else "-" for ch in s.name.lower())
        for run in _runs(s.values):
            pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            parts.append(
                f'<polyline class="{escape(name)}" fill="none" stroke="{color}" stroke-width="1.8" points="{pts}"/>'
            )
        for i, v in enumerate(s.values):
            if v is not None and math.isfinite(v):
                tip = f"{tips[i] if i < len(tips) else labels[i]}\n{s.name}: {_fmt(v, unit)}{suffix}"
                parts.append(
                    f'<circle class="point" cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
                    f"<title>{escape(tip)}</title></circle>"
                )
        lx = LEFT + 8 + (k % LEGEND_COLUMNS) * (pw // LEGEND_COLUMNS)
        ly = H - 14 + (k // LEGEND_COLUMNS) * LEGEND_ROW
        parts.append(f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text class="legend" x="{lx + 14}" y="{ly + 9}">{escape(_short(s.name))}</text>')
    return "".join(parts) + "</svg>"


def _short(name: str, limit: int = 32) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive known points (index, value); a gap where a run lacks the value."""
    out: list[list[tuple[int, float]]] = []
    cur: list[tuple[int, float]] = []
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v):
            if cur:
                out.append(cur)
            cur = []
        else:
            cur.append((i, v))
    if cur:
        out.append(cur)
    return [r for r in out if len(r) > 1]
