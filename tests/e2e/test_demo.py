"""The README's main command: `erpload demo` starts the reference ERP, runs a profile, prints the verdict."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from helpers import PROFILES, PY, Proc, load_summary

pytestmark = pytest.mark.e2e

SHORT = Path(__file__).parent / "profiles" / "short.yaml"


def demo(tmp: Path, *args: str, timeout: float = 150) -> tuple[int, Proc, Path]:
    report_dir = tmp / "reports"
    proc = Proc(
        [PY, "-m", "erpload.cli", "demo", "--report-dir", str(report_dir), *args],
        env={"ERPLOAD_THINK_TIME": "0.1,0.5"},
        name="demo",
        log_dir=tmp,
    )
    return proc.wait(timeout), proc, report_dir


def children_of(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def test_demo_smoke_profile_passes_and_cleans_up(tmp_path: Path):
    rc, proc, rep = demo(tmp_path)
    out = proc.output
    assert rc == 0, proc.tail()
    assert "reference ERP at http://127.0.0.1:" in out
    assert "stage 1/2 'ramp-up'" in out and "stage 2/2 'steady'" in out  # a progress line per stage
    assert "SLA all 4 rules passed" in out
    tail = out[out.rindex("== verdict: PASS ==") :]  # the verdict comes last, after Locust's tables
    assert tail.count("SLA PASS") == 4 and str(rep / "report.html") in tail
    assert f"reports in {rep}" in out
    summary = json.loads((rep / "summary.json").read_text())
    assert summary["verdict"] == "pass" and summary["profile"]["name"] == "smoke"
    assert {r["name"] for r in summary["roles"]} == {
        "CuttingOperator",
        "SewingOperator",
        "FinishingOperator",
        "QcInspector",
        "PpicPlanner",
        "WarehouseClerk",
        "StockTaker",
        "Admin",
        "Supervisor",
    }
    assert "Traceback" not in out
    assert not children_of(proc.pid), "the demo left processes behind"


def test_demo_with_injected_latency_shows_the_breach(tmp_path: Path):
    rc, proc, rep = demo(tmp_path, "--profile", str(SHORT), "--latency-ms", "800")
    assert rc == 3, proc.tail()
    assert "SLA FAIL" in proc.output and "exit code 3 (sla breached)" in proc.output
    summary = json.loads((rep / "summary.json").read_text())
    assert summary["verdict"] == "fail" and summary["exit_code"] == 3
    assert any(not r["passed"] and r["observed"] >= 800 for r in summary["sla"])


def test_demo_rejects_a_bad_target_flag(tmp_path: Path):
    rc, proc, _ = demo(tmp_path, "--latency-ms", "fast", timeout=60)
    assert rc == 2, proc.tail()
    assert "latency" in proc.output and "Traceback" not in proc.output
    assert "Error: the reference ERP's flags is not valid:" in proc.output
    assert "error: argument --latency-ms: invalid float value: 'fast'" in proc.output


def test_a_reference_erp_that_does_not_start_in_time_is_target_unavailable(tmp_path: Path):
    rc, proc, rep = demo(tmp_path, "--target-timeout", "0.2", timeout=60)
    out = proc.output
    assert rc == 7, proc.tail()
    assert "Error: the reference ERP is unavailable: it did not print 'listening on ...' within 0.2s" in out
    assert "(timed out; stopped it). Its last output lines:" in out
    assert "Give it longer (--target-timeout, now 0.2s)" in out
    assert "is not valid" not in out and "Traceback" not in out
    assert not (rep / "summary.json").exists()
    assert not children_of(proc.pid), "the demo left the reference ERP behind"


def test_a_reference_erp_that_cannot_listen_is_target_unavailable(tmp_path: Path):
    rc, proc, _ = demo(tmp_path, "--host", "192.0.2.1", timeout=90)  # TEST-NET-1: not an address of ours
    out = proc.output
    assert rc == 7, proc.tail()
    assert "Error: the reference ERP is unavailable: it exited with code 1 before listening" in out
    assert "Cannot assign requested address" in out.split("Its last output lines:")[1]
    assert "Traceback" not in out


def test_erpload_target_that_cannot_start_exits_7(tmp_path: Path):
    out = subprocess.run(
        [
            PY,
            "-m",
            "erpload.cli",
            "target",
            "--host",
            "192.0.2.1",
            "--port",
            "0",
            "--db",
            str(tmp_path / "e.db"),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert out.returncode == 7, out.stdout + out.stderr
    assert "Error: the reference ERP is unavailable: it could not start" in out.stderr
    assert "Traceback" not in out.stdout + out.stderr


@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["sigterm", "ctrl-c-to-the-process-group"],
)
def test_a_signal_to_the_demo_aborts_the_run_writes_reports_and_stops_everything(
    tmp_path: Path, sig: signal.Signals, group: bool
):
    rep = tmp_path / "reports"
    proc = Proc(
        [PY, "-m", "erpload.cli", "demo", "--report-dir", str(rep), "--profile", str(PROFILES / "long.yaml")],
        env={"ERPLOAD_THINK_TIME": "0.1,0.5"},
        name=f"demo-{sig.name}",
        log_dir=tmp_path,
    )
    proc.expect(r"stage 2/2 'hold'", timeout=120)
    started = children_of(proc.pid)
    assert len(started) >= 2, "expected the reference ERP and Locust under the demo"
    # SIGTERM to the demo only (kill, docker stop); SIGINT to its whole process group, as a terminal's
    # Ctrl+C: Locust must get it once (a second one means "exit at once, no reports")
    if group:
        os.killpg(proc.pid, sig)  # Proc starts a new session: its group is its PID
    else:
        proc.signal(sig)
    rc = proc.wait(90)
    assert rc == 5, proc.tail()
    summary = load_summary(rep)
    assert (summary["verdict"], summary["exit_code"]) == ("aborted", 5)
    assert "== verdict: ABORTED ==" in proc.output and "exit code 5 (aborted)" in proc.output
    _, alive = psutil.wait_procs(started, timeout=30)
    assert not alive, f"left behind: {[p.pid for p in alive]}"
    assert "Traceback" not in proc.output


def test_sigterm_while_the_reference_erp_starts_stops_it_and_exits_aborted(tmp_path: Path):
    proc = Proc(
        [PY, "-m", "erpload.cli", "demo", "--report-dir", str(tmp_path / "reports")],
        name="demo-early-term",
        log_dir=tmp_path,
    )
    proc.expect(r"erpload demo: starting the reference ERP", timeout=60)
    deadline = time.monotonic() + 30
    while not (started := [p for p in children_of(proc.pid) if "erp_target" in " ".join(p.cmdline())]):
        assert time.monotonic() < deadline, "the reference ERP was not started"
        time.sleep(0.05)  # poll interval of a bounded wait for the child to appear
    proc.signal(signal.SIGTERM)  # while it seeds its database, before it listens
    rc = proc.wait(60)
    assert rc == 5, proc.tail()
    assert "erpload: interrupted (exit 5)" in proc.output and "Traceback" not in proc.output
    _, alive = psutil.wait_procs(started, timeout=30)
    assert not alive and not children_of(proc.pid), "the reference ERP outlived the demo"
