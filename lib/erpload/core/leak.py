"""Memory-leak detection on an RSS time series (pure maths: no psutil, no Locust, no scipy).

    result = analyse(t_s, rss_mb, requests=cumulative_request_counts)
    result.verdict      # "leak" | "no leak" | "inconclusive (too short)"

Method: drop the warm-up (caches, pools and allocator arenas fill at the start of any run), take the
median of the first post-warm-up points as the baseline, fit a Theil–Sen slope (the median of all
pairwise slopes: robust to GC steps and outliers) and run a Mann–Kendall trend test. A leak needs
both a significant upward trend and practically relevant growth over the analysed span, so a flat,
noisy series is never flagged and a real leak of a few MB per minute is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

LEAK, NO_LEAK, INCONCLUSIVE = "leak", "no leak", "inconclusive (too short)"
MAX_POINTS = 400  # Theil–Sen is O(n^2): longer series are thinned evenly first


@dataclass(frozen=True)
class LeakSettings:
    """Thresholds of the detector (defaults suit 1 s samples from runs of one minute to a day)."""

    warmup_fraction: float = 0.2  # share of the series skipped as warm-up ...
    warmup_min_s: float = 10.0  # ... but at least this long
    min_points: int = 12  # post-warm-up points needed for a verdict
    min_span_s: float = 30.0  # post-warm-up span needed for a verdict
    alpha: float = 0.01  # Mann–Kendall significance level (one-sided, upward)
    min_growth_mb: float = 8.0  # fitted growth over the span must exceed this ...
    min_growth_fraction: float = 0.05  # ... and this share of the baseline


@dataclass(frozen=True)
class LeakResult:
    """The verdict and the numbers behind it (MB, minutes, KiB per request)."""

    verdict: str
    n: int
    span_s: float
    baseline_mb: float | None = None
    final_mb: float | None = None
    peak_mb: float | None = None
    growth_pct: float | None = None
    slope_mb_per_min: float | None = None
    kb_per_request: float | None = None
    mk_z: float | None = None
    p_value: float | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (floats rounded)."""
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in asdict(self).items()}


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2.0


def thin(n: int, max_points: int = MAX_POINTS) -> list[int]:
    """Up to `max_points` evenly spaced indices of range(n), first and last included."""
    if n <= max_points:
        return list(range(n))
    step = (n - 1) / (max_points - 1)
    return sorted({round(i * step) for i in range(max_points)})


def theil_sen(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Median of the pairwise slopes (y_j - y_i) / (x_j - x_i); None with fewer than 2 distinct x."""
    idx = thin(len(x))
    xs, ys = [x[i] for i in idx], [y[i] for i in idx]
    slopes = [
        (ys[j] - ys[i]) / (xs[j] - xs[i])
        for i in range(len(xs))
        for j in range(i + 1, len(xs))
        if xs[j] != xs[i]
    ]
    return median(slopes) if slopes else None


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z (via math.erf)."""
    return 0.5 * (1.0 - math.erf(z / math.sqrt(2.0)))


def mann_kendall(y: Sequence[float]) -> tuple[float, float]:
    """Mann–Kendall trend test with tie correction: (z, one-sided p-value for an upward trend)."""
    ys = [y[i] for i in thin(len(y))]
    n = len(ys)
    if n < 3:
        return 0.0, 1.0
    s = 0
    for i in range(n - 1):
        yi = ys[i]
        for j in range(i + 1, n):
            d = ys[j] - yi
            s += (d > 0) - (d < 0)
    ties: dict[float, int] = {}
    for v in ys:
        ties[v] = ties.get(v, 0) + 1
    var = (n * (n - 1) * (2 * n + 5) - sum(c * (c - 1) * (2 * c + 5) for c in ties.values())) / 18.0
    if var <= 0:
        return 0.0, 1.0
    z = (s - 1) / math.sqrt(var) if s > 0 else (s + 1) / math.sqrt(var) if s < 0 else 0.0
    return z, normal_sf(z)


def analyse(
    t_s: Sequence[float],
    rss_mb: Sequence[float],
    requests: Sequence[float] | None = None,
    settings: LeakSettings | None = None,
) -> LeakResult:
    """Leak verdict for RSS samples `rss_mb` at times `t_s` (s); `requests`: cumulative counts, same length."""
    cfg = settings or LeakSettings()
    pts = [(t, v) for t, v in zip(t_s, rss_mb, strict=False) if v is not None and math.isfinite(v)]
    reqs = list(requests) if requests is not None and len(requests) == len(t_s) else None
    if reqs is not None:
        reqs = [r for r, v in zip(reqs, rss_mb, strict=False) if v is not None and math.isfinite(v)]
    if len(pts) < 2:
        return LeakResult(INCONCLUSIVE, len(pts), 0.0, reason="fewer than 2 samples")
    t_first, t_last = pts[0][0], pts[-1][0]
    warmup = max(cfg.warmup_min_s, cfg.warmup_fraction * (t_last - t_first))
    keep = [i for i, (t, _) in enumerate(pts) if t >= t_first + warmup]
    xs = [pts[i][0] for i in keep]
    ys = [pts[i][1] for i in keep]
    peak = max(v for _, v in pts)
    span = (xs[-1] - xs[0]) if xs else 0.0
    if len(xs) < cfg.min_points or span < cfg.min_span_s:
        return LeakResult(
            INCONCLUSIVE,
            len(xs),
            round(span, 3),
            peak_mb=peak,
            reason=f"{len(xs)} points over {span:.0f}s after a {warmup:.0f}s warm-up "
            f"(need {cfg.min_points} over {cfg.min_span_s:.0f}s)",
        )
    k = max(3, len(ys) // 10)
    baseline, final = median(ys[:k]), median(ys[-k:])
    growth = (final - baseline) / baseline if baseline > 0 else None
    slope_s = theil_sen(xs, ys) or 0.0
    z, p = mann_kendall(ys)
    kb_per_req = None
    if reqs is not None:
        rx = [reqs[i] for i in keep]
        if rx[-1] > rx[0]:
            per_req = theil_sen(rx, ys)
            kb_per_req = None if per_req is None else per_req * 1024.0
    fitted = slope_s * span
    need = max(cfg.min_growth_mb, cfg.min_growth_fraction * baseline)
    if p < cfg.alpha and slope_s > 0 and fitted >= need:
        verdict, reason = LEAK, f"upward trend (p={p:.2g}), {fitted:.1f} MB fitted growth over {span:.0f}s"
    elif p >= cfg.alpha:
        verdict, reason = NO_LEAK, f"no significant upward trend (p={p:.2g})"
    elif slope_s <= 0:
        verdict, reason = NO_LEAK, f"robust slope {slope_s * 60:.2f} MB/min is not upward (p={p:.2g})"
    else:
        verdict, reason = (
            NO_LEAK,
            f"trend too small: {fitted:.1f} MB fitted growth over {span:.0f}s < {need:.1f} MB",
        )
    return LeakResult(
        verdict,
        len(xs),
        round(span, 3),
        baseline,
        final,
        peak,
        None if growth is None else growth * 100.0,
        slope_s * 60.0,
        kb_per_req,
        z,
        p,
        reason,
    )
