"""The profile's `faults:` list: parsing, validation messages, switches (erpload.core.faultplan)."""

from __future__ import annotations

from typing import Any

import pytest

from erpload.core.faultplan import FaultStep, check_faults, off_value


def _check(raw: Any) -> tuple[list[FaultStep], list[tuple[str, str, str]]]:
    problems: list[tuple[str, str, str]] = []
    steps = check_faults(raw, lambda where, msg, fix: problems.append((where, msg, fix)))
    return steps, problems


def test_absent_is_no_fault() -> None:
    assert _check(None) == ([], [])


def test_every_action_parses_with_defaults_and_switches() -> None:
    steps, problems = _check(
        [
            {"at": "20s", "action": "outage", "duration": "5s"},
            {"at": 40, "action": "slow_db", "duration": "10s", "ms": 300},
            {"at": "1m", "action": "errors", "duration": "5s", "rate": 0.5, "name": "half down"},
            {"at": "70s", "action": "latency", "duration": "5s"},
            {"at": "80s", "action": "kill_connections", "duration": "1s"},
            {
                "at": "90s",
                "action": "set",
                "duration": "5s",
                "switches": {"hang_rate": 0.1, "racy_stock": True},
            },
        ]
    )
    assert problems == []
    outage, slow, errors, latency, kill, custom = steps
    assert (outage.at_s, outage.duration_s, outage.label) == (20.0, 5.0, "outage 5s at 20s")
    assert outage.switches_on() == {"outage_s": 5.0} and outage.switches_off() == {"outage_s": 0}
    assert slow.switches_on() == {"slow_db_ms": 300.0}
    assert errors.at_s == 60.0 and errors.label == "half down"
    assert errors.switches_on() == {"error_rate": 0.5, "error_path": None}
    assert latency.switches_on() == {"latency_ms": 1000.0, "latency_path": None}  # the default
    assert kill.switches_on() == {"reset_rate": 1.0, "reset_path": None}
    assert custom.switches_off() == {"hang_rate": 0, "racy_stock": False}
    assert off_value("error_path") is None


@pytest.mark.parametrize(
    ("raw", "where", "message", "fix"),
    [
        (
            {"at": "20s", "action": "outage", "duration": "5s"},
            "faults",
            "must be a list",
            "faults: [{at: 20s",
        ),
        (["outage"], "faults[0]", "must be a mapping (got 'outage')", "e.g. faults:"),
        ([{"action": "outage", "duration": "5s"}], "faults[0].at", "required", "e.g. faults:"),
        (
            [{"at": "soon", "action": "outage", "duration": "5s"}],
            "faults[0].at",
            "not a duration (got 'soon')",
            "90s, 5m, 1h30m",
        ),
        (
            [{"at": "1s", "action": "outage", "duration": 0}],
            "faults[0].duration",
            "must be > 0",
            "duration: 5s",
        ),
        (
            [{"at": "1s", "action": "reboot", "duration": "5s"}],
            "faults[0].action",
            "unknown action 'reboot'",
            "Known actions: outage, slow_db",
        ),
        (
            [{"at": "1s", "action": "outage", "duration": "5s", "when": 1}],
            "faults[0].when",
            "unknown key 'when'",
            "Known keys: at, action",
        ),
        (
            [{"at": "1s", "action": "outage", "duration": "5s", "ms": 3}],
            "faults[0].ms",
            "action outage takes no 'ms'",
            "only at and duration",
        ),
        (
            [{"at": "1s", "action": "slow_db", "duration": "5s", "ms": -1}],
            "faults[0].ms",
            "must be a number of ms in 0..600000 (got -1)",
            "ms: 300",
        ),
        (
            [{"at": "1s", "action": "errors", "duration": "5s", "rate": 2}],
            "faults[0].rate",
            "must be a share in 0..1 (got 2)",
            "rate: 0.5",
        ),
        (
            [{"at": "1s", "action": "errors", "duration": "5s", "rate": True}],
            "faults[0].rate",
            "must be a share in 0..1 (got True)",
            "rate: 0.5",
        ),
        (
            [{"at": "1s", "action": "set", "duration": "5s"}],
            "faults[0].switches",
            "must map fault switches",
            "switches: {hang_rate: 0.1}",
        ),
    ],
)
def test_problems_say_where_what_and_how_to_fix(raw: Any, where: str, message: str, fix: str) -> None:
    steps, problems = _check(raw)
    assert steps == []
    assert problems, "expected a problem"
    got_where, got_message, got_fix = problems[0]
    assert got_where == where
    assert message in got_message
    assert fix in got_fix


def test_every_problem_of_a_step_is_reported_and_good_steps_are_kept() -> None:
    steps, problems = _check(
        [
            {"at": "x", "action": "slow_db", "duration": 0, "ms": "fast"},
            {"at": "5s", "action": "outage", "duration": "2s"},
        ]
    )
    assert [s.label for s in steps] == ["outage 2s at 5s"]
    assert [w for w, _, _ in problems] == ["faults[0].at", "faults[0].duration", "faults[0].ms"]
