"""erpload.core.growth: p95 vs size is classified as constant / log n / n / n log n, with R²."""

from __future__ import annotations

import math

import pytest

from erpload.core.growth import CONSTANT, fit_growth, fit_model

SIZES = [10_000, 100_000, 1_000_000]
DENSE = [10_000, 30_000, 100_000, 300_000, 1_000_000]


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        (lambda n: 5 + 3 * math.log(n), "log n"),
        (lambda n: 2 + n / 1000, "n"),
        (lambda n: 1 + n * math.log(n) / 20_000, "n log n"),
    ],
)
def test_exact_curves_are_recognised(shape, expected):
    g = fit_growth(DENSE, [shape(n) for n in DENSE])
    assert g.model == expected
    assert g.r2 == pytest.approx(1.0, abs=1e-9)
    assert g.points == 5


def test_three_sizes_tell_log_from_linear():
    log_like = fit_growth(SIZES, [20.0, 27.0, 34.0])  # equal steps per decade: log n
    lin_like = fit_growth(SIZES, [20.0, 40.0, 220.0])  # +20 then +180: proportional to n
    assert log_like.model == "log n"
    assert lin_like.model in ("n", "n log n")
    assert lin_like.slope_loglog > log_like.slope_loglog


def test_flat_and_noisy_small_values_are_constant():
    flat = fit_growth(SIZES, [12.0, 12.0, 12.0])
    assert flat.model == CONSTANT and flat.rise == 0
    noisy = fit_growth(SIZES, [3.0, 4.0, 3.5])  # +1 ms: under the absolute tolerance
    assert noisy.model == CONSTANT
    small_rel = fit_growth(SIZES, [200.0, 210.0, 215.0])  # +15 ms on 200 ms: under 25 %
    assert small_rel.model == CONSTANT
    assert "constant" in small_rel.describe("GET /x")


def test_falling_latency_is_not_growth():
    g = fit_growth(SIZES, [50.0, 30.0, 10.0])
    assert g.model == CONSTANT
    assert g.slope_loglog < 0


def test_tolerances_are_parameters():
    ys = [200.0, 215.0, 230.0]  # +30 ms: 15 % of the start
    assert fit_growth(SIZES, ys).model == CONSTANT
    assert fit_growth(SIZES, ys, abs_tol=50.0, rel_tol=0.0).model == CONSTANT
    assert fit_growth(SIZES, ys, rel_tol=0.1).model == "log n"


def test_describe_names_model_r2_and_variable():
    g = fit_growth(SIZES, [20.0, 27.0, 34.0])
    text = g.describe("GET /ppic/manufacturing-orders", variable="users")
    assert text.startswith("GET /ppic/manufacturing-orders p95 grows ~log users")
    assert "R² 1.00" in text


def test_negative_slope_clamps_to_the_mean():
    f = fit_model("n", SIZES, [5.0, 4.0, 3.0])
    assert f.b == 0 and f.a == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("ns", "ys", "needle"),
    [
        (SIZES[:2], [1.0, 2.0], ">= 3 distinct sizes"),
        (SIZES, [1.0, None, 2.0], "2 usable of 3"),
        (SIZES, [1.0, math.nan, 2.0], "2 usable"),
        (SIZES, [1.0, 2.0], "3 sizes but 2 values"),
        ([10_000, 10_000, 10_000], [1.0, 2.0, 3.0], "distinct"),
    ],
)
def test_too_few_points_is_an_error_not_a_guess(ns, ys, needle):
    with pytest.raises(ValueError, match="growth fit") as e:
        fit_growth(ns, ys)
    assert needle in str(e.value)
