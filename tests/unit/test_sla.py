"""SLA rules: both grammar forms, every problem message, evaluation, windows, live abort timing."""

from __future__ import annotations

import types

import pytest

from erpload.core.errors import ExitCode, Problem
from erpload.core.snapshot import RequestStats, Snapshot, stage_windows
from erpload.core.units import QuantityError, parse_duration
from erpload.sla.evaluation import LiveAbortTracker, evaluate, exit_code_for, verdict_lines
from erpload.sla.grammar import Rule, parse_rule, parse_rules

# -- grammar: short form ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        (
            'p95 of "GET /ppic/manufacturing-orders" < 300ms',
            ("p95", "<", 300.0, "request", "GET /ppic/manufacturing-orders"),
        ),
        ("error_rate < 0.1%", ("error_rate", "<", 0.001, "all", "")),
        (
            'rps of "POST /ppic/manufacturing-orders" > 50',
            ("rps", ">", 50.0, "request", "POST /ppic/manufacturing-orders"),
        ),
        ("p99 of role CuttingOperator < 1s", ("p99", "<", 1000.0, "role", "CuttingOperator")),
        ("avg < 200ms", ("avg", "<", 200.0, "all", "")),
        ('count of "POST /auth/login" > 0', ("count", ">", 0.0, "request", "POST /auth/login")),
        ("target_cpu_max < 80%", ("target_cpu_max", "<", 0.8, "all", "")),
        ("target_memory_growth < 20%", ("target_memory_growth", "<", 0.2, "all", "")),
        ("target_leak == false", ("target_leak", "==", False, "all", "")),
        ("worker_cpu_max < 90%", ("worker_cpu_max", "<", 0.9, "all", "")),
        ("lost_updates == 0", ("lost_updates", "==", 0.0, "all", "")),
        ("p99.9 <= 2.5s", ("p99.9", "<=", 2500.0, "all", "")),
        ("median != 3", ("median", "!=", 3.0, "all", "")),
        ("P95<300", ("p95", "<", 300.0, "all", "")),
        ("max < 1m", ("max", "<", 60_000.0, "all", "")),
        ("rps >= 12.5/s", ("rps", ">=", 12.5, "all", "")),
        ("error_rate <= 0.002", ("error_rate", "<=", 0.002, "all", "")),
        ("failures of role:QcInspector == 0", ("failures", "==", 0.0, "role", "QcInspector")),
        ("p90 of 'get /x/[id]' < 5", ("p90", "<", 5.0, "request", "GET /x/[id]")),
        ("p90 of GET /x < 5", ("p90", "<", 5.0, "request", "GET /x")),
        ("recovery_s < 2m", ("recovery_s", "<", 120.0, "all", "")),
        ("p50 of all > 0.5", ("p50", ">", 0.5, "all", "")),
    ],
)
def test_short_form(text: str, fields: tuple) -> None:
    rule, problems = parse_rule(text)
    assert problems == []
    assert rule is not None
    assert (rule.metric, rule.op, rule.threshold, rule.scope, rule.scope_value) == fields
    assert rule.text == text
    assert not rule.abort and rule.window == "all"


def test_long_form_parses_into_the_same_rule_as_the_short_form() -> None:
    short, _ = parse_rule('p95 of "GET /ppic/manufacturing-orders" < 300ms')
    long_, problems = parse_rule(
        {"metric": "p95", "op": "<", "threshold": 300, "request": "GET /ppic/manufacturing-orders"}
    )
    assert problems == []
    assert long_ == short  # same text too: a bare latency number is rendered with its implied ms


def test_long_form_all_fields() -> None:
    rule, problems = parse_rule(
        {
            "metric": "p99",
            "op": "<",
            "threshold": "2s",
            "role": "CuttingOperator",
            "abort": True,
            "after": "1m",
            "for": "30s",
            "window": "steady",
            "name": "cutters stay fast",
        }
    )
    assert problems == []
    assert rule == Rule(
        "p99",
        "<",
        2000.0,
        "role",
        "CuttingOperator",
        True,
        60.0,
        30.0,
        "steady",
        "cutters stay fast",
        "p99 of role CuttingOperator < 2s",
    )
    assert rule.title == "cutters stay fast"


def test_long_form_variants() -> None:
    rules, problems = parse_rules(
        [
            {"metric": "error_rate", "op": "<", "threshold": "0.5%"},
            {"metric": "error_rate", "op": "<", "threshold": 0.005, "scope": "all"},
            {"metric": "p95", "op": "<", "threshold": 300, "scope": '"GET /x"'},
            {"metric": "p95", "op": "<", "threshold": 300, "scope": "role QcInspector"},
            {"rule": "p99 < 2s", "abort": True, "after": 90, "window": "stage:peak hour"},
            {"metric": "target_leak", "op": "==", "threshold": False},
        ]
    )
    assert problems == []
    assert [r.threshold for r in rules] == [0.005, 0.005, 300.0, 300.0, 2000.0, False]
    assert (rules[2].scope, rules[2].scope_value) == ("request", "GET /x")
    assert (rules[3].scope, rules[3].scope_value) == ("role", "QcInspector")
    assert (rules[4].after_s, rules[4].window, rules[4].text) == (90.0, "stage:peak hour", "p99 < 2s")
    assert rules[5].text == "target_leak == false"


def test_parse_rules_accepts_nothing() -> None:
    assert parse_rules(None) == ([], [])
    assert parse_rules([]) == ([], [])


# -- grammar: problems ----------------------------------------------------------------------------


def _one(item: object) -> Problem:
    rule, problems = parse_rule(item, "sla[3]")
    assert rule is None
    assert len(problems) == 1, problems
    return problems[0]


@pytest.mark.parametrize(
    ("item", "where", "in_message", "in_fix"),
    [
        ("eror_rate < 1%", "sla[3]", "unknown metric 'eror_rate'", "Did you mean 'error_rate'?"),
        ("p9x5 < 300ms", "sla[3]", "unknown metric 'p9x5'", "Known: avg, min, max, median, p50"),
        ("p100 < 300ms", "sla[3]", "between 0 and 100 exclusive (got 'p100')", "use max"),
        ("p0 < 300ms", "sla[3]", "(got 'p0')", "p99.9"),
        ("p95 < 3%", "sla[3]", "not '%' (got '3%')", "Use ms, s or m"),
        ("p95 < 300mss", "sla[3]", "unknown unit 'mss' (got '300mss')", "Did you mean 'ms'?"),
        ("p95 < fast", "sla[3]", "not a number with a unit (got 'fast')", "e.g. 300ms"),
        ("p95 < -5ms", "sla[3]", "must be a number >= 0 (got '-5ms')", ""),
        ("error_rate < 5", "sla[3]", "5 is above 1 (got '5')", "Did you mean '5%'?"),
        ("rps > 50/min", "sla[3]", "unknown unit '/min'", "Did you mean '/m'?"),
        ("p95 = 300ms", "sla[3]", "unknown operator '='", "Did you mean '=='?"),
        ("p95 => 300ms", "sla[3]", "unknown operator '=>'", "Did you mean '>='?"),
        ("p95 of CuttingOperator < 1s", "sla[3]", "unknown scope 'CuttingOperator'", "role CuttingOperator"),
        ('p95 of "" < 1s', "sla[3]", "empty request name", '"GET /ppic/manufacturing-orders"'),
        ("p95 of role 9lives < 1s", "sla[3]", "user class name (got '9lives')", "role CuttingOperator"),
        ('target_cpu_max of "GET /x" < 80%', "sla[3]", "takes no scope", "Remove the 'of ...' part"),
        ("target_leak < true", "sla[3]", "cannot use '<'", "target_leak == false"),
        ("target_leak == maybe", "sla[3]", "expected true or false (got 'maybe')", "true or false"),
        ("lost_updates == 1.5x", "sla[3]", "unknown unit 'x'", "plain number"),
        ("p95 300ms", "sla[3]", "cannot read rule 'p95 300ms'", "METRIC [of SCOPE] OP THRESHOLD"),
        (42, "sla[3]", "a string or a mapping (got int: 42)", "p95 < 300ms"),
    ],
)
def test_problem_messages(item: object, where: str, in_message: str, in_fix: str) -> None:
    problem = _one(item)
    assert problem.where == where
    assert in_message in problem.message
    assert in_fix in problem.fix
    assert str(problem).startswith(f"{where}: ")


@pytest.mark.parametrize(
    ("item", "where", "in_message", "in_fix"),
    [
        (
            {"metric": "p95", "op": "<", "threshold": 1, "windw": "steady"},
            "sla[3]",
            "unknown key 'windw'",
            "Did you mean 'window'?",
        ),
        ({"metric": "p95", "threshold": 1}, "sla[3].op", "required (got keys: metric, threshold)", ""),
        (
            {"metric": "p95", "op": "<", "threshold": 1, "abort": "yes"},
            "sla[3].abort",
            "true or false (got 'yes')",
            "",
        ),
        (
            {"metric": "p95", "op": "<", "threshold": 1, "abort": True, "after": "1x"},
            "sla[3].after",
            "not a duration (got '1x')",
            "1h30m",
        ),
        (
            {"metric": "p95", "op": "<", "threshold": 1, "for": "30s"},
            "sla[3].for",
            "only applies to live rules",
            "abort: true",
        ),
        (
            {"metric": "p95", "op": "<", "threshold": 1, "window": "stedy"},
            "sla[3].window",
            "unknown window 'stedy'",
            "Did you mean 'steady'?",
        ),
        (
            {"metric": "target_cpu_max", "op": "<", "threshold": "80%", "window": "steady"},
            "sla[3].window",
            "only applies to request metrics",
            "Remove window",
        ),
        (
            {"metric": "p95", "op": "<", "threshold": 1, "request": "GET /x", "role": "Qc"},
            "sla[3].role",
            "give one of scope, request, role, group (got request, role)",
            "",
        ),
        (
            {"metric": "p95", "op": "<", "threshold": True},
            "sla[3].threshold",
            "expected a number (got True)",
            "Use ms",
        ),
        (
            {"metric": "p95", "op": "<", "threshold": 1, "name": 7},
            "sla[3].name",
            "must be a string (got 7)",
            "",
        ),
        ({"rule": "p95 < 1s", "metric": "p99"}, "sla[3]", "also got: metric", "either 'rule'"),
        ({"rule": "p95 < 1%"}, "sla[3].rule", "not '%'", "Use ms"),
        (
            {"metric": "p95", "op": "<>", "threshold": 1},
            "sla[3].op",
            "unknown operator '<>'",
            "Known: < <= > >= == !=",
        ),
    ],
)
def test_long_form_problem_messages(item: dict, where: str, in_message: str, in_fix: str) -> None:
    problem = _one(item)
    assert (problem.where, in_message in problem.message, in_fix in problem.fix) == (where, True, True), (
        problem
    )


def test_all_problems_are_collected_across_and_within_rules() -> None:
    rules, problems = parse_rules(
        ["p95 < 300ms", "p59x = 3%", {"metric": "p95", "abort": "no", "after": "soon"}, "avg < 1s"],
        where="profiles/peak.yaml: sla",
    )
    assert [r.metric for r in rules] == ["p95", "avg"]  # good rules still come back
    wheres = [p.where for p in problems]
    assert wheres.count("profiles/peak.yaml: sla[1]") == 2  # unknown metric AND unknown operator
    assert "profiles/peak.yaml: sla[2].op" in wheres and "profiles/peak.yaml: sla[2].threshold" in wheres
    assert "profiles/peak.yaml: sla[2].abort" in wheres and "profiles/peak.yaml: sla[2].after" in wheres


def test_not_a_list() -> None:
    rules, problems = parse_rules("p95 < 300ms")
    assert rules == []
    assert (
        problems[0].where == "sla" and "must be a list" in problems[0].message and "sla: [" in problems[0].fix
    )


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [(90, 90.0), ("90", 90.0), ("30s", 30.0), ("1m", 60.0), ("1h30m", 5400.0), ("2h5m10s", 7510.0), (0, 0.0)],
)
def test_parse_duration(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize("raw", ["", "1x", "m", "-5", -5, True, None, "1.5m"])
def test_parse_duration_rejects(raw: object) -> None:
    with pytest.raises(QuantityError, match="not a duration"):
        parse_duration(raw)


# -- evaluation -----------------------------------------------------------------------------------


def _stats(method: str, name: str, times: list[float], failures: int = 0) -> RequestStats:
    s = RequestStats(method, name)
    for i, t in enumerate(times):
        s.record(t, failed=i < failures)
    return s


def _snapshot(duration_s: float = 10.0) -> Snapshot:
    snap = Snapshot(duration_s=duration_s, extra={"target_cpu_max": 0.42, "target_leak": False})
    snap.add(_stats("GET", "/ppic/manufacturing-orders", [float(v) for v in range(1, 101)]))  # p95 = 96
    snap.add(_stats("POST", "/ppic/manufacturing-orders", [200.0] * 300, failures=3))
    snap.add(_stats("POST", "/auth/login", [1049.0] * 100))
    snap.roles["CuttingOperator"] = _stats("ROLE", "CuttingOperator", [10.0, 20.0, 30.0])
    return snap


def _eval(*texts: str, snap: Snapshot | None = None, windows: dict | None = None) -> list:
    rules, problems = parse_rules(list(texts))
    assert problems == []
    return evaluate(rules, snap or _snapshot(), windows)


def test_request_metrics_observed_values() -> None:
    results = _eval(
        'p95 of "GET /ppic/manufacturing-orders" < 100ms',
        'p50 of "GET /ppic/manufacturing-orders" == 51',
        'p95 of "POST /auth/login" < 1050ms',  # clamped to max: the 1050 bucket must not fail this
        'avg of "POST /auth/login" == 1049',
        'min of "GET /ppic/manufacturing-orders" == 1',
        'max of "GET /ppic/manufacturing-orders" == 100',
        "median of role CuttingOperator == 20",
        'error_rate of "POST /ppic/manufacturing-orders" == 1%',
        'rps of "POST /ppic/manufacturing-orders" == 30/s',
        'count of "POST /auth/login" == 100',
        'failures of "POST /ppic/manufacturing-orders" == 3',
        "count == 500",
        "error_rate < 1%",
        "target_cpu_max < 80%",
        "target_leak == false",
    )
    assert [r.passed for r in results] == [True] * 15, [r.detail for r in results if not r.passed]
    assert results[0].observed == 96 and results[0].bound == 0.5
    assert results[0].detail == "observed 96ms (±0.5ms)"
    assert results[2].observed == 1049
    assert results[8].observed == 30.0
    assert results[13].detail == "observed 42%"


def test_failing_rule_detail_shows_observed_and_threshold() -> None:
    (r,) = _eval('p95 of "GET /ppic/manufacturing-orders" < 90ms')
    assert not r.passed and r.observed == 96
    assert r.detail == "observed 96ms (±0.5ms), threshold < 90ms"
    (r,) = _eval("error_rate < 0.1%")
    assert r.detail == "observed 0.6%, threshold < 0.1%"


def test_bare_name_scope_merges_methods() -> None:
    (r,) = _eval('count of "/ppic/manufacturing-orders" == 400')
    assert r.passed, r.detail


def test_every_rule_is_evaluated_even_after_failures() -> None:
    results = _eval("avg < 1ms", "max < 1ms", "count > 0", "p99 < 1ms")
    assert [r.passed for r in results] == [False, False, True, False]
    broken = Rule("avg", "~", 1.0, text="avg ~ 1")  # cannot come from the parser: must fail, not crash
    results = evaluate([broken, Rule("count", ">", 0.0, text="count > 0")], _snapshot())
    assert not results[0].passed and results[0].detail.startswith("evaluation error: KeyError")
    assert results[1].passed


def test_typo_in_request_name_fails_with_known_names_and_did_you_mean() -> None:
    (r,) = _eval('p95 of "GET /ppic/manufacturing-order" < 300ms')
    assert not r.passed and r.observed is None
    assert r.detail.startswith('observed no samples for "GET /ppic/manufacturing-order"; known requests: ')
    assert "GET /ppic/manufacturing-orders, POST /auth/login, POST /ppic/manufacturing-orders" in r.detail
    assert r.detail.endswith('did you mean "GET /ppic/manufacturing-orders"?')


def test_typo_in_role_fails_with_known_roles() -> None:
    (r,) = _eval("p95 of role CuttingOprator < 300ms")
    assert not r.passed
    assert r.detail == (
        "observed no samples for role CuttingOprator; known roles: CuttingOperator; did you mean CuttingOperator?"
    )


def test_no_samples_fails_even_where_the_value_would_pass() -> None:
    (r,) = _eval('count of "DELETE /nothing" < 5')
    assert not r.passed and "no samples" in r.detail
    (r,) = _eval("avg < 1s", snap=Snapshot(duration_s=5))
    assert not r.passed and r.detail == "observed no samples: no request was recorded"


def test_many_known_names_are_capped() -> None:
    snap = Snapshot(duration_s=1)
    for i in range(40):
        snap.add(_stats("GET", f"/r{i:02d}", [1.0]))
    (r,) = _eval('p95 of "GET /zzz" < 1s', snap=snap)
    assert "… (40 in all)" in r.detail and "/r39" not in r.detail


def test_missing_extra_metric_fails_as_not_measured() -> None:
    (r,) = _eval("lost_updates == 0")
    assert not r.passed
    assert r.detail == "not measured: no lost_updates in this run (measured: target_cpu_max, target_leak)"


def test_verdict_lines() -> None:
    results = _eval('p95 of "GET /ppic/manufacturing-orders" < 300ms', "error_rate < 0.1%", "count > 0")
    lines = verdict_lines(results)
    assert lines == [
        'SLA PASS  p95 of "GET /ppic/manufacturing-orders" < 300ms   observed 96ms (±0.5ms)',
        "SLA FAIL  error_rate < 0.1%                                 observed 0.6%, threshold < 0.1%",
        "SLA PASS  count > 0                                         observed 500",
        "SLA 1 of 3 rules failed -> exit 3",
    ]
    assert exit_code_for(results) == ExitCode.SLA_BREACHED
    assert verdict_lines(_eval("count > 0"))[-1] == "SLA all 1 rules passed"
    assert exit_code_for(_eval("count > 0")) == ExitCode.PASS
    assert verdict_lines([]) == ["SLA no rules configured"]


def test_sla_package_lists_its_public_names() -> None:
    import erpload.sla as sla

    assert sla.evaluate is evaluate and sla.LiveAbortTracker is LiveAbortTracker and sla.Rule is Rule
    public = {
        n for n, v in vars(sla).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert sorted(sla.__all__) == sorted(public)
    with pytest.raises(AttributeError):
        _ = sla.no_such_name


# -- snapshots and windows ------------------------------------------------------------------------


def test_from_locust_entry() -> None:
    entry = {
        "name": "/auth/login",
        "method": "POST",
        "num_requests": 5,
        "num_none_requests": 0,
        "num_failures": 1,
        "total_response_time": 1100,
        "min_response_time": 101.5,
        "max_response_time": 480,
        "response_times": {"100": 2, "300": 2, "480": 1},
        "start_time": 1000.0,
        "last_request_timestamp": 1009.0,
    }
    s = RequestStats.from_locust(entry)
    assert (s.label, s.count, s.failures, s.avg_ms, s.min_ms, s.max_ms) == (
        "POST /auth/login",
        5,
        1,
        220.0,
        101.5,
        480,
    )
    assert s.percentile(0.1) == 101.5  # bucket 100 clamped up to the exact minimum
    assert s.error_rate == 0.2
    empty = RequestStats.from_locust({"name": "/x", "method": "GET", "max_response_time": 0})
    assert empty.max_ms is None and empty.percentile(0.5) is None


def _cumulative(times_by_stage: list[list[float]]) -> tuple[list[tuple[str, Snapshot]], Snapshot]:
    """Cumulative snapshots at each stage start, and at the end."""
    marks, acc, t = [], RequestStats("GET", "/x"), 0.0
    names = ["ramp", "hold", "down"]
    for name, times in zip(names, times_by_stage, strict=False):
        snap = Snapshot(duration_s=t)
        snap.add(acc.merge(RequestStats("GET", "/x")))
        marks.append((name, snap))
        for v in times:
            acc.record(v)
        t += 10
    end = Snapshot(duration_s=t)
    end.add(acc)
    return marks, end


def test_stage_windows_and_steady_window() -> None:
    marks, end = _cumulative([[900.0] * 50, [100.0] * 200, [800.0] * 50])
    windows = stage_windows(marks, end, steady={"hold"})
    assert set(windows) == {"all", "stage:ramp", "stage:hold", "stage:down", "steady"}
    assert windows["stage:hold"].requests[("GET", "/x")].count == 200
    assert windows["steady"].duration_s == 10
    results = _eval('p95 of "GET /x" < 200ms', snap=end, windows=windows)
    assert not results[0].passed  # whole run includes the slow ramps
    rule = parse_rule(
        {"metric": "p95", "op": "<", "threshold": 200, "request": "GET /x", "window": "steady"}
    )[0]
    rps_rule = parse_rule({"rule": 'rps of "GET /x" == 20', "window": "stage:hold"})[0]
    r_steady, r_rps = evaluate([rule, rps_rule], end, windows)
    assert r_steady.passed and r_steady.observed == 100 and r_steady.detail.endswith("[window steady]")
    assert r_rps.passed, r_rps.detail
    two = stage_windows(marks, end, steady={"ramp", "down"})["steady"]
    assert (two.requests[("GET", "/x")].count, two.duration_s) == (100, 20)


def test_missing_window_fails_with_known_windows() -> None:
    rule = parse_rule({"rule": "count > 0", "window": "steady"})[0]
    (r,) = evaluate([rule], _snapshot(), {"stage:ramp": _snapshot()})
    assert not r.passed and r.detail == "no data for window 'steady' (known windows: all, stage:ramp)"


def test_snapshot_minus_rejects_a_later_earlier() -> None:
    marks, end = _cumulative([[1.0] * 5, [2.0] * 5])
    with pytest.raises(ValueError, match="more requests"):
        marks[0][1].minus(end)


# -- live abort -----------------------------------------------------------------------------------


def _live(threshold: str, after: str = "60s", for_: str = "30s") -> LiveAbortTracker:
    rules, problems = parse_rules(
        [{"rule": f"p95 < {threshold}", "abort": True, "after": after, "for": for_}, "p95 < 1ms"]
    )
    assert problems == []
    return LiveAbortTracker(rules)


def test_live_abort_waits_for_grace_and_sustained_failure() -> None:
    slow, fast = _snapshot(), Snapshot(duration_s=1)
    fast.add(_stats("GET", "/x", [1.0] * 10))
    tracker = _live("50ms")
    assert len(tracker.rules) == 1  # only abort rules are tracked
    assert tracker.check(30, slow) is None  # within `after`
    assert tracker.check(60, slow) is None  # failing since 60
    assert tracker.check(75, slow) is None
    assert tracker.check(80, fast) is None  # recovered: the clock resets
    assert tracker.check(90, slow) is None  # failing again since 90
    assert tracker.check(119.9, slow) is None
    trip = tracker.check(120, slow)
    assert trip is not None and (trip.at_s, trip.failing_since_s) == (120, 90)
    assert trip.rule.text == "p95 < 50ms" and not trip.result.passed
    assert tracker.check(121, fast) is trip  # stays tripped


def test_live_abort_without_for_trips_at_once_after_grace() -> None:
    tracker = _live("50ms", after="10s", for_="0s")
    assert tracker.check(9, _snapshot()) is None
    trip = tracker.check(10, _snapshot())
    assert trip is not None and trip.at_s == 10


def test_live_abort_ignores_rules_without_data_and_passing_rules() -> None:
    tracker = _live("5s", after="0s", for_="0s")
    assert tracker.check(5, Snapshot(duration_s=5)) is None  # nothing recorded yet: not failing
    assert tracker.check(6, _snapshot()) is None  # p95 1049 < 5s
    assert LiveAbortTracker(parse_rules(["p95 < 1ms"])[0]).check(100, _snapshot()) is None


def test_did_you_mean_for_a_wrong_method_or_a_near_path() -> None:
    (r,) = _eval('p95 of "GET /auth/login" < 1s')
    assert r.detail.endswith('did you mean "POST /auth/login"?')
    (r,) = _eval('p95 of "POST /ppic/manufacturing-order" < 1s')
    assert r.detail.endswith('did you mean "POST /ppic/manufacturing-orders"?')  # same method preferred
    (r,) = _eval('p95 of "GET /warehouse/stock" < 1s')
    assert "did you mean" not in r.detail
