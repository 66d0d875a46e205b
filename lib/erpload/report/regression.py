"""The statistics of a baseline comparison (pure, stdlib only): one verdict per metric with its CI.

    ci = percentile_diff(base_hist, cur_hist, 0.95, random.Random(seed))   # ms, current - baseline
    verdict, reason = judge(ci, floor=5.8)                                  # regressed | improved | ...

Latency: a bootstrap confidence interval of the p95 (p99) difference, resampled from the histograms
summary.json carries. Chosen over a rank test (Mann-Whitney on binned data) because:
- the gate's question is about the tail an SLA names ("p95 worse by more than 10 %?"). Mann-Whitney
  asks whether one distribution is stochastically larger, i.e. mostly whether the body moved: a tail
  regression with an unchanged body (3 % of requests hitting a slow query) passes it, and with 10^5
  samples it flags a 0.2 ms shift of the median that nobody cares about;
- a p-value says *whether*, not *how much*. The effect-size floor (tolerance, 1 ms, bucket width) is
  a size in ms, and needs an interval in ms to be compared with. "regressed" means the whole 95 % CI
  of the difference lies above the floor: a one-sided test of "the increase is at most the floor" at
  the 2.5 % level, so a flagged endpoint is worse by more than the tolerance, not merely different;
- it assumes no distribution shape (latencies are skewed and multi-modal: cache hits and misses).

How, without drawing n values per replicate: the r-th smallest of n draws from the histogram is
F^-1(U(r)), where U(r) ~ Beta(r, n - r + 1) is the r-th smallest of n uniforms. One `betavariate`
and one bisect per replicate give exactly the distribution of the nearest-rank percentile of a
resample of n values, whatever n is (a 24 h soak holds 10^7). The RNG is seeded by the caller, so a
verdict is reproducible. Error rates: Newcombe's hybrid score interval of the difference of two
proportions (valid down to 0 failures); rps: the rate ratio of two Poisson counts, via the Wilson
interval of the conditional binomial.
"""

from __future__ import annotations

import math
import random
import statistics
from bisect import bisect_left
from dataclasses import dataclass
from statistics import NormalDist

from erpload.core.histogram import Histogram, nearest_rank

__all__ = [
    "Interval",
    "judge",
    "noise_band",
    "percentile_diff",
    "proportion_diff",
    "rate_ratio",
    "wilson",
    "z_value",
]

RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    """A point estimate of an effect and its two-sided confidence interval (same unit)."""

    estimate: float
    low: float
    high: float


def z_value(confidence: float) -> float:
    """The two-sided normal quantile: 1.96 for 0.95."""
    if not 0.5 <= confidence < 1:
        raise ValueError(f"confidence must be within 0.5..1 (got {confidence!r}; 0.95 means 95 %)")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


class _Inverse:
    """F^-1 of a histogram: the bucket holding the sample at cumulative fraction u, clamped to [min, max]."""

    def __init__(self, hist: Histogram) -> None:
        self.keys = sorted(hist.counts)
        self.cum: list[int] = []
        total = 0
        for k in self.keys:
            total += hist.counts[k]
            self.cum.append(total)
        self.n = total
        self.lo = hist.min if hist.min is not None else -math.inf
        self.hi = hist.max if hist.max is not None else math.inf

    def at(self, u: float) -> float:
        i = min(bisect_left(self.cum, u * self.n), len(self.keys) - 1)
        return min(max(self.keys[i], self.lo), self.hi)


def percentile_diff(
    base: Histogram,
    cur: Histogram,
    p: float,
    rng: random.Random,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
) -> Interval:
    """Bootstrap CI of percentile(cur) - percentile(base) (ms), both histograms resampled independently."""
    if base.count == 0 or cur.count == 0:
        raise ValueError("a histogram is empty: no percentile to compare")
    if resamples < 100:
        raise ValueError(f"resamples must be >= 100 (got {resamples})")
    z_value(confidence)  # validates
    b, c = _Inverse(base), _Inverse(cur)
    rb, rc = nearest_rank(b.n, p), nearest_rank(c.n, p)
    beta = rng.betavariate
    diffs = sorted(c.at(beta(rc, c.n - rc + 1)) - b.at(beta(rb, b.n - rb + 1)) for _ in range(resamples))
    tail = (1 - confidence) / 2
    low = diffs[int(math.floor(tail * resamples))]
    high = diffs[int(math.ceil((1 - tail) * resamples)) - 1]
    estimate = float(cur.percentile(p) or 0.0) - float(base.percentile(p) or 0.0)
    return Interval(estimate, low, high)


def wilson(k: int, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n ((0, 1) when n is 0)."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion_diff(k_base: int, n_base: int, k_cur: int, n_cur: int, confidence: float = 0.95) -> Interval:
    """Newcombe's hybrid score CI (method 10) of k_cur/n_cur - k_base/n_base."""
    if n_base <= 0 or n_cur <= 0:
        raise ValueError("a side has no requests: no rate to compare")
    z = z_value(confidence)
    p1, p2 = k_base / n_base, k_cur / n_cur
    l1, u1 = wilson(k_base, n_base, z)
    l2, u2 = wilson(k_cur, n_cur, z)
    d = p2 - p1
    return Interval(
        d, d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    )


def rate_ratio(
    count_base: int, secs_base: float, count_cur: int, secs_cur: float, confidence: float = 0.95
) -> Interval:
    """CI of rate(cur) / rate(base) - 1 for two Poisson counts over their durations (conditional binomial)."""
    if secs_base <= 0 or secs_cur <= 0 or count_base + count_cur == 0:
        raise ValueError("no requests or no duration: no rate to compare")
    z = z_value(confidence)
    lo, hi = wilson(count_cur, count_base + count_cur, z)
    scale = secs_base / secs_cur

    def ratio(pi: float) -> float:
        return math.inf if pi >= 1 else pi / (1 - pi) * scale

    estimate = (count_cur / secs_cur) / (count_base / secs_base) if count_base else math.inf
    return Interval(estimate - 1, ratio(lo) - 1, ratio(hi) - 1)


def noise_band(values: list[float], confidence: float) -> float | None:
    """The noise band of N baseline runs: z * sigma * sqrt(1 + 1/N), the half-width within which a new
    run of the same system lands; sigma = 1.4826 * MAD of the runs' own values (one odd run cannot
    blow it up, as it would a range or a standard deviation). None for fewer than 2 runs."""
    if len(values) < 2:
        return None
    mid = statistics.median(values)
    mad = statistics.median(abs(v - mid) for v in values)
    return z_value(confidence) * 1.4826 * mad * math.sqrt(1 + 1 / len(values))


def judge(ci: Interval, floor: float, higher_is_worse: bool = True) -> tuple[str, str]:
    """(verdict, reason): regressed / improved when the whole CI lies beyond +-floor on that side,
    unchanged when it lies within +-floor, inconclusive when it reaches past the floor either way."""
    low, high = (ci.low, ci.high) if higher_is_worse else (-ci.high, -ci.low)
    if low > floor:
        return "regressed", ""
    if high < -floor:
        return "improved", ""
    if -floor <= low and high <= floor:
        return "unchanged", ""
    return "inconclusive", "CI reaches past the floor"
