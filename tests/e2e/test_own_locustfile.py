"""A user's own locustfile gets profiles, the exact role mix, SLA verdicts and reports with one import."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import PY, Proc, Target, load_summary

pytestmark = pytest.mark.e2e
OWN = Path(__file__).parent / "own"


def test_own_locustfile_with_one_import(target: Target, tmp_path: Path):
    rep = tmp_path / "reports"
    proc = Proc(
        [
            PY,
            "-m",
            "locust",
            "-f",
            str(OWN / "locustfile.py"),
            "--headless",
            "--only-summary",
            "--load-profile",
            str(OWN / "profile.yaml"),
            "-H",
            target.url,
            "--report-dir",
            str(rep),
        ],
        name="own",
        log_dir=tmp_path,
    )
    assert proc.wait(90) == 0, proc.tail()
    s = load_summary(rep)
    assert s["verdict"] == "pass" and s["profile"]["name"] == "own-locustfile"
    assert {r["name"] for r in s["roles"]} == {"HealthWatcher", "MetricsScraper"}
    assert "stage 2/2 'hold'" in proc.output and "'HealthWatcher': 3" in proc.output
    assert all(r["passed"] for r in s["sla"]) and len(s["sla"]) == 2
