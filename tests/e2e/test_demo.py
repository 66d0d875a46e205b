"""The README's main command: `erpload demo` starts the reference ERP, runs a profile, prints the verdict."""

from __future__ import annotations

import json
from pathlib import Path

import psutil
import pytest
from procs import PY, Proc

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
