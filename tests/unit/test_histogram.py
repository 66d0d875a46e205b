"""Accurate percentiles: fine bucketing, nearest rank, clamping, exact merging, window subtraction."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from erpload.core.histogram import Histogram, bucket_bound, exact_percentile, fine_bucket, nearest_rank

PS = (0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0)


def test_pure_modules_do_not_import_locust() -> None:
    code = (
        "import sys, erpload.core.histogram, erpload.core.snapshot, erpload.sla.grammar, erpload.sla.evaluation, erpload.core.units, "
        "erpload.report.summary, erpload.report.baseline, erpload.report; "
        "bad = [m for m in ('locust', 'gevent') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _locust_default_bucket(rt: float) -> int:
    """Locust 2.47's bucket_response_time, copied to show why the fine buckets exist."""
    if rt < 100:
        return round(rt)
    if rt < 1000:
        return int(round(rt, -1))
    if rt < 10000:
        return int(round(rt, -2))
    return int(round(rt, -3))


def test_locust_default_buckets_would_miss_the_accuracy_bound() -> None:
    samples = [101.5 + i * 0.01 for i in range(100)]  # 101.5 .. 102.49
    coarse = Histogram({})
    for v in samples:
        coarse.counts[_locust_default_bucket(v)] = coarse.counts.get(_locust_default_bucket(v), 0) + 1
    exact = exact_percentile(samples, 0.95)
    assert abs(coarse.percentile(0.95) - exact) > max(1.0, 0.01 * exact)  # 100 vs 102.45
    assert abs(Histogram.from_samples(samples).percentile(0.95) - exact) <= 0.5


@pytest.mark.parametrize(
    ("raw", "bucket"),
    [
        (0.4, 0),
        (12.2, 12),
        (99.4, 99),
        (101.5, 102),  # Locust's default buckets give 100 here
        (147.0, 147),
        (999.4, 999),
        (999.6, 1000),
        (1049.0, 1050),
        (1234.4, 1230),
        (9994.0, 9990),
        (9996.0, 10000),
        (10049.0, 10000),
        (10051.0, 10100),
        (58760.0, 58800),
        (123456.0, 123000),
    ],
)
def test_fine_bucket_values(raw: float, bucket: int) -> None:
    got = fine_bucket(raw)
    assert got == bucket
    assert type(got) is int  # keys travel through msgpack and end up as JSON keys


def test_fine_bucket_error_is_within_half_ms_or_half_percent() -> None:
    rng = random.Random(7)
    values = [rng.uniform(0, 200_000) for _ in range(20_000)]
    values += [
        edge + d for edge in (100, 1000, 10_000, 100_000) for d in (-0.51, -0.5, -0.01, 0, 0.01, 0.49, 0.5)
    ]
    for v in values:
        b = fine_bucket(v)
        assert abs(b - v) <= max(0.5, 0.005 * v) + 1e-9, v
        assert abs(b - v) <= bucket_bound(b) + 1e-9, v


def test_fine_bucket_is_monotonic() -> None:
    rng = random.Random(3)
    values = sorted(rng.uniform(0, 50_000) for _ in range(5000))
    buckets = [fine_bucket(v) for v in values]
    assert buckets == sorted(buckets)


def test_bucket_bound() -> None:
    assert bucket_bound(212) == 0.5
    assert bucket_bound(1050) == 5
    assert bucket_bound(23_400) == 50
    assert bucket_bound(150, "locust") == 5
    assert bucket_bound(42, "locust") == 0.5
    assert bucket_bound(4200, "locust") == 50
    with pytest.raises(ValueError, match="unknown bucket scheme"):
        bucket_bound(1, "coarse")


def test_nearest_rank_matches_locust_on_1_to_100() -> None:
    samples = list(range(1, 101))
    assert [exact_percentile(samples, p) for p in (0.5, 0.9, 0.95, 0.99, 1.0)] == [51, 91, 96, 100, 100]
    assert nearest_rank(1000, 0.999) == 1000  # floor(999) + 1, not 999 from float rounding
    assert nearest_rank(10, 0.0) == 1
    with pytest.raises(ValueError):
        nearest_rank(10, 1.5)


def _streams() -> dict[str, list[float]]:
    rng = random.Random(20240601)
    return {
        "uniform-small": [rng.uniform(0.2, 60) for _ in range(5000)],
        "lognormal-200": [rng.lognormvariate(5.3, 0.5) for _ in range(8000)],
        "near-100": [rng.uniform(95, 106) for _ in range(3000)],
        "near-1000": [rng.uniform(985, 1020) for _ in range(3000)],
        "near-10000": [rng.uniform(9900, 10150) for _ in range(3000)],
        "bimodal": [rng.gauss(40, 5) if rng.random() < 0.9 else rng.gauss(2500, 300) for _ in range(6000)],
        "heavy-tail": [min(120_000.0, rng.expovariate(1 / 400) ** 1.3) for _ in range(6000)],
        "tiny": [rng.uniform(100, 5000) for _ in range(7)],
    }


@pytest.mark.parametrize("name", list(_streams()))
def test_percentiles_within_1ms_or_1_percent_of_exact(name: str) -> None:
    samples = _streams()[name]
    h = Histogram.from_samples(samples)
    assert h.count == len(samples)
    for p in PS:
        exact = exact_percentile(samples, p)
        got = h.percentile(p)
        assert got is not None
        assert abs(got - exact) <= max(1.0, 0.01 * exact), (name, p, got, exact)
        assert abs(got - exact) <= bucket_bound(got) + 1e-9, (name, p, got, exact)


@pytest.mark.parametrize("seed", range(8))
def test_merging_worker_histograms_is_identical_to_one_histogram(seed: int) -> None:
    rng = random.Random(seed)
    stream = [rng.lognormvariate(rng.choice([3, 5, 7, 9]), 0.6) for _ in range(4000)]
    workers = rng.randint(2, 6)
    parts: list[list[float]] = [[] for _ in range(workers)]
    for v in stream:
        parts[rng.randrange(workers)].append(v)
    whole = Histogram.from_samples(stream)
    merged = Histogram()
    for part in parts:
        merged = merged.merge(Histogram.from_samples(part))
    assert merged == whole
    assert [merged.percentile(p) for p in PS] == [whole.percentile(p) for p in PS]
    reversed_merge = Histogram()
    for part in reversed(parts):
        reversed_merge = reversed_merge + Histogram.from_samples(part)
    assert reversed_merge == whole


def test_percentile_is_clamped_to_min_and_max() -> None:
    h = Histogram.from_samples([1049.0] * 100)
    assert h.percentile(0.95) == 1049  # the bucket is 1050, the true value 1049
    assert h.percentile(0.5) == 1049
    # Locust's default bucketing put all 100 into 1000: clamping recovers the truth from min/max
    coarse = Histogram.from_locust({1000: 100}, min_ms=1049, max_ms=1049)
    assert coarse.percentile(0.95) == 1049
    low = Histogram.from_locust({100: 10}, min_ms=101.5, max_ms=104)
    assert low.percentile(0.5) == 101.5


def test_from_locust_accepts_json_keys_and_round_trips() -> None:
    h = Histogram.from_locust({"212": 3, 1050: 2, "12.5": 1}, min_ms=12.4, max_ms=1049)
    assert h.counts == {212: 3, 1050: 2, 12.5: 1}
    assert h.to_dict() == {"12.5": 1, "212": 3, "1050": 2}
    assert list(h.to_dict()) == ["12.5", "212", "1050"]  # ascending by value, not by string
    assert Histogram.from_dict(h.to_dict(), 12.4, 1049) == h


def test_empty_histogram() -> None:
    h = Histogram()
    assert h.count == 0
    assert h.percentile(0.95) is None
    assert Histogram({5: 0}).counts == {}


def test_minus_gives_the_samples_since_the_earlier_snapshot() -> None:
    rng = random.Random(11)
    first = [rng.uniform(1, 3000) for _ in range(500)]
    second = [rng.uniform(1, 3000) for _ in range(700)]
    early = Histogram.from_samples(first)
    late = early.merge(Histogram.from_samples(second))
    window = late.minus(early)
    assert window.counts == Histogram.from_samples(second).counts
    assert window.min is None and window.max is None  # unknown for a window
    assert late.minus(Histogram()).min == late.min  # nothing before: min/max still exact
    with pytest.raises(ValueError, match="fewer samples"):
        early.minus(late)
    with pytest.raises(ValueError, match="missing from the later"):
        Histogram({5: 1}).minus(Histogram({6: 1}))


def test_add_with_or_without_the_callers_bucket_is_fine_bucket_and_min_max_exactly() -> None:
    rng = random.Random(5)
    values = [3, 3.0, 2.5, 3.5, 999.4999, 999.5, 1000, 1000.0, 9995, 12345.6, -1.0, 0] + [
        rng.lognormvariate(4, 2) for _ in range(2000)
    ]
    a, b = Histogram(), Histogram()
    counts: dict = {}
    for v in values:
        a.add(v)
        b.add(v, 1, fine_bucket(v))
        counts[fine_bucket(v)] = counts.get(fine_bucket(v), 0) + 1
    assert a == b and a.counts == counts
    assert (a.min, a.max) == (min(values), max(values))
    assert [type(k) for k in a.counts] == [type(k) for k in counts]
    tie = Histogram()
    tie.add(3)
    tie.add(3.0)  # a tie keeps the earlier value, as min() / max() do
    assert type(tie.min) is int and type(tie.max) is int
