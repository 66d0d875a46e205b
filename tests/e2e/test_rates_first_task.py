"""A role paced per operation (a profile's `rates:`) runs only its paced operation, from its first task on.

Locust picks a user's first task at random right after on_start, before any wait_time (where the
token is taken): without `erpload.users.pacing.start_paced` each planner would list, search, open
orders or run a report once before its first paced order. Six planners, one paced operation: every
request after the planners' on_start (login, `me`, the finished-goods stock list) is a planned order,
and there are exactly as many as tokens started.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import Target, load_summary, run_locust

pytestmark = pytest.mark.e2e

PACED = "POST /ppic/manufacturing-orders"  # PpicPlanner.plan_order
ON_START = {"POST /auth/login", "GET /auth/me", "GET /warehouse/stock"}  # PpicPlanner.on_start


def test_a_rates_paced_planner_runs_only_its_paced_operation(target: Target, tmp_path: Path) -> None:
    profile = tmp_path / "paced-planners.yaml"
    profile.write_text(
        "name: paced-planners\n"
        "description: Six planners, only plan_order, at 4/s.\n"
        "roles: {PpicPlanner: 6}\n"
        "allow: {dropped_iterations: 10%}\n"  # a drop on a busy machine: not what this tests
        "stages:\n"
        "  - {name: warm-up, duration: 2s, users: 6, spawn_rate: 6, rates: {PpicPlanner.plan_order: 4/s}}\n"
        "  - {name: steady, duration: 6s, users: 6, rates: {PpicPlanner.plan_order: 4/s}}\n"
        "sla:\n"
        f'  - rps of "{PACED}" > 0\n'
    )
    rc, proc, reports = run_locust(tmp_path, target.url, profile, timeout=90)
    assert rc == 0, proc.tail()
    s = load_summary(reports)
    counts = {f"{e['method']} {e['name']}": e["count"] for e in s["requests"]}
    assert set(counts) - ON_START == {PACED}, counts  # no list, search, open, report, dashboard, probe
    started = s["load"]["rates"]["started"]  # tokens whose task began
    assert started - 6 <= counts[PACED] <= started, (counts, s["load"]["rates"])  # 6: in flight at the stop
    rows = {r["stage"]: r for r in s["load"]["rates"]["rows"]}
    assert rows["steady"]["achieved_per_s"] == pytest.approx(4, rel=0.15), rows
    assert "Traceback" not in proc.output
