"""The headline of the API map: the whole smoke profile passes against a differently shaped ERP with a map file only.

The reference ERP in its v1 dialect (base path /api/v1, form login answering {token, ttl}, `Token`
auth, {data, meta} lists, renamed paths and fields) and `erpload run smoke --api-map
examples/api-maps/v1.yaml`: the real smoke profile (60 s, every role, the roles' own think times,
its production SLA rules under the reference stats names), no code change, exit 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from helpers import PY, ROOT, Proc, Target, copy_db, load_summary

pytestmark = [pytest.mark.e2e]  # ~75 s: the real one-minute smoke profile (the headline: kept in every run)

V1_MAP = ROOT / "examples" / "api-maps" / "v1.yaml"
SMOKE_ROLES = {
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


def test_the_whole_smoke_profile_passes_against_the_v1_dialect_with_only_a_map_file(
    tmp_path: Path, seeded_erp_db: Path
):
    v1 = Target(tmp_path, "--dialect", "v1", db=copy_db(seeded_erp_db, tmp_path), name="v1")
    try:
        # the reference paths are not there: without the map, nothing would work
        assert requests.get(v1.url + "/ppic/manufacturing-orders", timeout=5).status_code == 404
        rep = tmp_path / "reports"
        proc = Proc(
            [
                PY,
                "-m",
                "erpload.cli",
                "run",
                "smoke",
                "-H",
                v1.url,
                "--api-map",
                str(V1_MAP),
                "--report-dir",
                str(rep),
            ],
            env={
                "ERPLOAD_THINK_TIME": "",
                "ERPLOAD_API_MAP": "",
                "ERPLOAD_LOAD_PROFILE": "",
            },  # the real smoke
            name="smoke-v1",
            log_dir=tmp_path,
        )
        rc = proc.wait(180)
    finally:
        v1.stop()
    out = proc.output
    assert rc == 0, proc.tail()
    assert f"API map 'v1' ({V1_MAP}) fits {v1.url}" in out  # the preflight: form login + {data} list
    assert "SLA all 4 rules passed" in out and "Traceback" not in out
    s = load_summary(rep)
    assert s["verdict"] == "pass" and s["exit_code"] == 0 and s["profile"]["name"] == "smoke", s["verdict"]
    assert s["duration_s"] >= 59, s["duration_s"]  # the whole profile, not a shortened one
    think = s["load"]["think_time"]  # the roles' own think times, not a fast override
    assert think["source"] == "wait_time" and think["roles"]["Admin"] == "8–20 s", think
    assert {r["name"] for r in s["roles"]} == SMOKE_ROLES
    assert all(r["count"] > 0 for r in s["roles"]), s["roles"]
    assert s["total"]["count"] > 100 and s["total"]["failures"] == 0, (s["total"], json.dumps(s["errors"]))
    names = {(r["method"], r["name"]) for r in s["requests"]}
    for op in (  # stats and SLA rules keep the reference names whatever the ERP calls them
        ("POST", "/auth/login"),
        ("GET", "/ppic/manufacturing-orders"),
        ("GET", "/production/work-orders"),
        ("POST", "/warehouse/stock/[sku]/adjust"),
    ):
        assert op in names, sorted(names)
    assert {r["rule"] for r in s["sla"] if r["passed"]} >= {
        'p95 of "POST /auth/login" < 500ms',
        'p95 of "GET /ppic/manufacturing-orders" < 300ms',
        "error_rate < 1%",
    }, s["sla"]
