"""The verdict's precedence, branch by branch: live abort 3 > interrupted 5 > invalid 4 > rules/regressions 3 > failures 1 > 0."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import pytest

from erpload.core.errors import ExitCode
from erpload.core.verdict import VerdictInput, decide


@dataclass(frozen=True)
class R:
    passed: bool


OK, BAD = R(True), R(False)
INVALID = ({"reason": "worker lost", "detail": "worker 1 missing", "at_s": 12.0},)


@pytest.mark.parametrize(
    ("given", "code"),
    [
        (VerdictInput(), ExitCode.PASS),
        (VerdictInput(rule_results=[OK, OK]), ExitCode.PASS),
        (VerdictInput(rule_results=[OK, BAD]), ExitCode.SLA_BREACHED),
        (VerdictInput(failures=3), ExitCode.REQUEST_FAILURES),
        (VerdictInput(exceptions=1), ExitCode.REQUEST_FAILURES),
        # with rules configured, the rules decide, not the raw failure count
        (VerdictInput(rule_results=[OK], failures=3), ExitCode.PASS),
        (VerdictInput(regressions=1, baseline="b.json"), ExitCode.SLA_BREACHED),
        (VerdictInput(regressions=1, failures=5), ExitCode.SLA_BREACHED),
        (VerdictInput(rule_results=[OK], regressions=2), ExitCode.SLA_BREACHED),
        (VerdictInput(invalid=INVALID), ExitCode.RUN_INVALID),
        (VerdictInput(invalid=INVALID, rule_results=[BAD], regressions=1, failures=9), ExitCode.RUN_INVALID),
        (VerdictInput(interrupted="SIGTERM at 12.0s"), ExitCode.ABORTED),
        (VerdictInput(interrupted="SIGINT at 3s", invalid=INVALID, rule_results=[BAD]), ExitCode.ABORTED),
        (VerdictInput(live_abort="p99 < 2s at 61s"), ExitCode.SLA_BREACHED),
        (VerdictInput(live_abort="p99 < 2s", interrupted="SIGTERM", invalid=INVALID), ExitCode.SLA_BREACHED),
    ],
)
def test_precedence(given: VerdictInput, code: ExitCode) -> None:
    assert decide(given).exit_code == code


def test_every_cause_is_noted_even_when_it_does_not_decide() -> None:
    v = decide(
        VerdictInput(interrupted="SIGTERM at 12.0s", invalid=INVALID, regressions=1, baseline="b.json")
    )
    assert v.exit_code == ExitCode.ABORTED and v.label == "aborted"
    text = "\n".join(v.notes)
    assert "SIGTERM at 12.0s" in text and "worker lost" in text and "baseline b.json" in text


def test_labels() -> None:
    assert decide(VerdictInput()).label == "pass"
    assert decide(VerdictInput(rule_results=[BAD])).label == "sla breached"
    assert decide(VerdictInput(invalid=INVALID)).label == "invalid"


def test_verdict_runs_without_locust() -> None:
    code = "import sys, erpload.core.verdict; sys.exit(any(m.split('.')[0] in ('locust', 'gevent') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
