"""Inline SVG line charts for report.html, drawn in Python: no JavaScript, no external URL.

Each chart is one `<svg id=...>` with gridlines, axis labels, one `<polyline class="series ...">`
per series (gaps where a value is missing), dashed stage boundaries with their names, a legend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """0 .. >= top in 1/2/5 x 10^k steps."""
    if top <= 0 or not math.isfinite(top):
        return [0.0, 1.0]
    raw = top / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    n = math.ceil(top / step - 1e-9)
    return [i * step for i in range(n + 1)]


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
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {W} {H}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<text class="chart-title" x="{LEFT}" y="18">{escape(title)}</text>',
    ]
    values = [v for s in series for v in s.values if v is not None and math.isfinite(v)]
    if not t or not values:
        parts.append(
            f'<text class="no-data" x="{W / 2}" y="{H / 2}" text-anchor="middle">no data</text></svg>'
        )
        return "".join(parts)
    t0, t1 = min(t), max(t)
    t0 = min(t0, *(s.start_s for s in stages)) if stages else t0
    span = (t1 - t0) or 1.0
    ticks = nice_ticks(max(values))
    top = ticks[-1] or 1.0

    def x(v: float) -> float:
        return LEFT + (v - t0) / span * pw

    def y(v: float) -> float:
        return TOP + ph - v / top * ph

    for tick in ticks:
        yy = y(tick)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}"/>')
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">{_fmt_tick(tick, unit)}</text>'
        )
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
        cls = "series series-" + "".join(ch if ch.isalnum() else "-" for ch in s.name.lower())
        for seg in _segments(t, s.values):
            pts = " ".join(f"{x(tv):.1f},{y(v):.1f}" for tv, v in seg)
            parts.append(
                f'<polyline class="{escape(cls)}" fill="none" stroke="{color}" stroke-width="1.8" points="{pts}"/>'
            )
        lx = LEFT + 8 + i * 110
        parts.append(f'<rect x="{lx}" y="{H - 14}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text class="legend" x="{lx + 14}" y="{H - 5}">{escape(s.name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _segments(t: Sequence[float], values: Sequence[float | None]) -> list[list[tuple[float, float]]]:
    """Runs of consecutive known points (a single point is drawn as a tiny segment)."""
    out: list[list[tuple[float, float]]] = []
    run: list[tuple[float, float]] = []
    for tv, v in zip(t, values, strict=False):
        if v is None or not math.isfinite(v):
            if run:
                out.append(run)
            run = []
        else:
            run.append((tv, v))
    if run:
        out.append(run)
    return [r if len(r) > 1 else [r[0], (r[0][0] + 1e-3, r[0][1])] for r in out]
