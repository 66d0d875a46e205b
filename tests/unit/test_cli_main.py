"""`erpload`'s main maps every ErploadError to its exit code with its message; anything else is a bug (6)."""

from __future__ import annotations

import pytest

import erpload.cli as cli
from erpload.core.errors import ConfigError, ErploadError, InternalError, Problem, TargetUnavailable
from erpload.report import ReportWriteError


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        (
            ConfigError("profiles/x.yaml", [Problem("stages[0]", "required", "Add one")]),
            2,
            "stages[0]: required",
        ),
        (
            TargetUnavailable("the reference ERP", "it timed out after 5s", "Give it longer"),
            7,
            "timed out after 5s",
        ),
        (InternalError("invariant broken"), 6, "Error: invariant broken"),
        (ReportWriteError({}), 6, "reports could not be written"),
    ],
)
def test_every_erpload_error_is_its_exit_code_and_message(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: ErploadError,
    code: int,
    text: str,
) -> None:
    def fail(argv: list[str]) -> int:
        raise error

    monkeypatch.setattr(cli, "_dispatch", fail)
    assert cli.main(["validate", "x"]) == code
    err = capsys.readouterr().err
    assert text in err and err.startswith("Error:") and "Traceback" not in err


def test_anything_else_is_a_bug_exit_6_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(argv: list[str]) -> int:
        raise KeyError("oops")

    monkeypatch.setattr(cli, "_dispatch", fail)
    assert cli.main([]) == 6
    err = capsys.readouterr().err
    assert "internal error in erpload (a bug, please report it" in err.splitlines()[-1]
    assert "KeyError: 'oops'" in err


def test_interrupted_before_the_run_is_aborted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def fail(argv: list[str]) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_dispatch", fail)
    assert cli.main([]) == 5
    assert "interrupted (exit 5)" in capsys.readouterr().err
