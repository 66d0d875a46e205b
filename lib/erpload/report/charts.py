"""Inline SVG line charts for report.html, drawn in Python: no JavaScript, no external URL.

Each chart is one `<svg id=...>` with gridlines, axis labels, one `<polyline class="series ...">`
per series (gaps where a value is missing), dashed stage boundaries with their names, a legend.
The pieces every chart shares (the `<svg>` head, "no data", round ticks, the y grid, a series'
polyline and legend entry, runs of known values) are here too; `history_chart` draws with them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape

from erpload.report.summary import Stage

W, H = 920, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 36
PALETTE = ("#2563eb", "#f59e0b", "#dc2626", "#059669", "#7c3aed")


@dataclass
class Series:
    """One line: legend name, values aligned with the chart's t (None = no value), colour."""

    name: str
    values: Sequence[float | None]
    color: str = ""


def ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round ticks covering [min(lo, 0), max(hi, 0)] in 1/2/5 x 10^k steps ([0, 1] when nothing to cover)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    span = hi - lo
    if span <= 0 or not math.isfinite(span):
        return [0.0, 1.0]
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [i * step for i in range(first, last + 1)]


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 .. >= top in 1/2/5 x 10^k steps."""
    return ticks(0.0, top, count)


def svg_open(chart_id: str, title: str, height: int = H, css_class: str = "chart") -> list[str]:
    """The `<svg>` element's opening, its `<title>` and the visible title."""
    return [
        f'<svg id="{escape(chart_id)}" class="{escape(css_class)}" viewBox="0 0 {W} {height}" width="100%" '
        f'role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text class="chart-title" x="{LEFT}" y="18">{escape(title)}</text>',
    ]


def no_data(text: str = "no data") -> str:
    """The centred note of a chart with nothing to draw."""
    return f'<text class="no-data" x="{W / 2}" y="{H / 2}" text-anchor="middle">{escape(text)}</text>'


def y_grid(
    marks: Sequence[float],
    y: Callable[[float], float],
    label: Callable[[float], str],
    zero_axis: bool = False,
) -> list[str]:
    """A gridline and a label per tick (the 0 line drawn as the axis when `zero_axis`)."""
    parts = []
    for tick in marks:
        yy = y(tick)
        grid = "axis" if zero_axis and tick == 0 else "grid"
        parts.append(f'<line class="{grid}" x1="{LEFT}" x2="{W - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">{escape(label(tick))}</text>'
        )
    return parts


def series_class(name: str) -> str:
    """'series series-get--orders' for 'GET /orders': a stable hook per series."""
    return "series series-" + "".join(ch if ch.isalnum() else "-" for ch in name.lower())


def polyline(css_class: str, color: str, points: Iterable[tuple[float, float]]) -> str:
    """One run of a series, as chart coordinates."""
    pts = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    return f'<polyline class="{escape(css_class)}" fill="none" stroke="{color}" stroke-width="1.8" points="{pts}"/>'


def legend(lx: int, ly: int, color: str, name: str) -> list[str]:
    """A legend entry: a colour swatch at (lx, ly) and the series' name."""
    return [
        f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{color}"/>',
        f'<text class="legend" x="{lx + 14}" y="{ly + 9}">{escape(name)}</text>',
    ]


def known_runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Runs of consecutive known (finite) values as (index, value); a missing value ends a run."""
    out: list[list[tuple[int, float]]] = []
    run: list[tuple[int, float]] = []
    for i, v in enumerate(values):
        if v is None or not math.isfinite(v):
            if run:
                out.append(run)
            run = []
        else:
            run.append((i, v))
    if run:
        out.append(run)
    return out


def _fmt_tick(v: float, unit: str) -> str:
    if unit == "%":
        return f"{v * 100:g}%"
    text = f"{v:,.0f}" if v >= 100 or v == int(v) else f"{v:.2g}"
    return f"{text}{unit}"


def _fmt_time(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def line_chart(
    chart_id: str,
    title: str,
    t: Sequence[float],
    series: Sequence[Series],
    stages: Sequence[Stage] = (),
    unit: str = "",
) -> str:
    """An SVG line chart over time `t` (seconds since start)."""
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    parts = svg_open(chart_id, title)
    values = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    if not t or not values:
        return "".join(parts) + no_data() + "</svg>"
    t0, t1 = min(t), max(t)
    t0 = min(t0, *(s.start_s for s in stages)) if stages else t0
    span = (t1 - t0) or 1.0
    marks = nice_ticks(max(values))
    top = marks[-1] or 1.0

    def x(v: float) -> float:
        return LEFT + (v - t0) / span * pw

    def y(v: float) -> float:
        return TOP + ph - v / top * ph

    parts += y_grid(marks, y, lambda tick: _fmt_tick(tick, unit))
    for i in range(6):
        tv = t0 + span * i / 5
        parts.append(
            f'<text class="tick" x="{x(tv):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{_fmt_time(tv)}</text>'
        )
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{W - RIGHT}" y1="{TOP + ph}" y2="{TOP + ph}"/>')
    for stage in stages:
        xs = x(stage.start_s)
        parts.append(f'<line class="stage-line" x1="{xs:.1f}" x2="{xs:.1f}" y1="{TOP}" y2="{TOP + ph}"/>')
        parts.append(f'<text class="stage-label" x="{xs + 3:.1f}" y="{TOP + 10}">{escape(stage.name)}</text>')
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        for seg in _segments(t, s.values):
            parts.append(polyline(series_class(s.name), color, ((x(tv), y(v)) for tv, v in seg)))
        parts += legend(LEFT + 8 + i * 110, H - 14, color, s.name)
    parts.append("</svg>")
    return "".join(parts)


def _segments(t: Sequence[float], values: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive known points over time (a single point is drawn as a tiny segment)."""
    out = [[(t[i], v) for i, v in run] for run in known_runs(values[: len(t)])]
    return [r if len(r) > 1 else [r[0], (r[0][0] + 1e-3, r[0][1])] for r in out]
