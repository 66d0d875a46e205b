"""A hostile target cannot make a run pass or eat the generator: a slowloris answer fails at the total deadline,
requests cut off at stop are failures, an endless chunked body is capped with the generator's memory bounded."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from helpers import FAST_THINK, PY, ROOT, Proc, load_summary

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
LOCUSTFILES = str(ROOT / "locustfiles")
RLIMIT_AS = 2 * 2**30  # safety net: an unbounded body read dies here instead of eating the machine
RSS_BOUND = 600 * 2**20  # a few 10 MiB bodies in flight on top of a ~60 MB Locust; measured ~190 MB


def hostile(tmp: Path, mode: str, lifetime: float = 90) -> tuple[Proc, str]:
    proc = Proc(
        [PY, str(HERE / "hostile_server.py"), mode, "--lifetime", str(lifetime)], name=mode, log_dir=tmp
    )
    return proc, proc.expect(r"listening on (http://\S+)", timeout=30).group(1)


def profile(tmp: Path, hold_s: int) -> Path:
    path = tmp / "hostile.yaml"
    path.write_text(
        "name: hostile\ndescription: a hostile target.\nroles: {CuttingOperator: 1, QcInspector: 1, Admin: 1}\n"
        f"stages:\n  - {{name: ramp, duration: 1s, users: 3, spawn_rate: 3}}\n"
        f"  - {{name: hold, duration: {hold_s}s, users: 3}}\nsla:\n  - error_rate < 1%\n"
    )
    return path


def run(
    tmp: Path, url: str, hold_s: int, env: dict[str, str], limit_memory: bool = False
) -> tuple[Proc, Path]:
    rep = tmp / "reports"
    args = ["-m", "locust", "-f", LOCUSTFILES, "--headless", "--only-summary", "--load-profile"]
    args += [str(profile(tmp, hold_s)), "-H", url, "--report-dir", str(rep)]
    if limit_memory:  # exec keeps the pid, so psutil measures Locust itself
        setup = (
            "import os, resource, sys; resource.setrlimit(resource.RLIMIT_AS, "
            f"({RLIMIT_AS}, {RLIMIT_AS})); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
        )
        args = ["-c", setup, *args]
    return Proc([PY, *args], env={**FAST_THINK, **env}, name="locust", log_dir=tmp), rep


def errors_of(summary: dict) -> str:
    """The error texts; the role users mask digits in evidence ("within # s"), the patterns allow either."""
    return json.dumps(summary["errors"])


def test_slowloris_target_fails_every_request_at_the_total_deadline(tmp_path: Path):
    server, url = hostile(tmp_path, "slowloris")
    try:
        proc, rep = run(tmp_path, url, 8, {"ERPLOAD_REQUEST_TIMEOUT": "2"})
        rc = proc.wait(90)
    finally:
        server.stop()
    assert rc in (3, 4), proc.tail()  # SLA breached (or invalid: no progress), never a pass
    s = load_summary(rep)
    logins = {(r["method"], r["name"]): r for r in s["requests"]}[("POST", "/auth/login")]
    # each user fails a login every ~2 s (the deadline), not once per 60 s (the per-read timeout)
    assert logins["failures"] >= 6 and logins["failures"] == logins["count"], logins
    assert re.search(r"no complete response within (2|#) s: [\d#]+ bytes received", errors_of(s)), s["errors"]
    assert s["duration_s"] < 9 + 8, s["duration_s"]
    assert "Traceback" not in proc.output


def test_requests_still_in_flight_at_stop_are_failures(tmp_path: Path):
    server, url = hostile(tmp_path, "slowloris")
    try:  # a 60 s deadline: nothing completes or times out before the 5 s run ends
        proc, rep = run(tmp_path, url, 4, {"ERPLOAD_REQUEST_TIMEOUT": "60"})
        rc = proc.wait(90)
    finally:
        server.stop()
    assert rc in (3, 4), proc.tail()
    s = load_summary(rep)
    assert s["total"]["count"] == s["total"]["failures"] == 3, (s["total"], s["errors"])
    text = errors_of(s)
    assert "in flight at stop: no complete response after" in text and "some bytes received" in text, text
    row = {(r["method"], r["name"]): r for r in s["requests"]}[("POST", "/auth/login")]
    assert row["failures"] == 3, row
    assert sum(r["failures"] for r in s["roles"]) == 3, s["roles"]  # counted per role too
    assert "Traceback" not in proc.output


@pytest.mark.parametrize(
    ("mode", "evidence"),
    [
        ("endless", r"body exceeded (4|#) MiB cap after [\d#]+ bytes"),
        ("gzipbomb", r"decompressed body exceeded"),
    ],
)
def test_endless_or_inflating_body_is_capped_and_generator_memory_stays_bounded(
    tmp_path: Path, mode: str, evidence: str
):
    server, url = hostile(tmp_path, mode)
    peak = 0
    try:
        proc, rep = run(tmp_path, url, 8, {"ERPLOAD_MAX_BODY": "4MiB"}, limit_memory=True)
        me = psutil.Process(proc.pid)
        deadline = time.monotonic() + 90  # the run ends by itself after ~9 s; proc.wait() below stops a hang
        while proc.popen.poll() is None and time.monotonic() < deadline:
            try:
                peak = max(peak, me.memory_info().rss)
            except psutil.NoSuchProcess:
                break
            try:
                proc.popen.wait(
                    timeout=0.2
                )  # the sampling interval of a bounded loop (the run ends by itself)
            except subprocess.TimeoutExpired:
                pass
        rc = proc.wait(90)
    finally:
        server.stop()
    print(f"{mode}: peak RSS of the locust process: {peak / 2**20:.0f} MiB")
    assert rc in (3, 4), proc.tail()
    s = load_summary(rep)
    assert s["total"]["failures"] >= 3, s["total"]
    assert re.search(evidence, errors_of(s)), s["errors"]
    assert 0 < peak < RSS_BOUND, f"peak RSS {peak / 2**20:.0f} MiB"
    assert "Traceback" not in proc.output and "MemoryError" not in proc.output
