"""The growth run's tables (Markdown) and charts (HTML with inline SVG, log-scale x; no JavaScript).

Charts reuse erpload.report.charts (nice_ticks for the y axis, its palette and CSS classes).
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from erpload.report.charts import PALETTE, nice_ticks

W, H = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 60, 210, 30, 40
TOP_ENDPOINTS = 8  # endpoints drawn per chart (the most requested); the tables list all
MIN_SAMPLES = 20  # as growth.MIN_SAMPLES: fewer requests at a point give no p95 worth a row


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def _n(v: int) -> str:
    return (
        f"{v // 1_000_000}M"
        if v >= 1_000_000 and v % 1_000_000 == 0
        else f"{v // 1000}k"
        if v >= 1000
        else str(v)
    )


def _endpoints(result: dict[str, Any]) -> list[str]:
    """Endpoints by total requests over the grid, most requested first; left out: RBAC probes (403s
    by design) and endpoints with fewer than MIN_SAMPLES requests at every point (no p95 to read)."""
    total: dict[str, int] = {}
    most: dict[str, int] = {}
    for p in result["points"]:
        for label, e in p["endpoints"].items():
            total[label] = total.get(label, 0) + (e["count"] or 0)
            most[label] = max(most.get(label, 0), e["count"] or 0)
    keep = [k for k in total if "[rbac-probe]" not in k and most[k] >= MIN_SAMPLES]
    return sorted(keep, key=lambda k: -total[k])


def _point(result: dict[str, Any], n: int, users: int) -> dict[str, Any] | None:
    return next((p for p in result["points"] if p["n"] == n and p["users"] == users), None)


def _entry(result: dict[str, Any], n: int, users: int, label: str) -> dict[str, Any] | None:
    p = _point(result, n, users)
    return None if p is None else p["endpoints"].get(label)


def _valid(result: dict[str, Any], n: int, users: int) -> bool:
    p = _point(result, n, users)
    return p is not None and p.get("verdict") != "invalid"


def _p95(result: dict[str, Any], n: int, users: int, label: str) -> float | None:
    """What the charts draw: the p95 of a valid point resting on >= MIN_SAMPLES requests."""
    e = _entry(result, n, users, label)
    if e is None or (e["count"] or 0) < MIN_SAMPLES or not _valid(result, n, users):
        return None
    return e["p95"]


def _cell(result: dict[str, Any], n: int, users: int, label: str) -> str:
    """A table cell: the p95; (x) from fewer than MIN_SAMPLES requests, [x] from an INVALID run."""
    e = _entry(result, n, users, label)
    if e is None or e["p95"] is None:
        return "-"
    if not _valid(result, n, users):
        return f"[{_ms(e['p95'])}]"
    return _ms(e["p95"]) if (e["count"] or 0) >= MIN_SAMPLES else f"({_ms(e['p95'])})"


def _verdict(p: dict[str, Any]) -> str:
    """The run's verdict; INVALID with its first reason (such a point is not fitted)."""
    v = p.get("verdict") or "?"
    if v == "invalid":
        return "INVALID (not fitted): " + (p.get("invalid") or ["?"])[0].split(":")[0]
    return v


def _fit_cell(fit: dict[str, Any] | None) -> str:
    if not fit:
        return "-"
    if fit.get("model") is None:
        return "not fitted (< 3 valid points with >= 20 requests)"
    r2 = "" if fit["model"] == "constant" else f", R² {fit['r2']:.2f}"
    return f"~{fit['model']}{r2} (k {fit['k']:.2f})"


def render_markdown(result: dict[str, Any]) -> str:
    """Per-point summary, p95 vs data size at every user count, p95 vs users, with the fits."""
    sizes, users = result["sizes"], result["users"]
    lines = [
        "| orders | users | requests | req/s | errors | target CPU | p95 from | verdict |",
        "|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for p in result["points"]:
        err = p.get("error_rate")
        lines.append(
            f"| {_n(p['n'])} | {p['users']} | {p['requests'] or 0:,} | {p['rps'] or 0:.0f} | "
            f"{'-' if err is None else f'{err:.1%}'} | {p['target_cpu_share']:.0%} | {p['scope']} | {_verdict(p)} |"
        )
    out = [
        "#### Grid points",
        "",
        *lines,
        "",
        f"p95 in ms; (x): from fewer than {MIN_SAMPLES} requests, [x]: from an INVALID run (the "
        "generator was overloaded); neither is fitted nor drawn. Growth: the best of "
        "constant / log n / n / n log n by least squares (erpload.core.growth), R² of that fit, "
        "k = log-log slope (p95 ~ n^k).",
        "",
    ]
    labels = _endpoints(result)
    for u in users:
        fit = result["fit_n"][str(u)]
        head = "| endpoint | " + " | ".join(f"p95 @ {_n(n)} (ms)" for n in sizes) + " | growth in n |"
        rows = [head, "|---|" + "---:|" * len(sizes) + "---|"]
        for label in labels:
            cells = " | ".join(_cell(result, n, u, label) for n in sizes)
            rows.append(f"| `{label}` | {cells} | {_fit_cell(fit.get(label))} |")
        out += [f"#### p95 against data size, {u} users", "", *rows, ""]
    for n in sizes:
        fit = result["fit_users"][str(n)]
        head = "| endpoint | " + " | ".join(f"p95 @ {u} users (ms)" for u in users) + " | growth in users |"
        rows = [head, "|---|" + "---:|" * len(users) + "---|"]
        for label in labels:
            cells = " | ".join(_cell(result, n, u, label) for u in users)
            rows.append(f"| `{label}` | {cells} | {_fit_cell(fit.get(label))} |")
        out += [f"#### p95 against users, {_n(n)} orders", "", *rows, ""]
    return "\n".join(out)


def log_chart(
    chart_id: str, title: str, xs: list[int], series: list[tuple[str, list[float | None]]], xlabel: str
) -> str:
    """An SVG chart of p95 (ms, linear y) against a log-scale x, one polyline + markers per series."""
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {W} {H}" width="100%" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" style="background:#fff;font:11px sans-serif">',
        f'<text x="{LEFT}" y="18" font-weight="bold">{escape(title)}</text>',
    ]
    vals = [v for _, ys in series for v in ys if v is not None]
    if not vals:
        return "".join(parts) + f'<text x="{W / 2}" y="{H / 2}">no data</text></svg>'
    ticks = nice_ticks(max(vals))
    top = ticks[-1] or 1.0
    lo, hi = math.log10(min(xs)), math.log10(max(xs))

    def x(v: float) -> float:
        return LEFT + (math.log10(v) - lo) / ((hi - lo) or 1) * pw

    def y(v: float) -> float:
        return TOP + ph - v / top * ph

    for t in ticks:
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{y(t):.1f}" y2="{y(t):.1f}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(t) + 4:.1f}" text-anchor="end">{t:g} ms</text>')
    for v in xs:
        parts.append(f'<text x="{x(v):.1f}" y="{TOP + ph + 16}" text-anchor="middle">{_n(v)}</text>')
    parts.append(
        f'<text x="{LEFT + pw / 2}" y="{H - 6}" text-anchor="middle">{escape(xlabel)} (log scale)</text>'
    )
    parts.append(f'<line x1="{LEFT}" x2="{LEFT + pw}" y1="{TOP + ph}" y2="{TOP + ph}" stroke="#6b7280"/>')
    colors = [*PALETTE, "#0891b2", "#be185d", "#4d7c0f"]
    for i, (name, ys) in enumerate(series):
        c = colors[i % len(colors)]
        pts = [(x(v), y(p)) for v, p in zip(xs, ys, strict=True) if p is not None]
        if len(pts) > 1:
            path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
            parts.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{path}"/>')
        parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{c}"/>' for a, b in pts]
        ly = TOP + 4 + i * 15
        parts.append(f'<rect x="{LEFT + pw + 12}" y="{ly}" width="10" height="10" fill="{c}"/>')
        parts.append(f'<text x="{LEFT + pw + 26}" y="{ly + 9}">{escape(name[:30])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def charts(result: dict[str, Any]) -> list[str]:
    """p95 vs orders at the reference user count, and p95 vs users at the largest size."""
    labels = _endpoints(result)[:TOP_ENDPOINTS]
    sizes, users = result["sizes"], result["users"]
    ru = result["ref_users"]
    rn = max(sizes, key=lambda n: (sum(_valid(result, n, u) for u in users), -n))  # most valid points
    by_n = [(lb, [_p95(result, n, ru, lb) for n in sizes]) for lb in labels]
    by_u = [(lb, [_p95(result, rn, u, lb) for u in users]) for lb in labels]
    return [
        log_chart("growth-n", f"p95 against data size ({ru} users)", sizes, by_n, "manufacturing orders"),
        log_chart("growth-users", f"p95 against users ({_n(rn)} orders)", users, by_u, "users"),
    ]


def render_html(result: dict[str, Any]) -> str:
    """A self-contained page: both charts, the fits in words, then the tables (as preformatted Markdown)."""
    fits = result["fit_n"][str(result["ref_users"])]
    words = "".join(f"<li>{escape(f['text'])}</li>" for f in fits.values() if f.get("model"))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>erpload growth</title>"
        "<style>body{font:14px sans-serif;margin:24px;max-width:820px}pre{font-size:12px}</style></head><body>"
        f"<div id='charts'><h1>p95 growth: data size and users</h1>{''.join(charts(result))}</div>"
        f"<h2>Fitted growth in n ({result['ref_users']} users)</h2><ul>{words}</ul>"
        f"<h2>Tables</h2><pre>{escape(render_markdown(result))}</pre></body></html>"
    )
