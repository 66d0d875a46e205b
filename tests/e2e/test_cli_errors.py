"""`erpload` maps every error to its exit code: bad input is exit 2 before any load, with where/what/fix.

The CLI runs as a real process; "nothing sent" is read from the reference ERP's own request counter.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from helpers import FAST_THINK, PROFILES, PY, Target, request_count

pytestmark = pytest.mark.e2e

MALFORMED = '{"schema_version": 1, "requests": "abc"}'  # the example of issue 13.7
GOOD = {"schema_version": 1, "verdict": "pass", "exit_code": 0, "requests": []}


def erpload(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "erpload.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**__import__("os").environ, **FAST_THINK},
        check=False,
    )


def test_help_lists_exactly_the_subcommands_that_exist() -> None:
    out = erpload("--help")
    assert out.returncode == 0, out.stderr
    choices = set(re.search(r"\{([a-z,]+)\}", out.stdout).group(1).split(","))
    flat = " ".join(out.stdout.split())  # argparse wraps the description
    described = set(re.search(r"command line: ([a-z |]+)\.", flat).group(1).split(" | "))
    assert described == choices, out.stdout  # the description once listed a `report` that did not exist
    assert "report" not in choices
    for name in sorted(choices):
        sub = erpload(name, "--help")
        assert sub.returncode == 0 and "usage:" in sub.stdout, (name, sub.stdout, sub.stderr)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (MALFORMED, "requests: must be a list of endpoint objects (got a string 'abc')"),
        ('{"schema_version": 1,\n "requests": [}', "base.json:2:15: not valid JSON: Expecting value"),
        (None, "base.json: no such file"),
    ],
)
def test_compare_with_a_bad_baseline_is_exit_2_with_the_message(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    base, current = tmp_path / "base.json", tmp_path / "current.json"
    if content is not None:
        base.write_text(content)
    current.write_text(json.dumps(GOOD))
    out = erpload("compare", str(base), str(current))
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"Error: the baseline {base} is not valid:" in out.stderr
    assert expected in out.stderr and "--report-dir DIR writes DIR/summary.json" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def test_compare_with_a_bad_current_summary_names_it(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(GOOD))
    bad.write_text(MALFORMED)
    out = erpload("compare", str(good), str(bad))
    assert out.returncode == 2 and f"the current run's summary {bad} is not valid" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr


def _cases(tmp: Path, url: str) -> dict[str, tuple[list[str], str]]:
    a_file = tmp / "not-a-dir"
    a_file.write_text("x")
    malformed = tmp / "malformed.json"
    malformed.write_text(MALFORMED)
    rep = ["--report-dir", str(tmp / "reports")]
    return {
        "ftp": (["-H", "ftp://127.0.0.1:21", *rep], "-H / --host: scheme 'ftp://'"),
        "bad-port": (["-H", "http://[::1]:bad", *rep], "-H / --host: port 'bad' is not a number"),
        "no-host": ([*rep], "the following arguments are required: --host/-H"),
        "report-dir-is-a-file": (["-H", url, "--report-dir", str(a_file)], "is a file, not a directory"),
        "report-dir-under-a-file": (["-H", url, "--report-dir", str(a_file / "r")], "Not a directory"),
        "missing-baseline": (["-H", url, *rep, "--baseline", str(tmp / "no.json")], "no.json: no such file"),
        "malformed-baseline": (
            ["-H", url, *rep, f"--baseline={malformed}"],
            f"--baseline {malformed}: requests: must be a list of endpoint objects",
        ),
    }


@pytest.mark.parametrize(
    "case",
    [
        "ftp",
        "bad-port",
        "no-host",
        "report-dir-is-a-file",
        "report-dir-under-a-file",
        "missing-baseline",
        "malformed-baseline",
    ],
)
def test_run_rejects_bad_input_before_any_load(target: Target, tmp_path: Path, case: str) -> None:
    args, expected = _cases(tmp_path, target.url)[case]
    before = request_count(target.url)
    out = erpload("run", str(PROFILES / "short.yaml"), *args)
    assert out.returncode == 2, out.stdout + out.stderr
    assert expected in out.stderr, out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert request_count(target.url) == before, "nothing may be sent when the input is invalid"
    assert not list(tmp_path.glob("reports/*")), "no report for a run that did not happen"


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    a_file = tmp_path / "f"
    a_file.write_text("x")
    out = erpload(
        "run", "smoke", "-H", "ftp://x", "--report-dir", str(a_file), "--baseline", str(tmp_path / "n.json")
    )
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("  ")]
    assert [ln.split(":")[0].strip() for ln in lines] == [
        "-H / --host",
        "--report-dir",
        f"--baseline {tmp_path}/n.json",
    ]
