"""How a latency grows with a size: fit p95(n) to constant, log n, n or n log n (pure, no I/O).

Each growth model is `y = a + b * f(n)` with f in (log n, n, n log n), fitted by ordinary least
squares with b >= 0 (a negative slope is no growth: the constant model). All three have two
parameters, so the best is the one with the highest R². The constant model wins instead when the
best fit's rise over the measured range is within noise: less than `rel_tol` of its start, or less
than `abs_tol` in absolute terms (a 1 ms rise of a 2 ms endpoint is not growth on a shared machine).

Also reported: the log-log slope k (y ~ n^k by least squares on log y vs log n), a model-free check
(k ~ 0 constant, k ~ 1 linear; log n growth shows as a small positive k).

At least 3 distinct sizes are needed (two points fit every two-parameter model exactly): fewer is a
ValueError, never a guess.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

MODELS: dict[str, Callable[[float], float]] = {
    "log n": math.log,
    "n": lambda n: n,
    "n log n": lambda n: n * math.log(n),
}
CONSTANT = "constant"
REL_TOL = 0.25  # a rise under 25 % of the smallest size's fitted value counts as constant ...
ABS_TOL = 2.0  # ... and so does a rise under 2 (ms): the resolution of a p95 on a busy machine


@dataclass(frozen=True)
class Fit:
    """One model fitted to the points: y = a + b * f(n)."""

    model: str
    a: float
    b: float
    r2: float


@dataclass(frozen=True)
class Growth:
    """The best growth model for one series of (n, y), with every model's fit for the record."""

    model: str  # "constant", "log n", "n" or "n log n"
    r2: float  # R² of the chosen model (the constant model: of the best fit it stands for)
    slope_loglog: float  # k in y ~ n^k
    rise: float  # the best non-constant fit's rise over the range, y units
    rel_rise: float  # ... relative to its value at the smallest n
    fits: tuple[Fit, ...]
    points: int

    def describe(self, endpoint: str = "", variable: str = "n") -> str:
        """'GET /x p95 grows ~log n (R² 0.97, n^0.12)' or 'GET /x p95 is ~constant in n (...)'."""
        who = f"{endpoint} p95" if endpoint else "p95"
        shape = self.model.replace("n", variable) if self.model != CONSTANT else ""
        if self.model == CONSTANT:
            return f"{who} is ~constant in {variable} (rise {self.rise:+.1f} ms, {variable}^{self.slope_loglog:.2f})"
        return f"{who} grows ~{shape} (R² {self.r2:.2f}, {variable}^{self.slope_loglog:.2f})"


def _least_squares(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """(a, b) of y = a + b x; b = 0 when all x are equal."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return my, 0.0
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return my - b * mx, b


def _r2(ys: Sequence[float], pred: Sequence[float]) -> float:
    """Coefficient of determination; 1.0 for a flat series predicted exactly."""
    my = sum(ys) / len(ys)
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - p) ** 2 for y, p in zip(ys, pred, strict=True))
    if ss_tot == 0:
        return 1.0 if ss_res == 0 else 0.0
    return 1.0 - ss_res / ss_tot


def fit_model(model: str, ns: Sequence[float], ys: Sequence[float]) -> Fit:
    """Least-squares fit of one model (b clamped to >= 0: then it is the mean, a flat line)."""
    if model == CONSTANT:
        mean = sum(ys) / len(ys)
        return Fit(CONSTANT, mean, 0.0, _r2(ys, [mean] * len(ys)))
    f = MODELS[model]
    xs = [f(n) for n in ns]
    a, b = _least_squares(xs, ys)
    if b < 0:
        a, b = sum(ys) / len(ys), 0.0
    return Fit(model, a, b, _r2(ys, [a + b * x for x in xs]))


def _check(ns: Sequence[float], ys: Sequence[float | None]) -> tuple[list[float], list[float]]:
    """The usable points (y known, finite, > 0; n > 1) or a ValueError saying what is wrong."""
    if len(ns) != len(ys):
        raise ValueError(f"growth fit: {len(ns)} sizes but {len(ys)} values")
    pts = [
        (float(n), float(y))
        for n, y in zip(ns, ys, strict=True)
        if y is not None and math.isfinite(y) and y > 0 and n > 1
    ]
    if len({n for n, _ in pts}) < 3:
        raise ValueError(
            f"growth fit: needs values at >= 3 distinct sizes > 1, got {len(pts)} usable of {len(ns)} "
            f"(sizes {list(ns)}, values {list(ys)}); measure more sizes or fix the missing values"
        )
    return [n for n, _ in pts], [y for _, y in pts]


def fit_growth(
    ns: Sequence[float], ys: Sequence[float | None], rel_tol: float = REL_TOL, abs_tol: float = ABS_TOL
) -> Growth:
    """The best of constant / log n / n / n log n for y measured at sizes n (see the module doc)."""
    xs, vals = _check(ns, ys)
    fits = tuple(fit_model(m, xs, vals) for m in (CONSTANT, *MODELS))
    growing = [f for f in fits if f.model != CONSTANT and f.b > 0]
    lo, hi = min(xs), max(xs)
    k = _least_squares([math.log(x) for x in xs], [math.log(v) for v in vals])[1]
    if not growing:
        return Growth(CONSTANT, fits[0].r2, k, 0.0, 0.0, fits, len(xs))
    best = max(growing, key=lambda f: f.r2)
    f = MODELS[best.model]
    start = best.a + best.b * f(lo)
    rise = best.b * (f(hi) - f(lo))
    rel = rise / start if start > 0 else math.inf
    if rise < abs_tol or rel < rel_tol:
        return Growth(CONSTANT, best.r2, k, rise, rel, fits, len(xs))
    return Growth(best.model, best.r2, k, rise, rel, fits, len(xs))
