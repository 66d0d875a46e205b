"""Error tree and the one exit-code enum every entry point uses (pure: no locust import).

Like click's exceptions, the exit code lives on the exception type: an entry point catches
`ErploadError`, prints `err.render()` and exits with `err.exit_code`. Anything else that escapes
is a bug in the suite: exit 6.

    ErploadError (6)
    ├── ConfigError (2)          a profile, flag, environment variable, credentials or API map is wrong
    ├── TargetUnavailable (7)    the target did not start or does not answer: nothing was measured
    └── InternalError (6)        the suite broke its own invariant
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; documented in the README. 1 stays Locust's own meaning."""

    PASS = 0  # every SLA rule passed (or none configured and no request failed)
    REQUEST_FAILURES = 1  # Locust's own: request failures and no SLA configured
    CONFIG_INVALID = 2  # profile / CLI invalid: nothing was sent to the target
    SLA_BREACHED = 3  # at least one SLA rule failed (also: a live `abort: true` rule stopped the run)
    RUN_INVALID = (
        4  # the measurement cannot be trusted: worker lost, generator saturated, load under-delivered
    )
    ABORTED = 5  # interrupted by SIGINT/SIGTERM or stopped from the UI before the profile ended
    INTERNAL_ERROR = 6  # a bug in the suite or the user's locustfile (unhandled exception)
    TARGET_UNAVAILABLE = 7  # the target did not start or does not answer: nothing was measured


class ErploadError(Exception):
    """Base of every error the suite raises on purpose; carries the exit code to use."""

    exit_code: ExitCode = ExitCode.INTERNAL_ERROR

    def render(self) -> str:
        """The message for stderr: 'Error: ...'."""
        return f"Error: {self}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where, what (with the value got), and how to fix it."""

    where: str  # field path, e.g. "stages[1].duration"
    message: str  # what is wrong, including the value got
    fix: str = ""  # how to fix it (may be empty when the message already says)

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text}. {self.fix}" if self.fix else text


class ConfigError(ErploadError):
    """Invalid configuration (profile file, CLI flags); raised before any load is sent."""

    exit_code = ExitCode.CONFIG_INVALID

    def __init__(self, source: str, problems: list[Problem] | list[str]):
        self.source = source
        self.problems = [p if isinstance(p, Problem) else Problem("", p) for p in problems]
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"Error: {self.source} is not valid:"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class TargetUnavailable(ErploadError):
    """The target (reference ERP or the team's own) did not start or does not answer."""

    exit_code = ExitCode.TARGET_UNAVAILABLE

    def __init__(self, target: str, reason: str, fix: str = "") -> None:
        self.target, self.reason, self.fix = target, reason, fix
        super().__init__(f"{target} is unavailable: {reason}" + (f". {fix}" if fix else ""))


class InternalError(ErploadError):
    """The suite broke one of its own invariants (a bug: please report it)."""

    exit_code = ExitCode.INTERNAL_ERROR
