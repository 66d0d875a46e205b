"""Latency from intended start and loop lag: SLA grammar + evaluation, worker merge, lag detector, report text."""

from __future__ import annotations

import gevent
import pytest

from erpload.core.histogram import Histogram
from erpload.core.snapshot import RequestStats, Snapshot
from erpload.locust.intended import IntendedRecorder, begin_iteration, end_iteration
from erpload.locust.looplag import LoopLag
from erpload.report.timing_report import markdown_lines
from erpload.sla.evaluation import evaluate
from erpload.sla.grammar import parse_rule, parse_rules


def _table(header, rows):
    return ["| " + " | ".join(header) + " |", *("| " + " | ".join(map(str, r)) + " |" for r in rows)]


def test_intended_metrics_parse_with_their_latency_units() -> None:
    rules, problems = parse_rules(['p99_intended of "GET /dashboard" < 500ms', "avg_intended < 1s"])
    assert problems == []
    assert [(r.metric, r.threshold, r.kind, r.scope_value) for r in rules] == [
        ("p99_intended", 500.0, "latency", "GET /dashboard"),
        ("avg_intended", 1000.0, "latency", ""),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("error_rate_intended < 1%", "unknown metric 'error_rate_intended'"),
        ("p100_intended < 1s", "unknown metric 'p100_intended'"),
        ("p99_intended < 50%", "threshold of p99_intended"),
    ],
)
def test_bad_intended_rules_say_what_is_wrong(text: str, message: str) -> None:
    rule, problems = parse_rule(text)
    assert rule is None and message in str(problems[0]), problems


def test_intended_rules_take_no_window() -> None:
    rule, problems = parse_rule({"rule": "p99_intended < 1s", "window": "steady"})
    assert rule is None and "only applies to request metrics, not p99_intended" in str(problems[0])


def _snap(view_ms: list[float] | None) -> Snapshot:
    snap = Snapshot(duration_s=10)
    snap.add(RequestStats("GET", "/x", 3, 0, 3.0, Histogram.from_samples([1, 1, 1])))
    if view_ms is not None:
        view = Snapshot(duration_s=10)
        view.add(RequestStats("GET", "/x", len(view_ms), 0, sum(view_ms), Histogram.from_samples(view_ms)))
        snap.views["intended"] = view
    return snap


def test_intended_rule_reads_the_intended_view_and_send_rule_the_requests() -> None:
    rules, _ = parse_rules(['p99 of "GET /x" < 100ms', 'p99_intended of "GET /x" < 100ms'])
    send, intended = evaluate(rules, _snap([5, 900, 950]))
    assert (send.passed, send.observed) == (True, 1)
    assert (intended.passed, intended.observed) == (False, 950)
    assert intended.rule.metric == "p99_intended" and "observed 950ms" in intended.detail


def test_intended_rule_without_the_view_fails_closed() -> None:
    (result,) = evaluate(parse_rules(["p99_intended < 1s"])[0], _snap(None))
    assert result.passed is False and result.observed is None
    assert "not measured" in result.detail and "open-model" in result.detail


def test_unknown_request_in_the_intended_view_lists_the_known_ones() -> None:
    (result,) = evaluate(parse_rules(['p99_intended of "GET /y" < 1s'])[0], _snap([5]))
    assert result.passed is False and 'no samples for "GET /y"; known requests: GET /x' in result.detail


def _record(rec: IntendedRecorder, due: float, started: float, rts: list[float]) -> None:
    def user() -> None:
        rec.iteration_started(begin_iteration(due, started))
        for rt in rts:
            rec.on_request("GET", "/x", rt)
        end_iteration()
        rec.on_request("GET", "/x", 1.0)  # outside an iteration: not timed from an intended start

    gevent.spawn(user).join()


def test_requests_are_timed_from_their_iterations_intended_start_and_merge_exactly() -> None:
    local, worker_a, worker_b, master = (IntendedRecorder(None) for _ in range(4))  # type: ignore[arg-type]
    for recs, due, started, rts in (
        ((local, worker_a), 10.0, 10.5, [20.0, 30.0]),  # started 500 ms late
        ((local, worker_b), 20.0, 20.001, [7.0]),
    ):
        for rec in recs:
            _record(rec, due, started, rts)
    master.on_payload("a", worker_a.payload())
    master.on_payload("b", worker_b.payload())
    assert worker_a.payload()["endpoints"] == []  # shipped, then reset
    for rec in (local, master):
        (send, intended) = rec.endpoints[("GET", "/x")]
        assert sorted(send.histogram.counts) == [7, 20, 30]
        assert sorted(intended.histogram.counts) == [8, 520, 530]
        assert (rec.started, rec.late) == (2, 1)
        view = rec.snapshot(10.0)
        assert view.find_request("GET /x").percentile(0.99) == pytest.approx(530, abs=0.5)
    assert local.section()["endpoints"] == master.section()["endpoints"]
    assert master.section()["iterations"] == {"started": 2, "late": 1, "dropped": 0}


def test_loop_lag_trips_on_sustained_lag_not_on_a_spike() -> None:
    probe = LoopLag(limit_ms=50, interval_s=0.02, window_s=30)
    t = 0.0
    for i in range(3000):  # 60 s of ticks with one 400 ms spike every 10 s
        t += 0.02
        assert probe.feed(t, 400.0 if i % 500 == 0 else 1.0) is None
    for i in range(400):  # then 8 s with every 10th tick 80 ms late: 10 % > 1 %
        t += 0.02
        ep = probe.feed(t, 80.0 if i % 10 == 0 else 1.0)
        if ep is not None:
            break
    assert ep is not None and ep["p99_ms"] == 80.0 and ep["end_s"] == pytest.approx(t, abs=0.1), ep
    assert probe.summary()["episode"] is ep and probe.summary()["max_ms"] == 400.0


def test_loop_lag_needs_a_full_window() -> None:
    probe = LoopLag(limit_ms=50, interval_s=0.02, window_s=30)
    assert all(probe.feed(i * 0.02, 500.0) is None for i in range(1, 1400))  # 28 s: no window yet
    assert any(probe.feed(28 + i * 0.02, 500.0) for i in range(1, 200))


def test_report_shows_both_timings_and_loop_lag() -> None:
    rec = IntendedRecorder(None)  # type: ignore[arg-type]
    _record(rec, 1.0, 1.9, [4.0])
    probe = LoopLag(50)
    probe.feed(1.0, 3.0)
    lines = "\n".join(
        markdown_lines(
            {"intended": rec.section(dropped=3)},
            {"loop_lag": {"limit_ms": 50, "window_s": 30, "generators": {"local": probe.summary()}}},
            _table,
        )
    )
    assert "| GET /x | 1 | 4.0 ms | 904 ms |" in lines, lines
    assert "1 iterations started, 1 late (> 10 ms after their intended start), 3 dropped" in lines
    assert "| local | 1 | 3.0 ms |" in lines and "> 50 ms is INVALID" in lines


def test_closed_model_users_blocked_far_longer_than_thinking_get_one_warning(caplog) -> None:
    rec = IntendedRecorder(None)  # type: ignore[arg-type]
    with caplog.at_level("WARNING", logger="erpload"):
        for _ in range(40):
            rec.on_request("GET", "/x", 1000.0)  # outside any iteration: 40 s blocked in requests
            rec.thought(0.05)  # 2 s of think time in all: 20x
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "a waiting operator also waits" in warnings[0], warnings
    assert rec.endpoints == {}  # not timed from an intended start: there is none


def test_local_process_loop_lag_marks_the_run_invalid() -> None:
    from locust import User, constant, task
    from locust.env import Environment

    from erpload.plugin import install

    class Idle(User):
        wait_time = constant(1)

        @task
        def nothing(self) -> None:
            pass

    env = Environment(user_classes=[Idle])
    env.create_local_runner()
    run = install(env)
    watch = run.loop_lag
    for i in range(1, 1600):  # 32 s of ticks, 1 in 10 lagging 120 ms
        watch.probe.feed(i * 0.02, 120.0 if i % 10 == 0 else 0.5)
    assert [e["reason"] for e in run.invalid] == ["generator loop lag"], run.invalid
    assert run.invalid[0]["detail"].startswith("local event-loop lag p99 120 ms")
    assert run.extra_metrics()["loop_lag_p99_max"] == 120


def test_the_shared_bucket_changes_nothing() -> None:
    from erpload.core.histogram import fine_bucket

    with_bucket, without = IntendedRecorder(None), IntendedRecorder(None)  # type: ignore[arg-type]

    def user() -> None:
        begin_iteration(10.0, 10.25)
        for rt in (3, 3.0, 999.5, 1234.5, 7.25):
            with_bucket.on_request("GET", "/x", rt, None, "Admin", 1.0, fine_bucket(rt))
            without.on_request("GET", "/x", rt)
        end_iteration()

    gevent.spawn(user).join()
    assert with_bucket.section() == without.section()
    assert with_bucket.endpoints[("GET", "/x")][0].histogram.counts == {3: 2, 1000: 1, 1230: 1, 7: 1}
