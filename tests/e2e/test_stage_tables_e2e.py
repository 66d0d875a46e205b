"""Per-stage tables from a real run, locally and with a master + 2 workers, against the reference ERP.

The same 2-stage profile (a 4 s ramp, then a hold) runs in both modes. In each, the stages add up
exactly to the whole run (per endpoint, per role and in total: counts, failures, histograms), the
whole run is what the target served, percentiles are consistent, the ramp is marked, and the
tables reach summary.md and report.html. Then `erpload compare --by-stage` compares the two runs.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from helpers import PY, ROLES, Cluster, Target, load_summary, request_count, run_locust

pytestmark = pytest.mark.e2e

HOLD_S = 10
# the master's API-map preflight (login + one list call, erpload.locust.apimap): not in the stats
PREFLIGHT = 2
STOP = ("--stop-timeout", "6")  # users finish their request at the end: the target served what was counted


def profile(tmp: Path) -> Path:
    path = tmp / "stages.yaml"
    path.write_text(
        f"name: e2e-stages\ndescription: per-stage tables.\nroles: {ROLES}\nstages:\n"
        "  - {name: ramp-up, duration: 4s, users: 7}\n"
        f"  - {{name: hold, duration: {HOLD_S}s, users: 7}}\nsla:\n  - error_rate < 50%\n"
        '  - {rule: "p95 < 30s", window: "stage:hold"}\n  - {rule: "p99 < 30s", window: steady}\n'
    )
    return path


def add_rows(rows: list[dict]) -> tuple[int, int, Counter]:
    hist: Counter = Counter()
    for r in rows:
        hist.update({k: int(v) for k, v in r["histogram"].items()})
    return sum(r["count"] for r in rows), sum(r["failures"] for r in rows), hist


def check_stages_add_up(s: dict) -> None:
    stages = s["stages"]
    assert [st["name"] for st in stages] == ["ramp-up", "hold"], stages
    assert [st["ramp"] for st in stages] == [True, False]
    assert all(st["total"]["count"] > 0 for st in stages), [st["total"]["count"] for st in stages]
    # every endpoint and role: the stages' counts, failures and histograms add up to the whole run
    for key in ("requests", "roles"):
        whole = {(r["method"], r["name"]): r for r in s[key]}
        parts: dict[tuple, list] = {}
        for st in stages:
            for r in st[key]:
                parts.setdefault((r["method"], r["name"]), []).append(r)
        assert set(parts) == set(whole), (key, set(parts) ^ set(whole))
        for k, rows in parts.items():
            count, failures, hist = add_rows(rows)
            w = whole[k]
            assert (count, failures) == (w["count"], w["failures"]), (key, k)
            assert hist == Counter({b: int(n) for b, n in w["histogram"].items()}), (key, k)
    count, failures, hist = add_rows([st["total"] for st in stages])
    assert (count, failures) == (s["total"]["count"], s["total"]["failures"])
    assert hist == Counter({b: int(n) for b, n in s["total"]["histogram"].items()})
    # percentiles: each stage's lie within the whole run's range, p50 <= p95 <= p99
    lo, hi = s["total"]["min"], s["total"]["max"]
    for st in stages:
        t = st["total"]
        assert lo <= t["p50"] <= t["p95"] <= t["p99"] <= hi, t
        assert abs(t["rps"] - t["count"] / st["duration_s"]) < 0.01
    assert abs(sum(st["duration_s"] for st in stages) - s["duration_s"]) < 1.0
    # the SLA windows are the same numbers as the tables (the hold is the only steady stage)
    by_window = {row["window"]: row for row in s["sla"]}
    assert by_window["stage:hold"]["observed"] == stages[1]["total"]["p95"], by_window
    assert by_window["steady"]["observed"] == stages[1]["total"]["p99"], by_window


def check_reports(report_dir: Path) -> None:
    md = (report_dir / "summary.md").read_text()
    assert "## Stages" in md and "| all requests | ramp-up ↗ ramp" in md, md[-3000:]
    assert re.search(r"\| all requests \| hold \(", md), md[-3000:]
    html = (report_dir / "report.html").read_text()
    assert 'id="stages-requests-table"' in html and 'id="stages-roles-table"' in html
    assert '<tr class="ramp"><td>all requests</td><td>ramp-up ↗ ramp' in html


def test_stage_tables_local_and_distributed_add_up_and_compare_by_stage(target: Target, tmp_path: Path):
    prof = profile(tmp_path)
    before = request_count(target.url)
    rc, proc, local_dir = run_locust(tmp_path, target.url, prof, *STOP, name="local", timeout=90)
    assert rc == 0, proc.tail()
    served_local = request_count(target.url) - before
    local = load_summary(local_dir)
    check_stages_add_up(local)
    check_reports(local_dir)
    assert local["total"]["count"] == served_local - PREFLIGHT > 100

    before = request_count(target.url)
    c = Cluster(tmp_path, target.url, prof, 2, *STOP)
    rc = c.master.wait(120)
    assert rc == 0, c.master.tail()
    for w in c.workers:
        assert w.wait(30) == 0, w.tail()
    served = request_count(target.url) - before
    dist = load_summary(c.report_dir)
    assert dist["workers"] == 2
    check_stages_add_up(dist)
    check_reports(c.report_dir)
    assert dist["total"]["count"] == served - PREFLIGHT > 100
    # both modes cut the run at the same place: the hold's share of requests is alike
    share = [r["stages"][1]["total"]["count"] / r["total"]["count"] for r in (local, dist)]
    assert abs(share[0] - share[1]) < 0.25, share

    same = compare_by_stage(local_dir, local_dir)  # a run against itself: every stage, no regression
    assert same.returncode == 0, same.stdout + same.stderr
    assert "by stage: no regression in 2 stage(s) compared" in same.stdout, same.stdout
    out = compare_by_stage(local_dir, c.report_dir)
    assert out.returncode in (0, 3), out.stdout + out.stderr
    assert "== stage ramp-up ↗ ramp" in out.stdout and "== stage hold" in out.stdout, out.stdout


def compare_by_stage(base: Path, current: Path) -> subprocess.CompletedProcess:
    args = ["compare", "--by-stage", "--min-samples", "20", str(base / "summary.json")]
    return subprocess.run(
        [PY, "-m", "erpload.cli", *args, str(current / "summary.json")],
        capture_output=True,
        text=True,
        timeout=60,
    )
