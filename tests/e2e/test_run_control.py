"""Run control end to end: live SLA abort, signals, baselines, Locust's own outputs, master + 2 workers."""

from __future__ import annotations

import json
import signal
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import (
    PROFILES,
    PY,
    ROOT,
    Proc,
    Target,
    free_port,
    load_summary,
    run_locust,
    start_locust,
    start_workers,
)

pytestmark = pytest.mark.e2e


def test_live_abort_rule_stops_the_run_early_with_sla_exit_code(tmp_path: Path):
    slow = Target(tmp_path, "--latency-ms", "400", "--latency-path", "^/dashboard$", name="slow")
    try:
        rc, proc, rep = run_locust(tmp_path, slow.url, PROFILES / "abort.yaml", timeout=60)
    finally:
        slow.stop()
    assert rc == 3, proc.tail()
    s = load_summary(rep)
    assert s["verdict"] == "fail"
    assert s["duration_s"] < 20, f"a 60 s profile should have stopped after ~5 s, ran {s['duration_s']}s"
    assert any("stopped early" in n for n in s["notes"]), s["notes"]
    assert any("SLA ABORT" in e["text"] for e in s["timeline"]["events"])
    assert "SLA ABORT" in proc.output


@pytest.mark.parametrize("sig, name", [(signal.SIGINT, "sigint"), (signal.SIGTERM, "sigterm")])
def test_signal_mid_run_writes_every_artifact_and_exits_aborted(target: Target, tmp_path: Path, sig, name):
    html, csv = tmp_path / "locust.html", tmp_path / "csv" / "run"
    proc, rep = start_locust(
        tmp_path, target.url, PROFILES / "long.yaml", "--html", str(html), "--csv", str(csv), name=name
    )
    proc.expect(r"stage 2/2 'hold'", timeout=60)
    proc.expect(r"SLA|Shape|erpload", timeout=5)  # the run is live
    proc.signal(sig)
    rc = proc.wait(60)
    assert rc == 5, proc.tail()
    s = load_summary(rep)  # all four of ours, atomically written
    assert s["verdict"] == "aborted" and s["exit_code"] == 5
    assert any("interrupted" in n for n in s["notes"]), s["notes"]
    assert s["total"]["count"] > 0
    run_case = [
        tc for tc in ET.parse(rep / "junit.xml").getroot().iter("testcase") if tc.find("failure") is not None
    ]
    assert run_case, "an aborted run must not look green in CI"
    assert not list(rep.glob(".*.tmp")), "temporary files left behind"
    assert (csv.parent / "run_stats.csv").is_file()  # Locust's own outputs keep working beside ours
    assert html.is_file()  # SIGTERM too (Locust alone skips it on SIGTERM)
    assert "Traceback" not in proc.output


def test_sigterm_whose_graceful_stop_outlasts_the_profile_is_still_aborted(tmp_path: Path):
    """Interruption is an event: a 6 s profile, SIGTERM at ~2 s, users that take 10 s to stop -> exit 5.

    Deciding "aborted" by elapsed time vs profile length called this run complete (exit 0): by the
    time the stop ended, the clock was past the profile's end.
    """
    profile = tmp_path / "block.yaml"
    profile.write_text(
        "name: e2e-block\ndescription: Two users whose task blocks past the end.\nroles: {Blocker: 1}\n"
        "stages:\n  - {name: ramp, duration: 2s, users: 2, spawn_rate: 2}\n"
        "  - {name: hold, duration: 4s, users: 2}\n"
    )
    report_dir = tmp_path / "reports"
    proc = Proc(
        [
            PY,
            "-m",
            "locust",
            "-f",
            str(ROOT / "tests" / "e2e" / "block_locustfile.py"),
            "--headless",
            "--only-summary",
            "--load-profile",
            str(profile),
            "--report-dir",
            str(report_dir),
            "--stop-timeout",
            "10",
        ],
        name="block",
        log_dir=tmp_path,
    )
    proc.expect(r"stage 2/2 'hold'", timeout=60)
    proc.signal(signal.SIGTERM)
    rc = proc.wait(90)
    assert rc == 5, proc.tail()
    s = load_summary(report_dir)
    assert s["verdict"] == "aborted" and s["exit_code"] == 5, (s["verdict"], s["notes"])
    assert s["duration_s"] > 6, f"the graceful stop should have outlasted the 6 s profile: {s['duration_s']}"
    assert any("interrupted: SIGTERM" in n for n in s["notes"]), s["notes"]
    assert any("INTERRUPTED: SIGTERM" in e["text"] for e in s["timeline"]["events"])
    assert s["total"]["count"] >= 2
    assert "Traceback" not in proc.output


def test_sigterm_with_the_web_ui_mid_profile_is_aborted(tmp_path: Path):
    """Web UI (--autostart): Locust's own SIGTERM handler quits with users running -> interrupted, exit 5."""
    profile = tmp_path / "block.yaml"
    profile.write_text(
        "name: e2e-block-ui\ndescription: Two blocking users, web UI.\nroles: {Blocker: 1}\n"
        "stages:\n  - {name: ramp, duration: 2s, users: 2, spawn_rate: 2}\n"
        "  - {name: hold, duration: 60s, users: 2}\n"
    )
    report_dir = tmp_path / "reports"
    proc = Proc(
        [
            PY,
            "-m",
            "locust",
            "-f",
            str(ROOT / "tests" / "e2e" / "block_locustfile.py"),
            "--autostart",
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(free_port()),
            "--load-profile",
            str(profile),
            "--report-dir",
            str(report_dir),
        ],
        name="block-ui",
        log_dir=tmp_path,
    )
    proc.expect(r"stage 2/2 'hold'", timeout=60)
    proc.signal(signal.SIGTERM)
    rc = proc.wait(60)
    assert rc == 5, proc.tail()
    s = load_summary(report_dir)
    assert s["verdict"] == "aborted" and s["exit_code"] == 5, (s["verdict"], s["notes"])
    assert any("interrupted: quit while 2 users were running" in n for n in s["notes"]), s["notes"]


def busy_short(tmp: Path) -> Path:
    """short.yaml with 3 users per role: one user per role gave 25-40 /dashboard samples in 16 s on a
    quiet machine, and under the comparison's minimum of 20 on a loaded CI host (inconclusive)."""
    text = (PROFILES / "short.yaml").read_text()
    roles = (
        "roles: {CuttingOperator: 1, SewingOperator: 1, FinishingOperator: 1, QcInspector: 1, PpicPlanner: 1,"
    )
    assert roles in text and "users: 7, spawn_rate: 7" in text
    text = text.replace(": 1,", ": 3,").replace("WarehouseClerk: 1, Admin: 1", "WarehouseClerk: 3, Admin: 3")
    text = text.replace("users: 7, spawn_rate: 7", "users: 21, spawn_rate: 21").replace(
        "users: 7}", "users: 21}"
    )
    path = tmp / "busy-short.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def baseline_run(target: Target, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("baseline")
    rc, proc, rep = run_locust(tmp, target.url, busy_short(tmp))
    assert rc == 0, proc.tail()
    return rep / "summary.json"


def test_baseline_regression_fails_the_verdict_and_compare_prints_it(baseline_run: Path, tmp_path: Path):
    slow = Target(tmp_path, "--latency-ms", "150", "--latency-path", "^/(dashboard|auth/me)$", name="slower")
    try:
        few = ["--baseline-min-samples", "20"]  # the least allowed (default 100): see busy_short
        rc, proc, rep = run_locust(
            tmp_path, slow.url, busy_short(tmp_path), "--baseline", str(baseline_run), *few
        )
    finally:
        slow.stop()
    assert rc == 3, proc.tail()
    s = load_summary(rep)
    assert all(r["passed"] for r in s["sla"]), "the SLA rules hold; only the baseline comparison fails"
    regressed = {r["label"] for r in s["baseline"]["regressions"]}
    assert "GET /dashboard" in regressed, s["baseline"]["regressions"]
    assert "regression" in (rep / "summary.md").read_text().lower()

    cmp_ = Proc(
        [PY, "-m", "erpload.cli", "compare", str(baseline_run), str(rep / "summary.json"), "--markdown"],
        name="compare",
        log_dir=tmp_path,
    )
    assert cmp_.wait(30) == 3
    assert "/dashboard" in cmp_.output and "|" in cmp_.output
    same = Proc([PY, "-m", "erpload.cli", "compare", str(baseline_run), str(baseline_run)], name="same")
    assert same.wait(30) == 0, same.output


def test_baseline_unreadable_at_the_end_makes_the_run_invalid_not_a_pass(
    baseline_run: Path, target: Target, tmp_path: Path
):
    """Checked at init, then gone bad before the verdict: the regression check cannot be evaluated -> 4."""
    base = tmp_path / "baseline.json"
    base.write_text(baseline_run.read_text())
    proc, rep = start_locust(tmp_path, target.url, PROFILES / "short.yaml", "--baseline", str(base))
    proc.expect(r"Ramping to|All users spawned", timeout=60)  # past the init check: the load is running
    base.write_text("{ not json")
    assert proc.wait(120) == 4, proc.tail()
    s = load_summary(rep)
    assert all(r["passed"] for r in s["sla"]), "the SLA rules hold; only the baseline could not be judged"
    assert [i["reason"] for i in s["invalid"]] == ["baseline not evaluated"], s["invalid"]
    assert str(base) in s["invalid"][0]["detail"]


def test_master_and_two_workers_as_processes(target: Target, tmp_path: Path):
    port = free_port()
    master, rep = start_locust(
        tmp_path,
        target.url,
        PROFILES / "short.yaml",
        "--master",
        "--expect-workers",
        "2",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(port),
        name="master",
    )
    workers = start_workers(port, 2, tmp_path, prefix="worker")
    rc = master.wait(120)
    assert rc == 0, master.tail()
    for w in workers:
        assert w.wait(30) == 0, w.tail()
    s = load_summary(rep)
    assert s["workers"] == 2 and s["verdict"] == "pass"
    assert s["total"]["failures"] == 0
    assert sum(s["load"]["final_users"].values()) in (0, 7)
    roles = {r["name"]: r for r in s["roles"]}
    assert len(roles) == 7 and all(r["count"] > 0 for r in roles.values())
    # per-role counts add up to the merged total: role stats were merged from both workers
    assert sum(r["count"] for r in roles.values()) == s["total"]["count"]
    for text in [master.output] + [w.output for w in workers]:
        assert "Traceback" not in text
    assert json.loads((rep / "summary.json").read_text())["load"]["rbac_violations"] == {}


def test_distributed_verdict_counts_every_request_the_target_served(tmp_path: Path):
    """With --stop-timeout, workers finish in-flight tasks after "quit": their last requests must still count."""
    from helpers import request_count as _request_count

    # Slow dashboards keep users mid-request when the run ends, so workers need > 0.5 s to stop.
    fresh = Target(tmp_path, "--latency-ms", "1500", "--latency-path", "^/dashboard$", name="counted")
    port = free_port()
    try:
        before = _request_count(fresh.url)
        master, rep = start_locust(
            tmp_path,
            fresh.url,
            PROFILES / "short.yaml",
            "--master",
            "--expect-workers",
            "2",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--stop-timeout",
            "6",
            name="master",
        )
        workers = start_workers(port, 2, tmp_path, prefix="w")
        assert master.wait(120) == 3, master.tail()  # the slow dashboard breaks its SLA rule
        for w in workers:
            assert w.wait(60) == 0, w.tail()  # told to quit, not left behind by the master
        served = _request_count(fresh.url) - before - 2  # minus the preflight's login and list call (apimap)
    finally:
        fresh.stop()
    s = load_summary(rep)
    assert s["total"]["count"] == served, f"verdict counted {s['total']['count']}, the target served {served}"
