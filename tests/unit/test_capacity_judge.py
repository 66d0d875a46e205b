"""When a capacity level may be judged (pure): the percentile's interval, too few samples, a steady settle."""

from __future__ import annotations

import pytest

from erpload.core.histogram import Histogram, exact_percentile
from erpload.core.snapshot import RequestStats, Snapshot
from erpload.profile import capacity_judge as cj
from erpload.sla.evaluation import evaluate_rule
from erpload.sla.grammar import parse_rule


def window(samples: list[float], failures: int = 0) -> Snapshot:
    stats = RequestStats("GET", "/x", count=len(samples), failures=failures, total_ms=sum(samples),
                         histogram=Histogram.from_samples(samples))  # fmt: skip
    return Snapshot(requests={("GET", "/x"): stats}, total=stats, duration_s=30.0)


def judged(text: str, samples: list[float], failures: int = 0) -> tuple[str, object]:
    rule, problems = parse_rule(text)
    assert not problems
    win = window(samples, failures)
    windows = {"all": win, "steady": win}
    return cj.judge(evaluate_rule(rule, win, windows), win, windows)


def test_quantile_ranks_bound_the_nearest_rank_and_need_enough_samples():
    assert cj.quantile_ranks(1000, 0.95) == (938, 962)  # around the nearest rank, 951
    assert cj.quantile_ranks(50, 0.95) == (45, None)  # no upper bound: a p95 of 50 samples cannot pass
    assert cj.quantile_ranks(0, 0.95) == (None, None)
    # the fewest samples whose p95 can pass at all: 59 (1 - 0.95^59 >= 95 %, Wilks), their maximum
    assert min(n for n in range(1, 500) if cj.quantile_ranks(n, 0.95)[1] is not None) == 59
    assert cj.quantile_ranks(59, 0.95)[1] == 59 and cj.quantile_ranks(2000, 0.99)[1] < 2000


def test_a_clear_pass_and_a_clear_break():
    fast = [float(10 + i % 190) for i in range(400)]  # 10-199 ms
    verdict, result = judged("p95 < 250ms", fast)
    assert verdict == cj.PASS and result.passed and "90% interval" in result.detail
    verdict, result = judged("p95 < 250ms", [300.0 + i % 50 for i in range(400)])
    assert verdict == cj.BREAK and not result.passed


def test_too_few_samples_is_never_a_pass():
    verdict, result = judged("p95 < 250ms", [20.0] * 50)
    assert verdict == cj.FEW and not result.passed and "too few samples" in result.detail
    assert result.observed == 20.0  # the point value itself passes: only the interval says "not yet"


def test_an_interval_holding_the_threshold_is_not_shown_to_hold():
    samples = [100.0] * 940 + [300.0] * 60  # the point p95 (951st) is 300 ms, the 938th 100 ms
    verdict, result = judged("p95 < 250ms", samples)
    assert verdict == cj.STRADDLE and not result.passed and "not shown to hold" in result.detail
    near = [100.0] * 955 + [300.0] * 45  # point p95 100 ms, but the upper bound (962nd) is 300 ms
    assert exact_percentile(near, 0.95) == 100.0
    verdict, result = judged("p95 < 250ms", near)
    assert verdict == cj.STRADDLE and not result.passed


def test_other_rules_keep_their_point_verdict():
    assert judged("error_rate < 1%", [20.0] * 50)[0] == cj.PASS
    assert judged("error_rate < 1%", [20.0] * 50, failures=5)[0] == cj.BREAK
    assert judged("p95 > 10ms", [20.0] * 50)[0] == cj.PASS


@pytest.mark.parametrize(
    "prev,last,ok",
    [(1000.0, 950.0, True), (1000.0, 500.0, False), (30.0, 45.0, True), (50.0, 300.0, False),
     (None, None, True), (40.0, None, False), (None, 40.0, False)],
)  # fmt: skip
def test_steady_means_two_windows_agree(prev, last, ok):
    assert cj.steady(prev, last) is ok


def test_mean_of_a_window():
    assert cj.mean_ms(window([10.0, 30.0])) == 20.0
    assert cj.mean_ms(Snapshot()) is None
