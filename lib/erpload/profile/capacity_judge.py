"""When a capacity level may be judged (pure): settled before its hold, enough samples in its hold.

A level's verdict must not depend on luck. Two things decide it by chance near the knee:
- the transient of reaching the level: new users log in and start together, the ERP queues them,
  and the backlog drains over seconds. `steady` says when it has: the mean response time of the
  last `STEADY_WINDOW_S` seconds within `STEADY_REL` (or `STEADY_ABS_MS`) of the window before,
  `STEADY_CHECKS` ticks in a row (one equal pair at the backlog's peak is not a settled level).
- the tail of a short hold: a p95 over 270 samples is decided by 14 of them, so one burst moves
  it. `judge` gives a percentile rule (`pNN <`/`<=` a threshold) distribution-free confidence
  bounds from order statistics (the number of samples below the true q-quantile is Binomial(n, q);
  exact one-sided 95 % bounds, `ALPHA`): PASS only when the upper bound meets the threshold, BREAK
  when the lower bound fails it, STRADDLE when the interval holds the threshold, FEW when n is too
  small for the bound that would decide (a p95 needs 59 samples before it can pass at all: even
  their maximum is an upper bound only with 1 - 0.95^59 >= 95 % confidence, Wilks). The driver holds a level on while a rule is STRADDLE or FEW
  (up to `HOLD_EXTEND` x the hold); then STRADDLE counts as a break (not shown to hold) and FEW
  leaves the level not judged: never a pass (fail closed).
The interval assumes independent samples; queueing makes neighbours correlated, so the true
uncertainty is wider. The minimum hold, the settle and the second run of both boundary levels
(erpload.profile.capacity_search) are there for what the interval does not see.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace

from erpload.core.snapshot import Snapshot
from erpload.core.units import fmt_value
from erpload.sla.evaluation import RuleResult, evaluate_rule
from erpload.sla.metrics import percentile_of

ALPHA = 0.05  # each bound holds with 95 % confidence (one-sided)
HOLD_EXTEND = 3.0  # a hold whose verdict is not yet decided goes on up to this x its length
STEADY_WINDOW_S = 2.0
STEADY_REL, STEADY_ABS_MS = 0.25, 20.0
STEADY_CHECKS = 3
SETTLE_EXTEND_S = 20.0  # a settle that never steadies ends at most max(this, settle) later: hold anyway
PASS, BREAK, STRADDLE, FEW = "pass", "break", "straddle", "few"


def quantile_ranks(n: int, q: float, alpha: float = ALPHA) -> tuple[int | None, int | None]:
    """1-based ranks (lower, upper): the q-quantile is >= the lower-th and <= the upper-th smallest of
    n samples, each with confidence 1 - alpha (exact binomial); None where n is too small for it."""
    if n <= 0 or not 0 < q < 1:
        return None, None
    spread = 12 * math.sqrt(n * q * (1 - q)) + 2  # binomial mass beyond 12 sd is far below alpha
    upper, acc = n + 1, 0.0  # upper: the smallest k with P(Binomial(n, q) >= k) <= alpha
    for k in range(n, max(-1, math.floor(n * q - spread)), -1):
        acc += _pmf(n, k, q)
        if acc > alpha:
            break
        upper = k
    lower, acc = 0, 0.0  # lower: the largest k with P(Binomial(n, q) <= k - 1) <= alpha
    for k in range(max(0, math.floor(n * q - spread)), n + 1):
        acc += _pmf(n, k, q)
        if acc > alpha:
            break
        lower = k + 1
    return (lower if lower >= 1 else None), (upper if upper <= n else None)


def _pmf(n: int, k: int, q: float) -> float:
    log_p = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return math.exp(log_p + k * math.log(q) + (n - k) * math.log1p(-q))


def steady(prev_ms: float | None, last_ms: float | None) -> bool:
    """Two consecutive windows' mean response times agree (no samples in both: idle, steady)."""
    if prev_ms is None or last_ms is None:
        return prev_ms is None and last_ms is None
    return abs(last_ms - prev_ms) <= max(STEADY_REL * prev_ms, STEADY_ABS_MS)


def mean_ms(window: Snapshot) -> float | None:
    """The window's mean response time over every request (None without samples)."""
    total = window.total if window.total is not None else window.total_stats()
    return total.avg_ms if total is not None else None


Evaluate = Callable[..., RuleResult]


def judge(
    result: RuleResult, window: Snapshot, windows: Mapping[str, Snapshot], evaluate: Evaluate = evaluate_rule
) -> tuple[str, RuleResult]:
    """(PASS | BREAK | STRADDLE | FEW, the result with the interval in its detail) of one rule's result.

    Rules other than an upper bound on a percentile keep their point verdict (PASS or BREAK); a
    result without an observation is FEW.
    """
    rule = result.rule
    if result.observed is None:
        return FEW, result
    q = percentile_of(rule.metric)
    if q is None or rule.op not in ("<", "<=") or q >= 1:
        return (PASS if result.passed else BREAK), result
    n = result.samples
    lo_rank, hi_rank = quantile_ranks(n, q)
    low = _at_rank(result, lo_rank, n, window, windows, evaluate)
    high = _at_rank(result, hi_rank, n, window, windows, evaluate)
    ok = (lambda v: v < rule.threshold) if rule.op == "<" else (lambda v: v <= rule.threshold)
    if high is not None and ok(high):
        verdict = PASS
    elif low is not None and not ok(low):
        verdict = BREAK
    elif (high is None and result.passed) or (low is None and not result.passed):
        verdict = FEW
    else:
        verdict = STRADDLE
    shown = [fmt_value("latency", v) if v is not None else "?" for v in (low, high)]
    detail = f"{result.detail}; 90% interval {shown[0]}-{shown[1]} over {n} samples"
    if verdict == FEW:
        detail += f": too few samples for {rule.metric} to be judged"
    elif verdict == STRADDLE:
        detail += ": the interval holds the threshold, not shown to hold"
    return verdict, replace(result, passed=verdict == PASS, detail=detail)


def _at_rank(
    result: RuleResult,
    rank: int | None,
    n: int,
    window: Snapshot,
    windows: Mapping[str, Snapshot],
    evaluate: Evaluate,
) -> float | None:
    """The rule's metric at the rank-th smallest sample (the same scope and window as the rule)."""
    if rank is None:
        return None
    pct = f"{100 * (rank - 0.5) / n:.9f}".rstrip("0").rstrip(".")  # nearest rank of this p is `rank`
    value = evaluate(replace(result.rule, metric=f"p{pct}"), window, windows).observed
    return None if value is None or isinstance(value, bool) else float(value)
