"""Reports never contradict the process: all-or-nothing writes on a real full filesystem; report dir checked first.

The filesystems are real tmpfs mounts of 256 KiB (the tests run as root, like CI); each is unmounted
in teardown.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from erpload.core.errors import ConfigError, ExitCode
from erpload.report import RENDERERS, ReportWriteError, check_report_dir, write_reports
from erpload.report.summary import EndpointSummary, ProfileInfo, RunSummary

REPORTS = ["comment.md", "junit.xml", "report.html", "summary.json", "summary.md"]
PAGE = 4096  # tmpfs allocates whole pages


def _summary(verdict: str = "fail", exit_code: int = 3, notes: tuple[str, ...] = ()) -> RunSummary:
    requests = [
        EndpointSummary(
            "GET", f"/warehouse/stock/{i}", count=100, failures=i % 3, rps=5.0, p50=12.0, p95=40.0
        )
        for i in range(30)
    ]
    total = EndpointSummary("", "Aggregated", count=3000, failures=30, rps=150.0, p95=40.0)
    return RunSummary(
        verdict, exit_code, ProfileInfo("disk"), requests=requests, total=total, notes=list(notes)
    )


def _pages(text: str) -> int:
    return -(-len(text.encode()) // PAGE) * PAGE


def _sizes(summary: RunSummary) -> dict[str, int]:
    return {filename: _pages(render(summary)) for filename, render in RENDERERS.values()}


def _mount(path: Path, *options: str) -> None:
    path.mkdir(exist_ok=True)
    out = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(["size=256k", *options]), "tmpfs", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 0, f"these tests mount a small tmpfs and need root: {out.stderr}"


def _umount(path: Path) -> None:
    """Unmount; another process walking /tmp can hold it for a moment: retry, then detach lazily."""
    for _ in range(20):
        if (
            subprocess.run(["umount", str(path)], capture_output=True, timeout=30, check=False).returncode
            == 0
        ):
            return
        time.sleep(0.1)  # bounded retry of a busy unmount, not a wait for a result
    subprocess.run(["umount", "-l", str(path)], check=True, timeout=30)


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A real 256 KiB filesystem."""
    mnt = tmp_path / "small"
    _mount(mnt)
    try:
        yield mnt
    finally:
        _umount(mnt)


def _fill(fs: Path, leave: int) -> None:
    """Fill `fs` until only `leave` bytes are free."""
    st = os.statvfs(fs)
    free = st.f_bavail * st.f_frsize
    assert free > leave, f"only {free} bytes free on {fs}"
    (fs / "filler").write_bytes(b"\0" * (free - leave))


def _reports(directory: Path) -> list[str]:
    return sorted(p for p in os.listdir(directory) if p != "filler")


def test_a_full_disk_leaves_no_report_and_names_every_file_that_failed(small_fs: Path) -> None:
    out = small_fs / "run"
    out.mkdir()
    sizes = _sizes(_summary())
    assert sizes["report.html"] > PAGE, sizes
    # every report but the last staged one (report.html) fits: the case where summary.json said "pass"
    _fill(small_fs, leave=sizes["summary.json"] + sizes["junit.xml"] + sizes["summary.md"] + PAGE)
    with pytest.raises(ReportWriteError) as info:
        write_reports(_summary(), out)
    err = info.value
    assert err.exit_code == ExitCode.INTERNAL_ERROR
    assert err.failed, "the error must name what could not be written"
    assert all("No space left on device" in why for why in err.failed.values()), err.failed
    text = err.render()
    for path in err.failed:
        assert f"{path}: No space left on device" in text
    assert "Free space" in text
    assert _reports(out) == [], "no report (and no temp file) may claim a verdict the process does not give"


def test_an_earlier_runs_reports_are_removed_when_this_runs_cannot_be_written(small_fs: Path) -> None:
    out = small_fs / "run"
    first = _summary(verdict="pass", exit_code=0)
    write_reports(first, out)
    assert _reports(out) == REPORTS
    assert json.loads((out / "summary.json").read_text())["verdict"] == "pass"
    second = _summary(notes=("x" * 40_000,))  # this run's summary.json no longer fits
    _fill(small_fs, leave=_sizes(second)["summary.json"] - PAGE)
    with pytest.raises(ReportWriteError) as info:
        write_reports(second, out)
    assert out / "summary.json" in info.value.failed
    assert _reports(out) == [], "the earlier run's 'pass' would pass for this run's result"
    assert sorted(p.name for p in info.value.removed) == REPORTS
    assert "removed so that no report contradicts this exit code" in info.value.render()


def test_reports_fit_when_there_is_room(small_fs: Path) -> None:
    paths = write_reports(_summary(), small_fs / "run")
    assert sorted(p.name for p in paths.values()) == REPORTS
    assert _reports(small_fs / "run") == REPORTS  # no temp file left


# -- the report dir, before any load --------------------------------------------------------------


def test_report_dir_is_created_when_missing_and_no_probe_is_left(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    check_report_dir(out)
    assert out.is_dir() and os.listdir(out) == []


@pytest.mark.parametrize("under", [False, True])
def test_report_dir_that_is_a_file_is_a_config_error(tmp_path: Path, under: bool) -> None:
    f = tmp_path / "summary.json"
    f.write_text("{}")
    path = f / "sub" if under else f
    with pytest.raises(ConfigError) as info:
        check_report_dir(path)
    err = info.value
    assert err.exit_code == ExitCode.CONFIG_INVALID
    (problem,) = err.problems
    assert problem.where == "--report-dir" and str(path) in problem.message
    assert ("Not a directory" if under else "is a file, not a directory") in problem.message
    assert "directory you can write to" in problem.fix
    assert f.read_text() == "{}"


def test_report_dir_on_a_read_only_filesystem_is_a_config_error(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    _mount(ro, "ro")
    try:
        with pytest.raises(ConfigError) as info:
            check_report_dir(ro)
        assert "cannot write in" in str(info.value) and "Read-only file system" in str(info.value)
        with pytest.raises(ConfigError, match="cannot create .*Read-only file system"):
            check_report_dir(ro / "new")
    finally:
        _umount(ro)
