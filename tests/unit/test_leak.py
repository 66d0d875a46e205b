"""Leak maths (erpload.core.leak): Theil–Sen, Mann–Kendall, verdicts on synthetic RSS series with known truth."""

from __future__ import annotations

import math
import random

import pytest

from erpload.core.leak import INCONCLUSIVE, LEAK, NO_LEAK, analyse, mann_kendall, normal_sf, theil_sen


def series(
    n: int, slope_mb_per_s: float, noise_mb: float, seed: int, base: float = 120.0, dt: float = 1.0
) -> tuple[list[float], list[float]]:
    """n samples every dt s: base + slope*t + gaussian noise, with a warm-up bump in the first 10 s."""
    rng = random.Random(seed)
    t = [i * dt for i in range(n)]
    y = [base + slope_mb_per_s * ti + rng.gauss(0, noise_mb) + (15.0 if ti < 8 else 0.0) for ti in t]
    return t, y


def test_normal_sf_matches_known_values():
    assert normal_sf(0.0) == pytest.approx(0.5)
    assert normal_sf(1.959964) == pytest.approx(0.025, abs=1e-5)
    assert normal_sf(-1.644854) == pytest.approx(0.95, abs=1e-5)


def test_theil_sen_ignores_outliers():
    t = list(range(50))
    y = [2.0 * x + 1 for x in t]
    y[10], y[30] = 500.0, -400.0
    assert theil_sen(t, y) == pytest.approx(2.0)


def test_mann_kendall_sees_monotone_trend_and_not_constant():
    z, p = mann_kendall(list(range(30)))
    assert z > 5 and p < 1e-6
    z, p = mann_kendall([5.0] * 30)  # all ties: no information
    assert z == 0 and p == 1.0


@pytest.mark.parametrize("mb_per_min", [3.0, 12.0, 60.0, 240.0])
def test_known_slope_is_detected_within_ten_percent(mb_per_min: float):
    t, y = series(600, mb_per_min / 60.0, noise_mb=1.0, seed=7)  # 10 min at 1 Hz
    r = analyse(t, y)
    assert r.verdict == LEAK, r
    assert r.slope_mb_per_min == pytest.approx(mb_per_min, rel=0.10)
    assert r.growth_pct is not None and r.growth_pct > 0


def test_kb_per_request_from_request_counts():
    rng = random.Random(3)
    t, reqs, y = [], [], []
    count = 0.0
    for i in range(90):
        count += rng.randint(15, 30)  # uneven request rate
        t.append(float(i))
        reqs.append(count)
        y.append(100.0 + count * 64 / 1024.0 + rng.gauss(0, 0.5))  # 64 KiB per request
    r = analyse(t, y, reqs)
    assert r.verdict == LEAK
    assert r.kb_per_request == pytest.approx(64.0, rel=0.10)


def test_flat_noisy_series_never_leaks_over_many_seeds():
    for seed in range(100):
        t, y = series(300, 0.0, noise_mb=3.0, seed=seed)
        r = analyse(t, y)
        assert r.verdict == NO_LEAK, (seed, r)


def test_flat_series_with_gc_steps_does_not_leak():
    # allocator arenas: a couple of one-off steps up, then flat (not a leak over a long run)
    t = [float(i) for i in range(600)]
    y = [200.0 + (2.0 if i > 100 else 0) + (1.5 if i > 250 else 0) + math.sin(i / 7) for i in range(600)]
    assert analyse(t, y).verdict == NO_LEAK


def test_short_series_are_inconclusive():
    t, y = series(25, 1.0, noise_mb=0.5, seed=1)  # 25 s: 15 s after the warm-up
    r = analyse(t, y)
    assert r.verdict == INCONCLUSIVE and "need" in r.reason
    assert analyse([], []).verdict == INCONCLUSIVE
    assert analyse([0.0], [1.0]).verdict == INCONCLUSIVE


def test_long_series_is_thinned_and_fast():
    t, y = series(20_000, 0.01, noise_mb=1.0, seed=2)  # 5.5 h at 1 Hz, 0.6 MB/min
    r = analyse(t, y)
    assert r.verdict == LEAK
    assert r.slope_mb_per_min == pytest.approx(0.6, rel=0.10)
