"""Faults in distributed runs, each with real processes: lost/departed workers, a dead master, too few
workers, signals on a master with workers, and a misbehaving target (refused, hung, reset, malformed, 5xx)."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from helpers import (
    Cluster,
    Proc,
    Target,
    free_port,
    load_summary,
    locust,
    write_profile,
)

pytestmark = pytest.mark.e2e


def no_traceback(*procs: Proc) -> None:
    for p in procs:
        assert "Traceback" not in p.output, f"{p.name}:\n{p.tail()}"


def test_worker_sigkill_mid_run_is_detected_within_5s_and_makes_the_run_invalid(
    target: Target, tmp_path: Path
):
    c = Cluster(
        tmp_path, target.url, write_profile(tmp_path, "kill", 14), 2, "--html", str(tmp_path / "r.html")
    )
    c.wait_steady()
    victim = c.workers[1]
    killed_at = time.monotonic()
    victim.signal(signal.SIGKILL)
    c.master.expect(r"run INVALID: worker lost", timeout=15)
    detected_s = time.monotonic() - killed_at
    rc = c.master.wait(90)
    assert rc == 4, c.master.tail()
    assert c.workers[0].wait(30) == 0, c.workers[0].tail()
    s = load_summary(c.report_dir)
    assert s["verdict"] == "invalid" and s["exit_code"] == 4
    lost = [i for i in s["invalid"] if i["reason"] == "worker lost"]
    assert len(lost) == 1, s["invalid"]
    m = re.search(
        r"worker \d+ stopped reporting at ([\d.]+)s; (\d+) users lost \(detected after ([\d.]+)s",
        lost[0]["detail"],
    )
    assert m, lost[0]["detail"]
    assert int(m.group(2)) >= 3, "the killed worker ran about half of the 7 users"
    assert float(m.group(3)) <= 5.0 and detected_s <= 6.5, (m.group(3), detected_s)
    assert any("worker lost" in e["text"] for e in s["timeline"]["events"])
    assert s["total"]["count"] > 0 and (tmp_path / "r.html").is_file()
    no_traceback(c.master, c.workers[0])


def test_worker_sigterm_flushes_its_last_stats_and_is_not_lost(target: Target, tmp_path: Path):
    c = Cluster(tmp_path, target.url, write_profile(tmp_path, "term", 18), 2)
    c.wait_steady()
    leaver = c.workers[1]
    leaver.signal(signal.SIGTERM)
    assert leaver.wait(30) == 0, leaver.tail()
    m = c.master.expect(
        r"worker \d+ left at [\d.]+s with (\d+) users; final report (\S+) \((\d+) of (\d+) requests",
        timeout=15,
    )
    assert m.group(2) == "complete" and m.group(3) == m.group(4) and int(m.group(4)) > 0, m.group(0)
    rc = c.master.wait(90)
    s = load_summary(c.report_dir)
    assert "worker lost" not in {i["reason"] for i in s["invalid"]}, s["invalid"]
    # Locust re-dispatches the leaver's users to the remaining worker: the run stays valid if that worked
    if rc == 4:
        assert {i["reason"] for i in s["invalid"]} == {"worker left"}, s["invalid"]
    else:
        assert rc == 0, c.master.tail()
    assert any("left" in e["text"] for e in s["timeline"]["events"])
    assert "final report sent" in leaver.output
    no_traceback(c.master, leaver)


def test_killed_master_makes_workers_exit_by_themselves(target: Target, tmp_path: Path):
    c = Cluster(
        tmp_path,
        target.url,
        write_profile(tmp_path, "orphans", 60),
        2,
        worker_extra=("--master-timeout", "5"),
    )
    c.wait_steady()
    c.master.signal(signal.SIGKILL)
    killed_at = time.monotonic()
    for w in c.workers:
        assert w.wait(40) == 4, w.tail()
        assert "no heartbeat from the master" in w.output
    took = time.monotonic() - killed_at
    assert took < 25, f"workers took {took:.1f}s to notice a dead master (timeout 5s)"
    no_traceback(*c.workers)


def test_fewer_workers_than_expected_is_a_clear_error(target: Target, tmp_path: Path):
    c = Cluster(
        tmp_path,
        target.url,
        write_profile(tmp_path, "few", 10),
        1,
        "--expect-workers-max-wait",
        "5",
        expect=2,
    )
    assert c.master.wait(60) == 2, c.master.tail()
    out = c.master.output
    assert "only 1 of 2 expected workers connected" in out and "--expect-workers" in out, out
    assert "Nothing was sent" in out
    assert c.workers[0].wait(30) == 0, c.workers[0].tail()
    assert not (c.report_dir / "summary.json").exists()
    no_traceback(c.master, *c.workers)


@pytest.mark.parametrize(
    "sig, twice", [(signal.SIGTERM, False), (signal.SIGINT, True)], ids=["sigterm", "sigint-twice"]
)
def test_signal_on_master_with_workers(target: Target, tmp_path: Path, sig: int, twice: bool):
    html, csv = tmp_path / "locust.html", tmp_path / "csv" / "run"
    c = Cluster(
        tmp_path,
        target.url,
        write_profile(tmp_path, "sig", 60),
        2,
        "--html",
        str(html),
        "--csv",
        str(csv),
        worker_extra=("--master-timeout", "5"),
    )
    c.wait_steady()
    c.master.signal(sig)
    sent = time.monotonic()
    if twice:
        c.master.expect(r"send it again to exit at once", timeout=10)
        c.master.signal(sig)
    rc = c.master.wait(60)
    took = time.monotonic() - sent
    assert rc == 5, c.master.tail()
    for w in c.workers:
        assert w.wait(40) in (0, 4), (
            w.tail()
        )  # told to quit (0), or left on its own after --master-timeout (4)
    if twice:
        assert "exiting at once" in c.master.output and took < 10, took
        return
    s = load_summary(c.report_dir)
    assert s["verdict"] == "aborted" and s["exit_code"] == 5 and s["workers"] == 2
    assert s["total"]["count"] > 0
    assert html.is_file() and (csv.parent / "run_stats.csv").is_file()
    no_traceback(c.master, *c.workers)


# -- a misbehaving target ------------------------------------------------------------------------------------------
FAULTY = {  # endpoint (method, name) -> what the reference ERP does to it
    ("GET", "/dashboard"): ("--hang-rate", "0.3", "--hang-path", "^/dashboard$"),
    ("GET", "/production/work-orders"): ("--reset-rate", "0.5", "--reset-path", "^/production/work-orders$"),
    ("GET", "/qc/tests"): ("--malformed-rate", "0.5", "--malformed-path", "^/qc/tests$"),
}
TIMEOUT_ENV = {"ERPLOAD_REQUEST_TIMEOUT": "2"}  # a hung request fails after 2 s instead of 10


def run_local(tmp: Path, url: str, profile: Path) -> tuple[Proc, Path]:
    rep = tmp / "reports"
    proc = locust(
        "--headless",
        "--only-summary",
        "--load-profile",
        str(profile),
        "-H",
        url,
        "--report-dir",
        str(rep),
        name="locust",
        tmp=tmp,
        env=TIMEOUT_ENV,
    )
    return proc, rep


def assert_failures_counted(s: dict, names: list[tuple[str, str]], planned_s: float) -> None:
    rows = {(r["method"], r["name"]): r for r in s["requests"]}
    for key in names:
        assert key in rows and rows[key]["failures"] > 0, (key, rows.get(key))
    assert sum(r["failures"] for r in s["roles"]) == s["total"]["failures"] > 0, s["roles"]
    assert s["duration_s"] < planned_s + 8, (
        f"a stuck user kept the run going: {s['duration_s']}s of {planned_s}s"
    )


def test_target_hangs_resets_malformed_json_and_5xx_bursts_are_failures_per_endpoint_and_role(tmp_path: Path):
    flags = [f for fs in FAULTY.values() for f in fs]
    faulty = Target(tmp_path, *flags, "--fault-seed", "7", name="faulty")
    try:
        proc, rep = run_local(
            tmp_path, faulty.url, write_profile(tmp_path, "faults", 12, "  - error_rate < 1%\n")
        )
        proc.expect(r"stage 2/2 'hold'", timeout=60)
        admin = {"Authorization": "Bearer " + faulty.login("admin01")}
        burst = requests.put(
            faulty.url + "/admin/faults",
            headers=admin,
            timeout=10,
            json={"error_rate": 1.0, "error_path": "^/ppic/manufacturing-orders$"},
        )
        assert burst.status_code == 200, burst.text
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(
                timeout=4
            )  # a 5xx burst of ~4 s (or until the run ends), then the target recovers
        requests.put(faulty.url + "/admin/faults", headers=admin, json={"error_rate": 0.0}, timeout=10)
        rc = proc.wait(90)
    finally:
        faulty.stop()
    assert rc == 3, proc.tail()  # error_rate < 1% breached
    s = load_summary(rep)
    assert_failures_counted(s, [*FAULTY, ("GET", "/ppic/manufacturing-orders")], 15)
    errors = " ".join(e["error"] for e in s["errors"]).lower()
    # hangs: a per-read timeout, or the request's total deadline (erpload.users.transport)
    assert any(w in errors for w in ("timeout", "timed out", "no complete response within")), errors
    assert "500" in errors, errors  # the burst
    no_traceback(proc, faulty.proc)


@pytest.mark.parametrize("when", ["never-listening", "stopped-mid-run"])
def test_target_refusing_connections_is_failures_not_a_hang(tmp_path: Path, when: str):
    profile = write_profile(tmp_path, "refused", 6, "  - error_rate < 1%\n")
    target = None
    if when == "never-listening":
        url = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    else:
        target = Target(tmp_path, name="doomed")
        url = target.url
    try:
        proc, rep = run_local(tmp_path, url, profile)
        if target is not None:
            proc.expect(r"stage 2/2 'hold'", timeout=60)
            target.stop()
        rc = proc.wait(90)
    finally:
        if target is not None:
            target.stop()
    assert rc == 3, proc.tail()
    s = load_summary(rep)
    assert_failures_counted(s, [("POST", "/auth/login")] if target is None else [], 9)
    errors = " ".join(e["error"] for e in s["errors"]).lower()
    assert "refused" in errors or "connection" in errors, errors
    no_traceback(proc)
