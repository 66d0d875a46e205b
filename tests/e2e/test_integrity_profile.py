"""profiles/integrity.yaml, scaled down, against the reference ERP (target and Locust as real processes).

The shipped profile combines a stock take on hot SKUs, RBAC probes and a scheduled outage with a
recovery rule. Scaled to ~25 s (same roles, hot SKUs, fault action and rules; fewer users, shorter
stages, the outage earlier and shorter), it passes against a correct target with every integrity part
in summary.json, and fails on lost updates (exit 3) against the target's `--racy-stock` switch.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers import PY, ROOT, Proc, Target, copy_db, load_summary, run_locust, sla_by_rule

pytestmark = pytest.mark.e2e
SHIPPED = ROOT / "profiles" / "integrity.yaml"
RULES = {"lost_updates == 0", "duplicated_updates == 0", "rbac_violations == 0", "recovery_s < 30s"}


def scaled(tmp: Path) -> Path:
    """The shipped profile at e2e scale; everything that makes it an integrity test is kept."""
    data = yaml.safe_load(SHIPPED.read_text())
    assert data["hot_skus"] and data["faults"] and data["roles"]["StockTaker"] > 0
    data["name"] = "integrity-e2e"
    data["roles"] = {role: (6 if role == "StockTaker" else 1) for role in data["roles"]}
    users = sum(data["roles"].values())
    data["stages"] = [
        {"name": "ramp-up", "duration": "3s", "users": users, "spawn_rate": users},
        {"name": "steady", "duration": "22s", "users": users},
    ]
    data["faults"] = [{**f, "at": "10s", "duration": "3s"} for f in data["faults"]]
    path = tmp / "integrity-e2e.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def validate(tmp: Path, *paths: Path) -> None:
    proc = Proc([PY, "-m", "erpload.cli", "validate", *map(str, paths)], name="validate", log_dir=tmp)
    assert proc.wait(60) == 0, proc.tail()
    assert proc.output.count("OK ") == len(paths), proc.output


def run(tmp: Path, seeded_erp_db: Path, *flags: str) -> tuple[int, Proc, dict, Path]:
    profile = scaled(tmp)
    validate(tmp, SHIPPED, profile)
    target = Target(tmp, *flags, db=copy_db(seeded_erp_db, tmp))
    try:
        rc, proc, rep = run_locust(tmp, target.url, profile, timeout=150)
    finally:
        target.stop()
    return rc, proc, load_summary(rep), rep


def test_integrity_profile_passes_with_every_integrity_section(tmp_path: Path, seeded_erp_db: Path):
    rc, proc, s, rep = run(tmp_path, seeded_erp_db)
    assert rc == 0, proc.tail()
    rules = sla_by_rule(s)
    assert set(rules) == RULES and all(r["passed"] for r in rules.values()), rules
    c = s["correctness"]
    stock = c["stock"]
    assert stock["checked"] and stock["skus"] == 3 and stock["confirmed_adjustments"] >= 30, stock
    assert stock["lost_updates"] == 0 and stock["lost_units"] == 0 and stock["duplicated_units"] == 0
    assert c["rbac_probes"] >= 3 and sum(c["rbac_violations"].values()) == 0, c
    faults = c["recovery"]["faults"]
    assert len(faults) == 1 and faults[0]["ok"] and faults[0]["action"] == "outage", faults
    assert c["recovery"]["recovery_s"] is not None and c["recovery"]["recovery_s"] < 30, c["recovery"]
    md, html = (rep / "summary.md").read_text(), (rep / "report.html").read_text()
    for part in ("### Stock updates", "### RBAC violations", "### Recovery"):
        assert part in md, part
    for hook in ('id="stock-table"', 'id="faults-table"', 'id="recovery-table"'):
        assert hook in html, hook
    assert s["load"]["think_time"]["text"] == "0.1–0.5 s for every role (ERPLOAD_THINK_TIME)"
    assert (
        "== erpload verdict: PASS (exit 0) · profile integrity-e2e · "
        "think time 0.1–0.5 s for every role (ERPLOAD_THINK_TIME) ==" in proc.output
    )
    assert "INTEGRITY" not in proc.output and "Traceback" not in proc.output


def test_lost_update_switch_fails_the_integrity_profile(tmp_path: Path, seeded_erp_db: Path):
    rc, proc, s, _ = run(tmp_path, seeded_erp_db, "--racy-stock")
    assert rc == 3, proc.tail()
    rules = sla_by_rule(s)
    lost = rules["lost_updates == 0"]
    assert not lost["passed"] and lost["observed"] >= 1, lost
    assert all(r["passed"] for name, r in rules.items() if name != "lost_updates == 0"), rules
    stock = s["correctness"]["stock"]
    assert stock["lost_updates"] >= 1 and stock["lost_units"] >= stock["lost_updates"], stock
    assert set(stock["lost_skus"]) <= {"FAB-000101", "FAB-000102", "FAB-000103"} and stock["lost_skus"]
    note = f"{stock['lost_units']} unit(s) lost on {stock['lost_updates']} SKU(s): {stock['lost_skus'][0]} -"
    assert note in lost["detail"], lost
    assert f"INTEGRITY lost updates: {note}" in proc.output
    assert "Traceback" not in proc.output
