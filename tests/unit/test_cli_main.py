"""`erpload`'s main maps every ErploadError to its exit code with its message; anything else is a bug (6)."""

from __future__ import annotations

from pathlib import Path

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


# ---------------------------------------------------------------------------------------------
# `erpload run | ui | validate | demo`: what reaches Locust, where inputs are found, what --help lists.


def _captured_exec(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Replace the exec into Locust with a recorder of its command line."""
    import erpload.cli.run as run

    calls: list[list[str]] = []
    monkeypatch.setattr(run, "_exec", lambda cmd: calls.append(cmd) or 0)
    return calls


def _after(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_run_passes_erpload_and_locust_options_on_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ERPLOAD_LOCUSTFILES", raising=False)
    monkeypatch.delenv("ERPLOAD_PROFILES", raising=False)
    calls = _captured_exec(monkeypatch)
    args = [
        "run",
        "smoke",
        "-H",
        "http://127.0.0.1:1/",
        "--target-pid",
        "7",
        "--master",
        "--worker-cpu-limit=80",
    ]
    assert cli.main([*args, "-t", "5s"]) == 0
    (cmd,) = calls
    roles = Path(_after(cmd, "-f"))
    assert roles.is_dir() and (roles / "harness.py").is_file() and roles.name == "roles"
    assert (
        Path(_after(cmd, "--load-profile")).name == "smoke.yaml" and _after(cmd, "-H") == "http://127.0.0.1:1"
    )
    # --master reaches Locust whole (not read as an abbreviation of erpload's --master-timeout)
    assert cmd[cmd.index("--target-pid") :][:6] == [
        "--target-pid",
        "7",
        "--worker-cpu-limit",
        "80",
        "--master",
        "-t",
    ]


def test_run_with_own_locustfile_adds_the_harness(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = _captured_exec(monkeypatch)
    own = tmp_path / "mine.py"
    own.write_text("")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "smoke", "-H", "http://127.0.0.1:1", "-f", "mine.py"]) == 0
    files = _after(calls[0], "-f").split(",")
    assert files[0] == str(own) and files[1].endswith("/roles/harness.py") and len(files) == 2


def test_missing_inputs_are_exit_2_with_every_problem_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = _captured_exec(monkeypatch)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "smok", "-H", "ftp://x", "-f", "nothere.py", "--api-map", "nomap.yaml"]) == 2
    err = capsys.readouterr().err
    assert "--api-map nomap.yaml: file not found" in err
    assert "profile 'smok': no profile of that name in" in err and "Did you mean 'smoke'?" in err
    assert f"-f nothere.py: no such file or directory (looked in {tmp_path})" in err
    assert "leave -f out to run the shipped role users" in err and "-H / --host: scheme 'ftp://'" in err
    monkeypatch.setenv("ERPLOAD_LOCUSTFILES", str(tmp_path / "gone"))
    assert cli.main(["ui", "smoke", "-H", "http://127.0.0.1:1"]) == 2
    assert "ERPLOAD_LOCUSTFILES: no such locustfile or directory" in capsys.readouterr().err
    assert not calls, "nothing may start when an input is missing"


def test_profiles_come_from_erpload_profiles_when_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from erpload.cli.paths import profile_path

    (tmp_path / "mine.yaml").write_text("x")
    monkeypatch.setenv("ERPLOAD_PROFILES", str(tmp_path))
    assert profile_path("mine") == tmp_path / "mine.yaml"
    monkeypatch.chdir(tmp_path.parent)
    assert cli.main(["validate", "mien"]) == 2
    assert "Did you mean 'mine'?" in capsys.readouterr().out


def _option_strings(group: object) -> dict[str, str]:
    return {a.option_strings[-1]: a.help or "" for a in group._group_actions}  # type: ignore[attr-defined]


def test_run_help_lists_every_erpload_option_of_locusts_parser_with_help() -> None:
    from locust.argument_parser import get_empty_argument_parser

    from erpload.locust.options import GROUP_TITLE, add_options

    locust_parser = get_empty_argument_parser()
    add_options(locust_parser)
    (theirs,) = [g for g in locust_parser._action_groups if g.title == GROUP_TITLE]
    expected = _option_strings(theirs)
    assert len(expected) >= 10 and all(expected.values())
    web_ui = locust_parser.args_included_in_web_ui  # Locust's extra kwargs survive the group
    assert "load_profile" in web_ui and "sample_interval" not in web_ui

    sub = cli.build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in ("run", "ui"):
        (ours,) = [g for g in sub[name]._action_groups if g.title == GROUP_TITLE]
        shown = _option_strings(ours)
        assert set(shown) == set(expected) - {"--load-profile"}, name  # the profile is the positional
        for flag, text in shown.items():
            assert text.startswith(expected[flag]), (name, flag)
        assert "[env: ERPLOAD_TARGET_PID]" in shown["--target-pid"]


def test_demo_watches_its_target_and_keeps_the_roles_think_times(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import erpload.cli.children as children

    class FakeTarget:
        url = "http://127.0.0.1:1"
        popen = type("Popen", (), {"pid": 4242})()

        def stop(self) -> int:
            return 0

    seen: dict[str, object] = {}

    def forwarding(cmd: list[str], env: dict[str, str] | None = None) -> int:
        seen.update(cmd=cmd, env=env)
        return 0

    monkeypatch.delenv("ERPLOAD_THINK_TIME", raising=False)
    monkeypatch.setattr(children, "start_target", lambda *a, **k: FakeTarget())
    monkeypatch.setattr(children, "run_forwarding", forwarding)
    monkeypatch.setattr(children, "interrupt_on_sigterm", lambda: None)
    assert cli.main(["demo", "--report-dir", str(tmp_path / "r")]) == 0
    cmd = seen["cmd"]
    assert isinstance(cmd, list) and _after(cmd, "--target-pid") == "4242"
    assert seen["env"] is None  # the environment as `erpload run` gets it: no think-time override
