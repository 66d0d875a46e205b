"""`erpload capacity PROFILE -H URL`: a stages profile becomes a search, run to its answer as a real process.

A target that serves one request at a time (`--capacity-slots 1 --capacity-ms 20`) gives a quick
answer on a tiny grid; a rule that never sees a request in a level's hold makes the search INVALID
(exit 4) instead of reporting a capacity "< start" it never measured.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from helpers import FAST_THINK, PY, Target, copy_db

pytestmark = pytest.mark.e2e

GRID = ("--start", "2", "--step", "2", "--max", "4", "--hold", "5s", "--settle", "2s", "--confirm", "5s")


def _profile(tmp: Path, sla: str) -> Path:
    path = tmp / "cutters.yaml"
    path.write_text(
        "name: cutters\ndescription: cutting operators only.\nroles: {CuttingOperator: 1}\n"
        "stages:\n  - {name: hold, duration: 30s, users: 4, spawn_rate: 4}\n"
        f"sla:\n{sla}"
    )
    return path


def _capacity(tmp: Path, target: Target, profile: Path) -> tuple[int, dict, str]:
    rep = tmp / "rep"
    out = subprocess.run(
        [
            PY,
            "-m",
            "erpload.cli",
            "capacity",
            str(profile),
            "-H",
            target.url,
            *GRID,
            "--report-dir",
            str(rep),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, **FAST_THINK},
        check=False,
    )
    summary = json.loads((rep / "summary.json").read_text())
    return out.returncode, summary, out.stdout + out.stderr


def test_capacity_command_finds_a_level_and_reports_its_evidence(tmp_path: Path, seeded_erp_db: Path) -> None:
    target = Target(
        tmp_path, "--capacity-slots", "1", "--capacity-ms", "20", db=copy_db(seeded_erp_db, tmp_path)
    )
    try:
        # every request counts: at 2 users a p95 needs the 59 samples it takes to be shown under 2 s
        sla = "  - p95 < 2s\n  - error_rate < 5%\n"
        rc, s, log = _capacity(tmp_path, target, _profile(tmp_path, sla))
    finally:
        target.stop()
    cap = s["resources"]["capacity"]
    assert rc == 0, log[-3000:]
    assert cap["status"] in ("found", "at_least_max"), cap
    assert cap["capacity"] in (2.0, 4.0) and cap["evidence"]["passed"], cap
    assert [lvl["phase"] for lvl in cap["levels"]][-1] == "confirm", cap["levels"]
    assert "CAPACITY" in log and (tmp_path / "rep" / "cutters.capacity.yaml").exists()
    assert "capacity" in (tmp_path / "rep" / "summary.md").read_text().lower()


def test_a_rule_without_samples_in_a_hold_makes_the_search_invalid_not_a_capacity(
    tmp_path: Path, seeded_erp_db: Path
) -> None:
    target = Target(
        tmp_path, "--capacity-slots", "1", "--capacity-ms", "20", db=copy_db(seeded_erp_db, tmp_path)
    )
    try:
        sla = '  - p95 of "POST /auth/login" < 2s\n'  # logins happen at ramp-up, never in a hold
        rc, s, log = _capacity(tmp_path, target, _profile(tmp_path, sla))
    finally:
        target.stop()
    cap = s["resources"]["capacity"]
    assert rc == 4, log[-3000:]
    assert cap["status"] == "not_judged" and cap["capacity"] is None, cap
    assert [i["reason"] for i in s["invalid"]] == ["capacity level not judged"], s["invalid"]
    assert "POST /auth/login" in s["invalid"][0]["detail"]
