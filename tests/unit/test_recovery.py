"""Recovery time maths and per-second counting (erpload.locust.faults), and the typed errors of the admin calls."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from erpload.core.errors import ConfigError, ExitCode, TargetUnavailable
from erpload.core.faultplan import FaultStep
from erpload.core.snapshot import Snapshot
from erpload.core.timeline import Timeline
from erpload.locust.correctness import Correctness
from erpload.locust.faults import (
    SUSTAIN_S,
    FaultScheduler,
    SecondCounts,
    admin_session,
    describe,
    recovery_episode,
    recovery_report,
)
from erpload.sla.evaluation import evaluate_rule
from erpload.sla.grammar import parse_rule
from erpload.users.checks import PROBE_SUFFIX as PROBE

from helpers import JsonHandler, stub_server


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


class _Stub(JsonHandler):
    """A loopback ERP stand-in answering every request with the status named in its path or login body."""

    login_status = 200
    fault_status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self._answer(self.login_status, {"access_token": "t", "expires_in": 60})

    def do_PUT(self) -> None:  # noqa: N802 (PUT /admin/faults, refused like a target without that switch)
        self._answer(self.fault_status, {"ok": True})

    def do_GET(self) -> None:  # noqa: N802
        status = int(self.path.rsplit("-", 1)[-1])  # /warehouse/stock/SKU-404 -> 404
        self._answer(status, {"quantity": 7})

    def _answer(self, status: int, body: dict) -> None:
        self.send_json(status, body if status == 200 else {"error": {"code": "x"}})


@pytest.fixture
def stub() -> Iterator[str]:
    with stub_server(_Stub) as url:
        yield url
    _Stub.login_status = 200
    _Stub.fault_status = 200


@pytest.mark.parametrize("status", [401, 403])
def test_refused_admin_login_is_a_config_error_naming_the_account(stub: str, status: int) -> None:
    _Stub.login_status = status
    with pytest.raises(ConfigError) as info:
        admin_session(stub)
    assert info.value.exit_code == ExitCode.CONFIG_INVALID
    [p] = info.value.problems
    assert p.where.startswith("admin account ") and f"HTTP {status}" in p.message
    assert "ERPLOAD_CREDENTIALS" in p.fix
    assert describe(info.value) == str(p)  # one line for the summary, with the fix


def test_admin_login_server_error_is_the_target_not_the_config(stub: str) -> None:
    _Stub.login_status = 503
    with pytest.raises(TargetUnavailable, match="POST /auth/login answered HTTP 503") as info:
        admin_session(stub)
    assert info.value.exit_code == ExitCode.TARGET_UNAVAILABLE


def test_unknown_hot_sku_is_a_config_error_with_the_fix(stub: str) -> None:
    session = admin_session(stub)
    assert Correctness._fetch(session, stub, ["FAB-200"]) == {"FAB-200": 7}
    with pytest.raises(ConfigError) as info:
        Correctness._fetch(session, stub, ["FAB-200", "NOPE-404"])
    [p] = info.value.problems
    assert (
        p.where == "hot_skus"
        and "'NOPE-404' is not a stock item" in p.message
        and "GET /warehouse/stock" in p.fix
    )
    with pytest.raises(TargetUnavailable, match="HTTP 500"):
        Correctness._fetch(session, stub, ["FAB-500"])


class _Run:
    """What FaultScheduler needs of the plugin's run: a clock, a timeline and mark_invalid."""

    def __init__(self) -> None:
        self.invalid: list[tuple[str, str]] = []
        self.recorder = self
        self.timeline = Timeline()

    def elapsed(self) -> float:
        return 1.0

    def mark_invalid(self, reason: str, detail: str) -> None:
        self.invalid.append((reason, detail))


@pytest.mark.parametrize(("status", "invalid"), [(200, False), (422, True), (500, True)])
def test_a_fault_the_target_refuses_makes_the_run_invalid(stub: str, status: int, invalid: bool) -> None:
    _Stub.fault_status = status
    run = _Run()
    FaultScheduler(run)._apply(FaultStep(at_s=0.0, action="outage", duration_s=0.0), stub)
    assert bool(run.invalid) == invalid
    if invalid:
        [(reason, detail)] = run.invalid
        assert reason == "fault not applied" and f"HTTP {status}" in detail and "outage" in detail


def test_one_count_per_request_folds_into_the_cumulative_and_the_unsent_seconds_exactly() -> None:
    """SecondCounts counts a request once and folds it into `seconds` and `take_unsent` when either is read."""
    import random

    rng = random.Random(2)
    counts = SecondCounts(ignore_suffixes=(PROBE,))
    seconds: dict[int, list[int]] = {}  # the two-table reference: every request into both
    unsent: dict[int, list[int]] = {}
    now, sent = 1_800_000_000.0, []
    for i in range(5000):
        now += rng.choice([0.0, 0.2, 0.9, 3.0])
        name = rng.choice(["/a", "/b" + PROBE])
        exc = RuntimeError("x") if rng.random() < 0.2 else None
        counts.count("GET", name, 1.0, exc, None, now, 1)
        if not name.endswith(PROBE):
            for table in (seconds, unsent):
                row = table.setdefault(int(now), [0, 0])
                row[0] += 1
                row[1] += exc is not None
        if i % 97 == 0:
            assert counts.seconds == seconds  # reading folds; nothing is counted twice
        if i % 331 == 0:
            got = counts.take_unsent()
            assert got == {str(k): v for k, v in unsent.items()}
            sent.append(got)
            unsent = {}
    assert counts.seconds == seconds and counts.take_unsent() == {str(k): v for k, v in unsent.items()}
    master = SecondCounts()
    for payload in sent:
        master.merge("w", payload)
    master.count(
        "GET", "/a", None, None, None, now, None
    )  # the master's own (a local run's) requests add too
    assert sum(v[0] for v in master.seconds.values()) == sum(n for p in sent for n, _ in p.values()) + 1
    counts.reset()
    assert counts.seconds == {} and counts.take_unsent() == {}
