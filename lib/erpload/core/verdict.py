"""The run's verdict as one pure function: everything that decides the exit code, in one place.

Precedence, highest first (the first that applies decides; every applicable note is kept):

    live abort (an `abort: true` rule tripped) ...... 3  SLA_BREACHED
    interrupted (signal, web UI Stop) ............... 5  ABORTED
    invalid (worker lost, saturated, under-delivered) 4  RUN_INVALID
    a rule failed, or a baseline regression ......... 3  SLA_BREACHED
    request failures and no rule configured ......... 1  REQUEST_FAILURES
    otherwise ........................................ 0  PASS

A rule that could not be evaluated arrives here as a failed rule (evaluation fails closed), so it
can never pass. The plugin gathers the inputs and calls `decide`; nothing else picks an exit code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from erpload.core.errors import ExitCode

LABELS = {
    ExitCode.PASS: "pass",
    ExitCode.REQUEST_FAILURES: "request failures",
    ExitCode.SLA_BREACHED: "sla breached",
    ExitCode.RUN_INVALID: "invalid",
    ExitCode.ABORTED: "aborted",
}


class RuleOutcome(Protocol):
    """What the verdict needs of a rule result (erpload.sla.RuleResult has it)."""

    passed: bool


@dataclass(frozen=True)
class VerdictInput:
    """Everything that decides the exit code, gathered by the plugin at the end of a run."""

    rule_results: Sequence[RuleOutcome] = ()
    invalid: Sequence[Mapping[str, Any]] = ()  # {reason, detail, at_s}: any entry -> invalid
    live_abort: str = ""  # which live rule stopped the run, and when ("" = none)
    interrupted: str = ""  # what interrupted the run, and when ("" = not interrupted)
    regressions: int = 0  # baseline regressions found (0 without --baseline)
    baseline: str = ""  # the baseline's path, for the note
    failures: int = 0  # failed requests
    exceptions: int = 0  # distinct unhandled exceptions in user code


@dataclass(frozen=True)
class Verdict:
    """The exit code and the notes that explain it."""

    exit_code: ExitCode
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        """'pass', 'sla breached', 'invalid', 'aborted' or 'request failures'."""
        return LABELS.get(self.exit_code, self.exit_code.name.lower())


def decide(v: VerdictInput) -> Verdict:
    """The exit code of a run, by the precedence in this module's docstring."""
    notes: list[str] = []
    if v.live_abort:
        notes.append(f"stopped early by live SLA rule: {v.live_abort}")
    if v.interrupted:
        notes.append(f"interrupted: {v.interrupted}")
    notes += [f"invalid: {i.get('reason', '?')}: {i.get('detail', '')}" for i in v.invalid]
    failed_rules = sum(1 for r in v.rule_results if not r.passed)
    if v.regressions:
        notes.append(f"{v.regressions} regression(s) against baseline {v.baseline}".rstrip())
    if v.exceptions:
        notes.append(f"{v.exceptions} distinct unhandled exception(s) in user code")

    if v.live_abort:
        code = ExitCode.SLA_BREACHED
    elif v.interrupted:
        code = ExitCode.ABORTED
    elif v.invalid:
        code = ExitCode.RUN_INVALID
    elif failed_rules or v.regressions:
        code = ExitCode.SLA_BREACHED
    elif not v.rule_results and (v.failures or v.exceptions):
        code = ExitCode.REQUEST_FAILURES
    else:
        code = ExitCode.PASS
    return Verdict(code, tuple(notes))
