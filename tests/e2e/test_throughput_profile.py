"""The throughput profile, scaled down: per-operation rates validate, run, and report planned vs achieved.

The shipped profiles/throughput.yaml (50 MO creations/s, 100 work-order updates/s, WebSocket and DB
targets) runs for minutes; here the same shape at a tenth of the rates for 20 s against a real
reference ERP, with its DB transaction counter read through --target-metrics. Work-order updates are a
request group (claims + bundle records): its rps is the sum of its members' requests in the window.
"""

from __future__ import annotations

import pytest
import yaml

from erpload.profile import load_profile

from helpers import ROOT, Target, load_summary, run_locust, sla_by_rule

pytestmark = pytest.mark.e2e

SHIPPED = ROOT / "lib" / "erpload" / "profiles" / "throughput.yaml"
RATES = {"PpicPlanner.plan_order": 5, "CuttingOperator.record_bundle": 10}
GROUP_RULE = 'rps of group "work-order updates" >= 8'
CUT, CLAIM = "POST /production/cutting", "POST /production/work-orders/[id]/claim"


def scaled(tmp, db_rule: str = "target_rate(erp_db_transactions_total) >= 10/s", steady: int = 15):
    """throughput.yaml at a tenth: same roles, rates and rules, 5 s warm-up + `steady` s steady."""
    doc = yaml.safe_load(SHIPPED.read_text())
    doc["name"] = "throughput-small"
    doc["roles"] = {"PpicPlanner": 3, "CuttingOperator": 4, "Supervisor": 2}
    rates = {k: f"{v}/s" for k, v in RATES.items()}
    doc["stages"] = [
        {"name": "warm-up", "duration": "5s", "users": 9, "spawn_rate": 9, "rates": rates},
        {"name": "steady", "duration": f"{steady}s", "users": 9, "rates": rates},
    ]
    doc["sla"] = [
        {"rule": 'rps of "POST /ppic/manufacturing-orders" >= 4.5', "window": "stage:steady"},
        {"rule": GROUP_RULE, "window": "stage:steady"},
        {"rule": 'p99 of group "work-order updates" < 5s', "window": "stage:steady"},
        {"rule": db_rule, "window": "stage:steady"},
        "ws_messages_per_s >= 1",
    ]
    path = tmp / "throughput-small.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_shipped_throughput_profile_carries_the_roadmap_targets():
    profile = load_profile(SHIPPED)
    steady = next(s for s in profile.stages if s.name == "steady")
    # offered above the targets, so a passing rule proves the target (not a window-edge rounding)
    assert steady.rates == {"PpicPlanner.plan_order": 52.0, "CuttingOperator.record_bundle": 110.0}
    rules = {(r.metric, r.scope_value, r.window): r for r in profile.sla}
    assert rules[("rps", "POST /ppic/manufacturing-orders", "stage:steady")].threshold == 50
    updates = rules[("rps", "work-order updates", "stage:steady")]
    assert (updates.scope, updates.op, updates.threshold) == ("group", ">=", 100)
    assert updates.members == (CUT, CLAIM) == profile.groups["work-order updates"]
    rules = {key: r.threshold for key, r in rules.items()}
    assert rules[("ws_messages_per_s", "", "all")] == 1000
    assert rules[("target_rate(erp_db_transactions_total)", "", "stage:steady")] == 5000


def test_scaled_throughput_runs_and_reports_planned_vs_achieved(tmp_path):
    target = Target(tmp_path)
    try:
        rc, proc, reports = run_locust(
            tmp_path, target.url, scaled(tmp_path), "--target-metrics", target.url + "/metrics", timeout=60
        )
    finally:
        target.stop()
    assert rc == 0, proc.output[-3000:]
    summary = load_summary(reports)
    rows = {(r["stage"], r["operation"]): r for r in summary["load"]["rates"]["rows"]}
    for key, rate in RATES.items():
        steady = rows[("steady", key)]
        assert steady["target_per_s"] == rate
        assert steady["planned_per_s"] == pytest.approx(rate, rel=0.1)
        assert steady["achieved_per_s"] == pytest.approx(rate, rel=0.1), steady
        assert rows[("warm-up", key)]["ramp_from_per_s"] == 0
    assert summary["load"]["rates"]["limit"]["side"] in ("neither", "target", "generator", "both", "machine")
    sla = sla_by_rule(summary)
    # the group's rps is the steady window's cutting + claim requests over its duration, both made
    steady_stage = next(s for s in summary["stages"] if s["name"] == "steady")
    counts = {f"{r['method']} {r['name']}": r["count"] for r in steady_stage["requests"]}
    assert counts[CUT] > 0 and counts[CLAIM] > 0, counts
    group = sla[GROUP_RULE]
    assert group["passed"], group
    assert group["observed"] == pytest.approx(
        (counts[CUT] + counts[CLAIM]) / steady_stage["duration_s"], rel=1e-3
    )
    assert group["observed"] > counts[CUT] / steady_stage["duration_s"]
    assert sla['p99 of group "work-order updates" < 5s']["passed"]
    db = sla["target_rate(erp_db_transactions_total) >= 10/s"]
    assert db["passed"] and db["observed"] > 10  # the ERP's own counter, read through --target-metrics
    md = (reports / "summary.md").read_text()
    assert "## Throughput: planned vs achieved per operation" in md
    assert "| steady | PpicPlanner.plan_order | 5/s |" in md
    assert 'id="throughput-table"' in (reports / "report.html").read_text()
    assert "Traceback" not in proc.output


def test_unreachable_db_target_fails_the_rule_and_a_bad_task_is_exit_2(tmp_path):
    """A DB rate the target cannot reach fails (exit 3); a ROLE.TASK that names no task is exit 2."""
    target = Target(tmp_path)
    try:
        profile = scaled(tmp_path, db_rule="target_rate(erp_db_transactions_total) >= 1000000/s", steady=6)
        rc, proc, reports = run_locust(
            tmp_path, target.url, profile, "--target-metrics", target.url + "/metrics", timeout=60
        )
        assert rc == 3, proc.output[-3000:]
        summary = load_summary(reports)
        assert not sla_by_rule(summary)["target_rate(erp_db_transactions_total) >= 1000000/s"]["passed"]
        assert "Limit:" in (reports / "summary.md").read_text()
        bad = tmp_path / "bad.yaml"
        bad.write_text(profile.read_text().replace("PpicPlanner.plan_order", "PpicPlanner.plan_ordr"))
        rc, proc, _ = run_locust(tmp_path, target.url, bad, name="bad", timeout=60)
        assert rc == 2
        assert "PpicPlanner has no task 'plan_ordr'" in proc.output
        assert "Did you mean 'plan_order'?" in proc.output
    finally:
        target.stop()
