"""Recovery time maths and per-second counting (erpload.locust.faults, pure parts)."""

from __future__ import annotations

import math

from erpload.core.snapshot import Snapshot
from erpload.locust.faults import SUSTAIN_S, SecondCounts, recovery_episode, recovery_report
from erpload.sla.evaluation import evaluate_rule
from erpload.sla.grammar import parse_rule

PROBE = " [rbac-probe]"  # erpload.users.base.PROBE_SUFFIX (not imported: it pulls in locust)


def _healthy(start: int, end: int) -> dict[int, list[int]]:
    """Seconds start..end-1 with 10 requests each and no failure."""
    return {s: [10, 0] for s in range(start, end)}


def _recovery_rule_passes(value: float | None, threshold: str = "30s") -> bool:
    rule, problems = parse_rule(f"recovery_s < {threshold}")
    assert rule is not None and not problems
    extra = {} if value is None else {"recovery_s": value}
    return evaluate_rule(rule, Snapshot(extra=extra)).passed


def test_no_failures_is_no_episode_and_recovery_0() -> None:
    ep = recovery_episode(_healthy(100, 130), 100, 130)
    assert ep == {
        "first_failure_s": None,
        "recovered_s": None,
        "recovery_s": 0.0,
        "recovered": True,
        "failures": 0,
    }
    assert recovery_report(_healthy(100, 130), [], 100, 130)["recovery_s"] == 0.0
    assert _recovery_rule_passes(0.0)


def test_one_outage_recovery_is_its_length() -> None:
    seconds = _healthy(100, 140)
    for s in range(110, 114):  # 4 s of every request failing
        seconds[s] = [10, 10]
    ep = recovery_episode(seconds, 100, 140)
    assert ep["first_failure_s"] == 110 and ep["recovered_s"] == 114
    assert ep["recovery_s"] == 4.0 and ep["recovered"] is True and ep["failures"] == 40
    report = recovery_report(seconds, [105.0], 100.0, 140.0)
    assert report["recovery_s"] == 4.0 and report["sustain_s"] == SUSTAIN_S
    assert report["episodes"][0]["from_s"] == 5.0
    assert report["episodes"][0]["first_failure_s"] == 10.0  # relative to the run start
    assert _recovery_rule_passes(report["recovery_s"]) and not _recovery_rule_passes(
        report["recovery_s"], "3s"
    )


def test_success_must_be_sustained_and_seconds_without_requests_do_not_count() -> None:
    seconds = _healthy(100, 140)
    seconds[110] = [10, 10]
    seconds[113] = [10, 5]  # a relapse inside the first candidate window
    for s in (116, 117):  # idle seconds: no evidence of health
        seconds.pop(s)
    ep = recovery_episode(seconds, 100, 140)
    assert ep["recovered_s"] == 118 and ep["recovery_s"] == 8.0


def test_never_recovered_is_infinite_and_fails_the_rule() -> None:
    seconds = _healthy(100, 110) | {s: [10, 10] for s in range(110, 130)}
    ep = recovery_episode(seconds, 100, 130)
    assert ep["recovered"] is False and ep["recovered_s"] is None and math.isinf(ep["recovery_s"])
    report = recovery_report(seconds, [], 100, 130)
    assert math.isinf(report["recovery_s"])
    assert not _recovery_rule_passes(report["recovery_s"], "1000s")
    assert not _recovery_rule_passes(None)  # not measured at all: the rule fails too, saying why


def test_worst_episode_counts() -> None:
    seconds = _healthy(100, 200)
    seconds[120] = [10, 10]  # after the first fault: 1 s
    for s in range(150, 157):  # after the second: 7 s
        seconds[s] = [10, 10]
    report = recovery_report(seconds, [145.0, 115.0], 100.0, 200.0)
    assert [e["recovery_s"] for e in report["episodes"]] == [1.0, 7.0]  # sorted by fault start
    assert report["recovery_s"] == 7.0


def test_second_counts_ignore_rbac_probes() -> None:
    counts = SecondCounts(ignore_suffixes=(PROBE,))
    err = RuntimeError("RBAC violation")
    for _ in range(3):
        counts.on_request(name="/admin/users" + PROBE, exception=err, request_type="GET")
    counts.on_request(name="/dashboard", exception=None, request_type="GET")
    counts.on_request(name="/orders", exception=err, request_type="GET")
    assert [tuple(v) for v in counts.seconds.values()] in (
        [(2, 1)],
        [(1, 0), (1, 1)],
    )  # maybe across a second
    assert sum(v[0] for v in counts.seconds.values()) == 2 and sum(v[1] for v in counts.seconds.values()) == 1


def test_failing_probes_alone_make_no_recovery_episode() -> None:
    counts = SecondCounts(ignore_suffixes=(PROBE,))
    for _ in range(50):
        counts.on_request(name="/admin/users" + PROBE, exception=RuntimeError("violation"))
        counts.on_request(name="/dashboard")
    secs = sorted(counts.seconds)
    assert sum(v[1] for v in counts.seconds.values()) == 0
    assert recovery_report(counts.seconds, [], secs[0], secs[-1] + 1)["recovery_s"] == 0.0


def test_without_ignore_suffixes_everything_counts_and_merge_adds_worker_seconds() -> None:
    counts = SecondCounts()
    counts.on_request(name="/admin/users" + PROBE, exception=RuntimeError("x"))
    assert sum(v[1] for v in counts.seconds.values()) == 1
    sent = counts.take_unsent()
    assert counts.take_unsent() == {}
    master = SecondCounts()
    master.merge("w1", sent)
    master.merge("w2", sent)
    master.merge("w3", "garbage")
    assert sum(v[0] for v in master.seconds.values()) == 2
    master.reset()
    assert master.seconds == {}
