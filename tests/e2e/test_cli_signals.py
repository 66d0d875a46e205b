"""`erpload run` stopped by SIGTERM (Docker, Kubernetes, CI timeouts) or SIGINT (Ctrl+C): exit 5, reports
written with verdict "aborted", no Locust left running to write "pass" later, no traceback."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest

from helpers import FAST_THINK, PROFILES, PY, Proc, Target, load_summary

pytestmark = pytest.mark.e2e


def processes_mentioning(text: str) -> list[psutil.Process]:
    """Every live process whose command line contains `text` (here: this test's unique report dir)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if any(text in part for part in p.info["cmdline"] or []) and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except psutil.Error:
            continue
    return found


@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True)],
    ids=["sigterm", "sigint", "ctrl-c-to-the-process-group"],
)
def test_a_signal_to_erpload_run_aborts_the_run_and_leaves_nothing_behind(
    target: Target, tmp_path: Path, sig: signal.Signals, group: bool
) -> None:
    rep = tmp_path / "reports"
    proc = Proc(
        [
            PY,
            "-m",
            "erpload.cli",
            "run",
            str(PROFILES / "long.yaml"),
            "-H",
            target.url,
            "--report-dir",
            str(rep),
        ],
        env=FAST_THINK,
        name=f"run-{sig.name}",
        log_dir=tmp_path,
    )
    proc.expect(r"stage 2/2 'hold'", timeout=90)  # the load is running
    load = processes_mentioning(str(rep))
    assert load, "expected the Locust run to be visible"
    # to the erpload process only (kill, docker stop), or to its process group (a terminal's Ctrl+C)
    if group:
        os.killpg(proc.pid, sig)  # Proc starts a new session: its group is its PID
    else:
        proc.signal(sig)
    rc = proc.wait(90)
    assert rc == 5, proc.tail()
    summary = load_summary(rep)  # all four reports
    assert (summary["verdict"], summary["exit_code"]) == ("aborted", 5)
    assert summary["total"]["count"] > 0
    psutil.wait_procs(load, timeout=30)
    left = processes_mentioning(str(rep))
    assert not left, f"a Locust run outlived `erpload run`: {[p.pid for p in left]}"
    assert "Traceback" not in proc.output
