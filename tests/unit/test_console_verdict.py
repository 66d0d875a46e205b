"""Honest reports for anyone's locustfile: user exceptions with message, count and traceback (redacted,
bounded) in summary.json / summary.md / report.html; the console verdict block with the think times
and every problem found, ruled on or not; lost units beside the SKUs in a lost_updates rule."""

from __future__ import annotations

import json

from erpload.core import redact as core_redact
from erpload.core.snapshot import RequestStats, Snapshot
from erpload.core.stockcheck import stock_report, stock_verdict
from erpload.report.console import header, problem_lines, verdict_block
from erpload.report.exceptions import MAX_EXCEPTIONS, MAX_MESSAGE, MAX_TRACEBACK
from erpload.report.html import render_html
from erpload.report.markdown import render_markdown
from erpload.report.summary import RunSummary, build_summary
from erpload.sla.evaluation import evaluate
from erpload.sla.grammar import parse_rules

SECRET = "Hunter2-very-secret"
TB = (
    '  File "/lib/locust/user/users.py", line 166, in run\n    self.on_start()\n'
    '  File "/home/qa/locustfile.py", line 12, in on_start\n'
    f'    self.login("qc01", "{SECRET}")\n'
)


def _snapshot() -> Snapshot:
    snap = Snapshot(duration_s=30.0, extra={"lost_updates": 2, "rbac_violations": 0})
    stats = RequestStats("GET", "/dashboard")
    for _ in range(10):
        stats.record(20.0)
    snap.add(stats)
    return snap


def _stock() -> dict:
    rows = [
        stock_verdict("FAB-000101", 100, 125, {"delta": 100, "count": 30}),
        stock_verdict("FAB-000102", 50, 86, {"delta": 100, "count": 40}),
    ]
    return stock_report(rows)


def _build(rules: list, **kw: object) -> RunSummary:
    parsed, problems = parse_rules(rules)
    assert problems == []
    snap = _snapshot()
    return build_summary(snap, evaluate(parsed, snap), exit_code=kw.pop("exit_code", 0), **kw)  # type: ignore[arg-type]


def test_exceptions_carry_message_count_and_one_redacted_traceback() -> None:
    core_redact.add_secret(SECRET)  # the plugin registers the credential pool's passwords the same way
    rows = [
        {"count": 3, "msg": f"login refused for qc01 with {SECRET}", "traceback": TB, "nodes": {"w2", "w1"}},
        {
            "count": 40,
            "msg": "list index out of range",
            "traceback": "x" * (MAX_TRACEBACK * 3),
            "nodes": {"local"},
        },
    ]
    s = _build([], exceptions=rows, exit_code=1)
    assert [(e.count, e.nodes) for e in s.exceptions] == [(40, ["local"]), (3, ["w1", "w2"])]
    text = s.to_json()
    assert SECRET not in text and "[REDACTED]" in text
    data = json.loads(text)["exceptions"]
    assert data[1]["message"] == "login refused for qc01 with [REDACTED]"
    assert "in on_start" in data[1]["traceback"] and len(data[0]["traceback"]) == MAX_TRACEBACK
    assert s.exceptions[1].raised_at == 'File "/home/qa/locustfile.py", line 12, in on_start'
    back = RunSummary.from_dict(json.loads(text))
    assert back.exceptions == s.exceptions
    html = render_html(s)
    assert 'id="exceptions-table"' in html and '<pre class="traceback">' in html and SECRET not in html
    assert "login refused for qc01 with [REDACTED]" in html
    md = render_markdown(s)
    assert "## Exceptions in user code (2 distinct, 43 in all)" in md and SECRET not in md
    assert "| 40 | list index out of range |" in md


def test_exceptions_are_bounded() -> None:
    rows = [
        {"count": i + 1, "msg": f"error {i} " + "m" * (MAX_MESSAGE * 2), "traceback": "", "nodes": set()}
        for i in range(MAX_EXCEPTIONS + 7)
    ]
    s = _build([], exceptions=rows, exit_code=1)
    assert len(s.exceptions) == MAX_EXCEPTIONS and s.exceptions[0].count == MAX_EXCEPTIONS + 7
    assert all(len(e.message) <= MAX_MESSAGE + 1 for e in s.exceptions)
    assert (
        f"showing the {MAX_EXCEPTIONS} most frequent of {MAX_EXCEPTIONS + 7} distinct exceptions"
        in s.notes[-1]
    )
    assert _build([]).exceptions == [] and 'id="exceptions"' not in render_html(_build([]))


def test_lost_updates_rule_says_the_units_beside_the_skus() -> None:
    s = _build(["lost_updates == 0", "p95 < 1s"], correctness={"stock": _stock()}, exit_code=3)
    lost = s.sla[0]
    assert not lost.passed and lost.observed == 2
    assert "139 unit(s) lost on 2 SKU(s): FAB-000101 -75, FAB-000102 -64" in lost.detail
    assert "unit" not in s.sla[1].detail


def test_console_block_states_think_time_and_every_problem_without_rules() -> None:
    """No rule on leaks, stock, RBAC, exceptions or users: each still gets a line; INVALID is an error."""
    correctness = {
        "stock": _stock(),
        "rbac_probes": 30,
        "rbac_violations": {"cutting": 4, "qc": 0},
        "recovery": {
            "recovery_s": None,
            "sustain_s": 5,
            "max_error_rate": 0.01,
            "episodes": [{"from_s": 10, "recovered": False, "recovery_s": None}],
            "faults": [{"fault": "outage 4s at 10s", "ok": False, "error": "HTTP 403"}],
        },
    }
    resources = {
        "leaks": [
            {
                "key": "target",
                "verdict": "leak",
                "slope_mb_per_min": 4.2,
                "kb_per_request": 63.5,
                "reason": "up",
            },
            {"key": "master", "verdict": "no leak"},
        ]
    }
    load = {
        "think_time": {"source": "ERPLOAD_THINK_TIME", "text": "0.5–2 s for every role (ERPLOAD_THINK_TIME)"},
        "died_on_start": {"users": 5, "by_role": {"MyUser": 5}},
    }
    invalid = [{"reason": "load under-delivered", "detail": "5 of 10 planned users died", "at_s": 3.0}]
    exc = [{"count": 5, "msg": "login refused", "traceback": TB, "nodes": {"local"}}]
    s = _build(
        [],
        exit_code=4,
        correctness=correctness,
        resources=resources,
        load=load,
        invalid=invalid,
        exceptions=exc,
    )
    assert header(s) == (
        "== erpload verdict: INVALID (exit 4) · think time 0.5–2 s for every role (ERPLOAD_THINK_TIME) =="
    )
    block = verdict_block(s)
    texts = [t for _, t in block]
    assert texts[0] == header(s) and texts[1] == "SLA no rules configured"
    problems = dict((t.split(" ")[0] + " " + t.split(" ")[1], lvl) for lvl, t in problem_lines(s))
    assert problems["INVALID run:"] == "error"
    joined = "\n".join(texts)
    assert "INVALID run: load under-delivered at 3.0s: 5 of 10 planned users died" in joined
    assert "LEAK target: memory leak detected (+4.20 MB/min, 63.5 KiB/request)" in joined
    assert "LEAK master" not in joined
    assert "INTEGRITY lost updates: 139 unit(s) lost on 2 SKU(s): FAB-000101 -75, FAB-000102 -64" in joined
    assert (
        "INTEGRITY RBAC violations: 30 probe(s) sent; 4 probe(s) answered 2xx instead of 403 (cutting 4)"
        in joined
    )
    assert "FAULT not applied: outage 4s at 10s: HTTP 403" in joined and "INTEGRITY not recovered" in joined
    assert "USERS 5 user(s) died in on_start (MyUser 5)" in joined
    assert "EXCEPTIONS 1 distinct unhandled exception(s) in user code, 5 in all:" in joined
    assert '5x login refused (File "/home/qa/locustfile.py", line 12, in on_start)' in joined
    assert [t for _, t in verdict_block(s, sla=False)][1].startswith("INVALID run:")


def test_console_block_of_a_clean_run_is_header_and_sla_only() -> None:
    s = _build(["p95 < 1s"], load={"think_time": {"text": "per role: 3–8 s (CuttingOperator)"}})
    assert [t for _, t in verdict_block(s)] == [
        "== erpload verdict: PASS (exit 0) · think time per role: 3–8 s (CuttingOperator) ==",
        "SLA PASS  p95 < 1s   observed 20ms (±0.5ms)",
        "SLA all 1 rules passed",
    ]
    assert "think time per role: 3–8 s (CuttingOperator)" in render_markdown(s)
    assert "<dt>think time</dt><dd>per role: 3–8 s (CuttingOperator)</dd>" in render_html(s)
    assert header(_build([])).endswith("think time not recorded ==")


def test_a_fail_just_under_its_threshold_never_reads_as_the_threshold() -> None:
    """49.98/s against `rps >= 50/s` FAILS: every place that shows the verdict says 49.98/s, not 50/s."""
    from erpload.report.comment import render_comment
    from erpload.report.junit import render_junit
    from erpload.report.rows import sla_rows
    from erpload.report.throughput_report import failed_throughput_rules

    snap = Snapshot(duration_s=100.0)
    stats = RequestStats("GET", "/dashboard")
    for _ in range(4998):
        stats.record(20.0)
    snap.add(stats)
    rules, problems = parse_rules(["rps >= 50/s", "p95 < 1s"])
    assert problems == []
    results = evaluate(rules, snap)
    assert [r.passed for r in results] == [False, True]
    s = build_summary(snap, results, exit_code=3)
    console = [t for _, t in verdict_block(s)]
    assert console[1].startswith("SLA FAIL  rps >= 50/s") and console[1].endswith(
        "observed 49.98/s, threshold >= 50/s"
    ), console
    for text in (
        render_markdown(s),
        render_html(s),
        render_junit(s),
        render_comment(s),
        json.dumps(sla_rows(results)),
        " ".join(failed_throughput_rules(s.sla)),
    ):
        assert "49.98/s" in text and "observed 50/s" not in text and "| 50/s" not in text
    assert '<td class="num">49.98/s</td>' in render_html(s) and "| 49.98/s |" in render_markdown(s)
