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
from procs import PY, Target
from test_verdicts import load_summary, run_locust, sla_by_rule

pytestmark = pytest.mark.e2e
PROFILES = Path(__file__).parent / "profiles"


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed once; each target gets its own copy (seeding takes several seconds)."""
    db = tmp_path_factory.mktemp("seed") / "seed.db"
    subprocess.run([PY, "-m", "erp_target", "--seed-only", "--db", str(db)], check=True, timeout=180,
                   capture_output=True)
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
