"""Stop in the web UI before the profile's end makes the run ABORTED (exit 5), like a signal headless.

A real target and a real Locust web UI with a 16 s profile (tests/e2e/profiles/short.yaml) and
--report-dir. Quitting happens later (SIGTERM, as a service manager would), after the profile would
have ended: that is how a run stopped at 39.5 s of 60 s used to be reported as a PASS.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import requests

from helpers import PROFILES, Proc, Target, free_port, load_summary, locust, wait_http

pytestmark = pytest.mark.e2e

PROFILE = PROFILES / "short.yaml"
PROFILE_S = 16.0  # 4 s ramp + 12 s steady


def _stats(base: str) -> dict:
    return requests.get(base + "/stats/requests", timeout=10).json()


def _wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"not {what} within {timeout}s"
        time.sleep(0.2)  # poll interval of a bounded wait


def _web_ui(target: Target, tmp_path: Path, name: str) -> tuple[Proc, str, Path]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    reports = tmp_path / "reports"
    proc = locust(
        "--web-host", "127.0.0.1", "--web-port", str(port), "-H", target.url,
        "--load-profile", str(PROFILE), "--report-dir", str(reports),
        name=name, tmp=tmp_path,
    )  # fmt: skip
    proc.expect(r"Starting web interface", timeout=60)
    wait_http(base + "/", timeout=30)
    return proc, base, reports


def _start(base: str, target: Target) -> float:
    """POST /swarm as a script would (no Origin); return when it started (monotonic)."""
    r = requests.post(base + "/swarm", data={"load_profile": str(PROFILE), "host": target.url}, timeout=10)
    assert r.status_code == 200 and r.json()["success"], r.text
    return time.monotonic()


def _quit(proc: Proc) -> int:
    proc.signal(signal.SIGTERM)
    return proc.wait(90)


def test_stop_mid_profile_reports_aborted_and_exits_5(target: Target, tmp_path: Path):
    proc, base, reports = _web_ui(target, tmp_path, "locust-stop")
    try:
        started = _start(base, target)
        _wait_for(lambda: _stats(base)["user_count"] >= 1, 60, "users running")
        r = requests.post(base + "/stop", timeout=30)
        stopped_after = time.monotonic() - started
        assert r.status_code == 200 and r.json()["success"], r.text
        assert stopped_after < PROFILE_S - 2, f"stopped at {stopped_after:.1f}s: too late to prove anything"
        _wait_for(lambda: _stats(base)["state"] == "stopped", 60, "stopped")
        # leave the UI open past the profile's planned end, then quit: the run must stay "aborted"
        while time.monotonic() < started + PROFILE_S + 3:
            assert _stats(base)["state"] == "stopped"  # and nothing restarted it
            time.sleep(0.5)  # poll interval while the clock passes the profile's end
        rc = _quit(proc)
    finally:
        proc.stop()
    summary = load_summary(reports)
    assert rc == 5, f"exit {rc}, verdict {summary['verdict']}:\n{proc.tail()}"
    assert summary["verdict"] == "aborted", summary["verdict"]
    assert "stopped from the web UI at" in (reports / "summary.json").read_text()
    assert "Traceback" not in proc.output, proc.tail()


def test_profile_that_ends_by_itself_is_not_aborted_by_a_late_stop(target: Target, tmp_path: Path):
    proc, base, reports = _web_ui(target, tmp_path, "locust-end")
    try:
        _start(base, target)
        _wait_for(lambda: _stats(base)["state"] in ("spawning", "running"), 60, "running")
        _wait_for(lambda: _stats(base)["state"] == "stopped", PROFILE_S + 60, "stopped by the profile's end")
        r = requests.post(base + "/stop", timeout=30)  # a click after the end interrupts nothing
        assert r.status_code == 200 and r.json()["success"], r.text
        rc = _quit(proc)
    finally:
        proc.stop()
    summary = load_summary(reports)
    assert rc in (0, 3, 4) and summary["verdict"] != "aborted", (rc, summary["verdict"], proc.tail())
    assert "stopped from the web UI" not in proc.output, proc.tail()
    assert "Traceback" not in proc.output, proc.tail()
