"""profiles/realtime.yaml's order rules, scaled down, against the reference ERP (target and Locust as real processes).

Supervisors count out-of-order, duplicated and lost WebSocket messages per stream (erpload.core.wsorder).
Scaled to ~20 s (same roles, fewer users; the order rules and error_rate of the shipped profile, its
host-dependent latency thresholds left out), a run passes against a correct target with the counts in
summary.json and the reports, fails `ws_out_of_order == 0` (exit 3) against `--ws-reorder-rate`, and
fails `ws_lost == 0` (exit 3) against `--ws-drop-rate`, also with two workers (counts merged on the master).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from helpers import PY, ROOT, Cluster, Proc, Target, copy_db, load_summary, run_locust, sla_by_rule

pytestmark = pytest.mark.e2e
SHIPPED = ROOT / "profiles" / "realtime.yaml"
ORDER = "ws_out_of_order == 0"
LOST = "ws_lost == 0"
KEPT = {ORDER, LOST, "error_rate < 1%"}


def scaled(tmp: Path) -> Path:
    """The shipped profile at e2e scale: every role, 4 supervisors, the order rules kept."""
    data = yaml.safe_load(SHIPPED.read_text())
    rules = set(data["sla"])
    assert KEPT <= rules, rules
    data["name"] = "realtime-e2e"
    data["roles"] = {role: (4 if role == "Supervisor" else 1) for role in data["roles"]}
    users = sum(data["roles"].values())
    data["stages"] = [
        {"name": "connect", "duration": "3s", "users": users, "spawn_rate": users},
        {"name": "steady", "duration": "17s", "users": users},
    ]
    data["sla"] = [r for r in data["sla"] if r in KEPT] + ["ws_duplicated == 0", "ws_messages_per_s > 1"]
    path = tmp / "realtime-e2e.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run(tmp: Path, seeded_erp_db: Path, *flags: str) -> tuple[int, Proc, dict, Path]:
    profile = scaled(tmp)
    check = Proc(
        [PY, "-m", "erpload.cli", "validate", str(SHIPPED), str(profile)], name="validate", log_dir=tmp
    )
    assert check.wait(60) == 0 and check.output.count("OK ") == 2, check.tail()
    target = Target(tmp, "--fault-seed", "7", *flags, db=copy_db(seeded_erp_db, tmp))
    try:
        rc, proc, rep = run_locust(tmp, target.url, profile, timeout=150)
    finally:
        target.stop()
    return rc, proc, load_summary(rep), rep


def test_realtime_order_rules_pass_against_a_correct_target(tmp_path: Path, seeded_erp_db: Path):
    rc, proc, s, rep = run(tmp_path, seeded_erp_db)
    assert rc == 0, proc.tail()
    rules = sla_by_rule(s)
    assert all(r["passed"] for r in rules.values()), rules
    assert rules[ORDER]["observed"] == 0 and rules[LOST]["observed"] == 0, rules
    ws = s["correctness"]["websocket"]
    assert ws["streams"] >= 4 and ws["messages_received"] >= 20, ws
    assert ws["out_of_order"] == ws["lost"] == ws["duplicated"] == ws["unsequenced"] == 0, ws
    # fan-out: ~4 supervisors connected, each receiving every event
    assert 2.0 <= ws["connected_supervisors"] <= 4.5 and ws["events_per_s"] > 0, ws
    # one number: the rule reads the end-of-run figure the report shows (38.71 vs 38.72 once, when
    # the rule computed its own over run seconds a few ms shorter)
    assert rules["ws_messages_per_s > 1"]["observed"] == pytest.approx(ws["messages_per_s"]), rules
    assert " connected supervisors = " in ws["fan_out"], ws
    events = next(r for r in s["requests"] if r["name"] == "WS work-order-event")
    assert events["count"] >= ws["messages_received"], (events, ws)  # one latency sample per message
    md, html = (rep / "summary.md").read_text(), (rep / "report.html").read_text()
    assert "### WebSocket" in md and "| out_of_order | 0 |" in md, md
    assert 'id="ws-figures"' in html
    assert "WebSocket order" not in proc.output and "Traceback" not in proc.output


def test_reorder_switch_fails_the_out_of_order_rule(tmp_path: Path, seeded_erp_db: Path):
    rc, proc, s, _ = run(tmp_path, seeded_erp_db, "--ws-reorder-rate", "0.1")
    assert rc == 3, proc.tail()
    rules = sla_by_rule(s)
    order = rules[ORDER]
    assert not order["passed"] and order["observed"] >= 1, order
    ws = s["correctness"]["websocket"]
    assert ws["out_of_order"] == order["observed"] and ws["duplicated"] == 0, ws
    assert f"observed {ws['out_of_order']}" in order["detail"], order
    assert f"erpload: WebSocket order: {ws['out_of_order']} out of order" in proc.output
    assert "Traceback" not in proc.output


def test_drop_switch_fails_the_lost_rule(tmp_path: Path, seeded_erp_db: Path):
    rc, proc, s, _ = run(tmp_path, seeded_erp_db, "--ws-drop-rate", "0.1")
    assert rc == 3, proc.tail()
    rules = sla_by_rule(s)
    lost = rules[LOST]
    assert not lost["passed"] and lost["observed"] >= 1, lost
    assert rules[ORDER]["passed"], rules  # dropping never reorders
    ws = s["correctness"]["websocket"]
    assert ws["lost"] == lost["observed"] and ws["out_of_order"] == 0 and ws["duplicated"] == 0, ws
    assert "lost" in proc.output and "Traceback" not in proc.output


def test_counts_from_two_workers_are_merged_on_the_master(tmp_path: Path, seeded_erp_db: Path):
    profile = scaled(tmp_path)
    target = Target(
        tmp_path, "--fault-seed", "7", "--ws-drop-rate", "0.1", db=copy_db(seeded_erp_db, tmp_path)
    )
    try:
        c = Cluster(tmp_path, target.url, profile, 2)
        rc = c.master.wait(150)
        assert rc == 3, c.master.tail()
        assert all(w.wait(30) == 0 for w in c.workers), [w.tail() for w in c.workers]
    finally:
        target.stop()
    s = load_summary(c.report_dir)
    ws = s["correctness"]["websocket"]
    assert ws["streams"] == 4 and ws["lost"] >= 1 and ws["out_of_order"] == 0, ws  # 2 supervisors per worker
    lost = sla_by_rule(s)[LOST]
    assert not lost["passed"] and lost["observed"] == ws["lost"], lost
    events = next(r for r in s["requests"] if r["name"] == "WS work-order-event")
    assert events["count"] >= ws["messages_received"] > 0, (events, ws)
