"""Correctness under load, both directions, against the real reference ERP (target and Locust as processes).

- lost updates: `--racy-stock` loses concurrent stock adjustments -> `lost_updates == 0` fails (exit 3);
  the correct target passes with the same profile.
- RBAC violations: `--rbac-hole` lets any role call a path -> probes answered 200 are counted per role.
- recovery time: a scheduled in-profile outage, and a real restart of the target by the harness.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from helpers import PY, Target, load_summary, run_locust, sla_by_rule

pytestmark = pytest.mark.e2e
PROFILES = Path(__file__).parent / "profiles"


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed once; each target gets its own copy (seeding takes several seconds)."""
    db = tmp_path_factory.mktemp("seed") / "seed.db"
    subprocess.run(
        [PY, "-m", "erp_target", "--seed-only", "--db", str(db)], check=True, timeout=180, capture_output=True
    )
    return db


def fresh_target(tmp: Path, seeded: Path, *flags: str, name: str, port: int = 0) -> Target:
    db = tmp / f"{name}.db"
    if not db.exists():
        shutil.copy(seeded, db)
    extra = [*flags, "--port", str(port)] if port else list(flags)
    return Target(tmp, *extra, name=name, db=db)


def correctness(summary: dict) -> dict:
    return summary["correctness"]


def test_correct_stock_passes_lost_update_check(tmp_path: Path, seeded_db: Path):
    t = fresh_target(tmp_path, seeded_db, name="correct")
    try:
        rc, proc, rep = run_locust(tmp_path, t.url, PROFILES / "stock-race.yaml", timeout=150)
    finally:
        t.stop()
    assert rc == 0, proc.tail()
    s = load_summary(rep)
    stock = correctness(s)["stock"]
    assert stock["checked"] and stock["lost_updates"] == 0 and stock["duplicated_updates"] == 0, stock
    assert stock["confirmed_adjustments"] >= 50, stock  # enough concurrent writes to have collided
    for row in stock["per_sku"]:
        assert row["status"] == "ok" and row["final"] == row["expected"] + row["difference"], row
    rules = sla_by_rule(s)
    assert rules["lost_updates == 0"]["passed"] and rules["duplicated_updates == 0"]["passed"]
    assert "Traceback" not in proc.output


def test_racy_stock_fails_lost_update_check(tmp_path: Path, seeded_db: Path):
    t = fresh_target(tmp_path, seeded_db, "--racy-stock", name="racy")
    try:
        rc, proc, rep = run_locust(tmp_path, t.url, PROFILES / "stock-race.yaml", timeout=150)
    finally:
        t.stop()
    assert rc == 3, proc.tail()
    s = load_summary(rep)
    stock = correctness(s)["stock"]
    assert stock["checked"] and stock["lost_updates"] >= 1 and stock["missing_units"] > 0, stock
    lost = [r for r in stock["per_sku"] if r["status"] == "lost"]
    assert lost and all(r["final"] < r["expected"] for r in lost), stock["per_sku"]
    rule = sla_by_rule(s)["lost_updates == 0"]
    assert not rule["passed"] and rule["observed"] >= 1, rule
    assert "lost update(s) on FAB-0001" in proc.output
    assert "Traceback" not in proc.output


HOLE = r"^/(admin/(users|rbac|audit-log)|ppic/manufacturing-orders|qc/tests|warehouse/receipts)$"


@pytest.mark.parametrize("hole", [False, True], ids=["correct-rbac", "rbac-hole"])
def test_rbac_violations_counted_per_role(tmp_path: Path, seeded_db: Path, hole: bool):
    t = fresh_target(tmp_path, seeded_db, *(["--rbac-hole", HOLE] if hole else []), name="rbac")
    try:
        rc, proc, rep = run_locust(tmp_path, t.url, PROFILES / "rbac.yaml", timeout=120)
    finally:
        t.stop()
    s = load_summary(rep)
    per_role = correctness(s)["rbac_violations"]
    rule = sla_by_rule(s)["rbac_violations == 0"]
    if not hole:
        assert rc == 0, proc.tail()
        assert rule["passed"] and rule["observed"] == 0 and sum(per_role.values()) == 0, (rule, per_role)
    else:
        assert rc == 3, proc.tail()
        assert not rule["passed"] and rule["observed"] == sum(per_role.values()) >= 1, (rule, per_role)
        assert set(per_role) <= {"cutting", "qc", "ppic", "warehouse"}, per_role  # admins' probes are POSTs
        assert "RBAC violation: role" in json.dumps(s["errors"])
    assert "Traceback" not in proc.output


def test_scheduled_outage_reports_recovery_time(tmp_path: Path, seeded_db: Path):
    t = fresh_target(tmp_path, seeded_db, name="outage")
    try:
        rc, proc, rep = run_locust(tmp_path, t.url, PROFILES / "outage.yaml", timeout=120)
    finally:
        t.stop()
    s = load_summary(rep)
    rec = correctness(s)["recovery"]
    assert rc == 0, (proc.tail(), rec)
    (fault,) = rec["faults"]
    assert fault["ok"] and fault["action"] == "outage" and 9 <= fault["at_s"] <= 14, fault
    (ep,) = rec["episodes"]
    assert ep["recovered"] and ep["failures"] > 0, ep
    assert 1 <= rec["recovery_s"] < 20, rec  # the outage lasts 4 s
    assert ep["first_failure_s"] >= fault["at_s"] - 1, ep
    rule = sla_by_rule(s)["recovery_s < 20"]
    assert rule["passed"] and rule["observed"] == rec["recovery_s"], rule
    assert any("fault outage" in e["text"] for e in s["timeline"]["events"]), s["timeline"]["events"]
    assert "Traceback" not in proc.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_target_restart_reports_recovery_time(tmp_path: Path, seeded_db: Path):
    from helpers import FAST_THINK, ROOT, Proc, wait_http

    port = _free_port()
    first = fresh_target(tmp_path, seeded_db, name="restart", port=port)
    report_dir = tmp_path / "reports"
    locust = Proc(
        [
            PY,
            "-m",
            "locust",
            "-f",
            str(ROOT / "locustfiles"),
            "--headless",
            "--only-summary",
            "--load-profile",
            str(PROFILES / "restart.yaml"),
            "-H",
            first.url,
            "--report-dir",
            str(report_dir),
            "--loglevel",
            "INFO",
        ],
        env=FAST_THINK,
        name="locust",
        log_dir=tmp_path,
    )
    second = None
    try:
        locust.expect(r"initial stock|Ramping|All users spawned|spawn", timeout=60)
        wait_requests(first.url, 40, timeout=60)  # the run is well under way
        first.proc.signal(signal.SIGKILL)  # a crash, then a restart on the same port and database
        first.proc.wait(30)
        second = fresh_target(tmp_path, seeded_db, name="restart", port=port)
        wait_http(second.url + "/health", timeout=30)
        rc = locust.wait(120)
    finally:
        locust.stop()
        if second is not None:
            second.stop()
        first.stop()
    s = load_summary(report_dir)
    rec = correctness(s)["recovery"]
    assert rc == 0, (locust.tail(), rec)
    (ep,) = rec["episodes"]
    assert ep["failures"] > 0 and ep["recovered"], ep
    assert 0 <= rec["recovery_s"] < 30, rec
    assert sla_by_rule(s)["recovery_s < 30"]["passed"]
    assert "Traceback" not in locust.output


def wait_requests(url: str, n: int, timeout: float) -> None:
    """Poll the target's /metrics until it has served `n` API requests (bounded)."""
    import time

    import requests

    deadline = time.monotonic() + timeout
    seen = 0.0
    while time.monotonic() < deadline:
        try:
            text = requests.get(url + "/metrics", timeout=2).text
            seen = sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("erp_http_requests_total{") and "/health" not in line
            )
            if seen >= n:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)  # poll interval of a bounded wait
    raise AssertionError(f"{url}: only {seen} requests within {timeout}s")


def test_supervisors_measure_websocket_latency(tmp_path: Path, seeded_db: Path):
    t = fresh_target(tmp_path, seeded_db, name="ws")
    try:
        rc, proc, rep = run_locust(tmp_path, t.url, PROFILES / "realtime-short.yaml", timeout=120)
    finally:
        t.stop()
    s = load_summary(rep)
    assert rc == 0, proc.tail()
    rows = {r["name"]: r for r in s["requests"] if r["method"] == "WS"}
    assert rows["WS connect"]["count"] >= 10 and rows["WS connect"]["failures"] == 0, rows
    assert rows["WS work-order-event"]["count"] >= 10, rows
    assert rows["WS broadcast"]["count"] >= 1, rows
    print("WS p50/p95 (ms):", {n: (r["p50"], r["p95"]) for n, r in rows.items()})
    assert all(r["passed"] for r in s["sla"]), s["sla"]
    assert "Traceback" not in proc.output
