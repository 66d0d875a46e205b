"""Run summary and reports: JSON round trip, JUnit, Markdown size cap, self-contained HTML, atomic writes."""

from __future__ import annotations

import json
import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from erpload.core.errors import ExitCode
from erpload.core.snapshot import RequestStats, Snapshot
from erpload.report import ReportWriteError, write_reports
from erpload.report.charts import nice_ticks
from erpload.report.html import render_html
from erpload.report.junit import render_junit
from erpload.report.markdown import MAX_BYTES, append_step_summary, render_markdown
from erpload.report.summary import (
    MAX_ERRORS,
    SCHEMA_VERSION,
    EndpointSummary,
    ProfileInfo,
    RunSummary,
    build_summary,
    redact,
    verdict_for,
    write_atomic,
)
from erpload.sla.evaluation import evaluate
from erpload.sla.grammar import parse_rules

EVIL = '<script>alert("x")</script> & | pipe'
TIMELINE = {
    "t": [5, 10, 15, 20, 25, 30],
    "dt": [5] * 6,
    "users": [2, 5, 10, 10, 10, 0],
    "rps": [3.0, 20.0, 50.0, 51.0, 49.0, 2.0],
    "fail_rate": [0.0, 0.0, 0.01, 0.0, 0.0, 0.0],
    "p50": [100, 110, None, 120, 130, 100],
    "p95": [200, 220, 250, 260, None, 200],
    "p99": [300, 320, 350, 360, 370, 300],
    "stages": [
        {"index": 0, "name": "ramp " + EVIL, "start_s": 0, "end_s": 12},
        {"index": 1, "name": "hold", "start_s": 12, "end_s": 30},
    ],
    "events": [{"t": 12, "text": "hold"}],
}


def _snapshot() -> Snapshot:
    snap = Snapshot(duration_s=20.0, extra={"target_cpu_max": 0.5})
    for method, name, times, fails in [
        ("GET", "/ppic/manufacturing-orders", [float(v) for v in range(1, 101)], 0),
        ("POST", "/auth/login", [1049.0] * 40, 2),
        ("GET", f"/evil/{EVIL}", [5.0, 6.0], 0),
    ]:
        stats = RequestStats(method, name)
        for i, t in enumerate(times):
            stats.record(t, failed=i < fails)
        snap.add(stats)
    role = RequestStats("ROLE", "CuttingOperator", users=4)
    role.record(12.0)
    snap.roles["CuttingOperator"] = role
    return snap


def _summary(exit_code: int = ExitCode.SLA_BREACHED, **kw: object) -> RunSummary:
    snap = _snapshot()
    rules, problems = parse_rules(
        [
            'p95 of "GET /ppic/manufacturing-orders" < 300ms',
            "error_rate < 0.1%",
            {"metric": "count", "op": ">", "threshold": 0, "request": f"GET /evil/{EVIL}"},
            {"rule": "p99 < 2s", "name": "name " + EVIL},
            "target_cpu_max < 80%",
        ]
    )
    assert problems == []
    errors = [
        {"method": "POST", "name": "/auth/login", "error": "401 for Bearer abc.def.ghi", "occurrences": 2},
        {"method": "GET", "name": "/x", "error": "boom " + EVIL, "occurrences": 7},
    ]
    args: dict = dict(
        exit_code=exit_code,
        profile=ProfileInfo("smoke " + EVIL, "profiles/smoke.yaml", "desc " + EVIL),
        started_at=1_700_000_000.0,
        ended_at=1_700_000_020.0,
        host="http://127.0.0.1:8080",
        workers=2,
        errors=errors,
        timeline=TIMELINE,
        resources={"target": {"cpu_max": 0.5, "rss_mb": [1.0, math.nan]}},
        notes=["note " + EVIL],
    )
    args.update(kw)
    return build_summary(snap, evaluate(rules, snap), **args)


# -- summary --------------------------------------------------------------------------------------


def test_build_summary_fields() -> None:
    s = _summary()
    assert (s.schema_version, s.verdict, s.exit_code, s.workers, s.duration_s) == (1, "fail", 3, 2, 20.0)
    assert (s.started_at, s.ended_at) == ("2023-11-14T22:13:20Z", "2023-11-14T22:13:40Z")
    by = {r.label: r for r in s.requests}
    orders = by["GET /ppic/manufacturing-orders"]
    assert (orders.count, orders.rps, orders.p50, orders.p95, orders.p99, orders.max) == (
        100,
        5.0,
        51,
        96,
        100,
        100,
    )
    assert orders.bounds["p95"] == 0.5 and sum(orders.histogram.values()) == 100
    login = by["POST /auth/login"]
    assert (login.p95, login.p99_9, login.failures, login.error_rate) == (1049, 1049, 2, 0.05)
    assert s.total.count == 142 and s.total.name == "Aggregated"
    assert [(r.name, r.users, r.count) for r in s.roles] == [("CuttingOperator", 4, 1)]
    assert [e.occurrences for e in s.errors] == [7, 2]  # most frequent first
    assert [x.passed for x in s.sla] == [True, False, True, True, True]
    assert s.sla[1].observed == pytest.approx(2 / 142) and s.sla[1].kind == "rate"
    assert s.sla[3].name == "name " + EVIL and s.sla[0].bound == 0.5
    assert s.timeline.stages[1].name == "hold" and s.timeline.p50[2] is None


def test_secrets_are_redacted() -> None:
    s = _summary()
    text = s.to_json()
    assert "abc.def.ghi" not in text and "Bearer [redacted]" in text
    assert redact("Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig") == "Authorization: Bearer [redacted]"
    assert redact("token eyJhbGciOi.eyJzdWIi.sig here") == "token [redacted-jwt] here"
    assert redact('{"password": "hunter2", "user": "qc01"}') == '{"password": "[redacted]", "user": "qc01"}'
    assert redact("url /x?access_token=abc&page=2") == "url /x?access_token=[redacted]&page=2"


def test_errors_are_capped() -> None:
    errors = [
        {"method": "GET", "name": f"/e{i}", "error": "x", "occurrences": i + 1} for i in range(MAX_ERRORS + 5)
    ]
    s = _summary(errors=errors)
    assert len(s.errors) == MAX_ERRORS and s.errors[0].occurrences == MAX_ERRORS + 5
    assert any(f"of {MAX_ERRORS + 5} distinct errors" in n for n in s.notes)


@pytest.mark.parametrize(
    ("code", "word"),
    [
        (0, "pass"),
        (1, "fail"),
        (2, "error"),
        (3, "fail"),
        (4, "invalid"),
        (5, "aborted"),
        (6, "error"),
        (99, "error"),
    ],
)
def test_verdict_for(code: int, word: str) -> None:
    assert verdict_for(code) == word


def test_json_round_trip_and_schema() -> None:
    s = _summary()
    data = json.loads(s.to_json())
    assert list(data)[0] == "schema_version" and data["schema_version"] == SCHEMA_VERSION
    for key in (
        "verdict",
        "exit_code",
        "profile",
        "started_at",
        "ended_at",
        "duration_s",
        "host",
        "workers",
        "requests",
        "roles",
        "total",
        "errors",
        "sla",
        "timeline",
        "baseline",
        "notes",
        "resources",
    ):
        assert key in data, key
    for key in (
        "method",
        "name",
        "count",
        "failures",
        "rps",
        "avg",
        "min",
        "max",
        "p50",
        "p75",
        "p90",
        "p95",
        "p99",
        "p99_9",
        "bounds",
        "histogram",
    ):
        assert key in data["requests"][0], key
    assert set(data["sla"][0]) >= {
        "rule",
        "metric",
        "scope",
        "op",
        "threshold",
        "observed",
        "passed",
        "detail",
        "bound",
    }
    assert set(data["timeline"]) >= {"t", "users", "rps", "fail_rate", "p50", "p95", "p99", "stages"}
    assert data["resources"]["target"]["rss_mb"] == [1.0, None]  # NaN is not JSON
    back = RunSummary.from_dict(data)
    s.resources["target"]["rss_mb"][1] = None
    assert back == s
    assert back.requests[0].histogram == s.requests[0].histogram


def test_from_dict_rejects_unknown_versions_and_tolerates_new_keys() -> None:
    data = _summary().to_dict()
    with pytest.raises(ValueError, match="newer"):
        RunSummary.from_dict({**data, "schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(ValueError, match="not an erpload summary"):
        RunSummary.from_dict({"stats": []})
    data["future_key"] = 1
    data["requests"][0]["future_stat"] = 2
    assert RunSummary.from_dict(data).requests[0].count == data["requests"][0]["count"]


# -- junit ----------------------------------------------------------------------------------------


def test_junit_one_testcase_per_rule_with_failures() -> None:
    s = _summary()
    root = ET.fromstring(render_junit(s).encode())
    suite = root.find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 5 and suite.get("tests") == "5" and suite.get("failures") == "1"
    assert {c.get("classname") for c in cases} == {"smoke " + EVIL}
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["error_rate < 0.1%"]
    failure = failed[0].find("failure")
    assert failure is not None
    assert failure.get("message") == "error_rate < 0.1%: observed 1.41%, threshold < 0.1%"
    assert cases[3].get("name") == "name " + EVIL  # escaped on write, intact after parsing
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert (props["verdict"], props["exit_code"], props["requests"]) == ("fail", "3", "142")


def test_junit_invalid_run_adds_a_failing_run_case_and_survives_control_characters() -> None:
    s = _summary(exit_code=ExitCode.RUN_INVALID, notes=["worker lost\x00\x1b[31m"])
    suite = ET.fromstring(render_junit(s).encode()).find("testsuite")
    assert suite is not None
    run = [c for c in suite.findall("testcase") if c.get("name") == "run"]
    assert len(run) == 1 and suite.get("failures") == "2"
    failure = run[0].find("failure")
    assert failure is not None and failure.get("type") == "invalid" and "worker lost" in (failure.text or "")


# -- markdown -------------------------------------------------------------------------------------


def test_markdown_content_and_escaping() -> None:
    md = render_markdown(_summary())
    assert md.startswith("# erpload: smoke &lt;script&gt;")
    assert "❌ FAIL (exit 3)" in md and "1 of 5 SLA rules failed" in md
    assert "| ❌ FAIL | error_rate &lt; 0.1% | 1.41% | &lt; 0.1% |" in md
    assert "<script>" not in md and "\\| pipe" in md
    assert (
        "| GET /ppic/manufacturing-orders | 100 | 0 | 0% | 5 | 50.5ms | 51ms (±0.5ms) | 96ms (±0.5ms) |" in md
    )
    assert "## Errors (top 2 of 2)" in md and "## Roles" in md


def test_markdown_stays_under_1_mib_with_5000_endpoints() -> None:
    s = _summary()
    long = "x" * 200
    s.requests = [EndpointSummary("GET", f"/endpoint/{i}/{long}", count=i, p95=1.0) for i in range(5000)]
    md = render_markdown(s)
    assert len(md.encode()) < 1024 * 1024
    assert "top 50 of 5000 by count" in md and "/endpoint/4999/" in md and "/endpoint/0/" not in md
    everything = render_markdown(s, top_n=5000)  # would be ~1.3 MB: truncated with a note
    assert len(everything.encode()) <= MAX_BYTES
    assert everything.rstrip().endswith("see summary.json for everything._")
    tiny = render_markdown(s, max_bytes=2000)
    assert len(tiny.encode()) <= 2000 and "truncated" in tiny


def test_append_step_summary(tmp_path: Path) -> None:
    target = tmp_path / "step.md"
    target.write_text("before\n")
    assert append_step_summary("# one", {"GITHUB_STEP_SUMMARY": str(target)}) == target
    append_step_summary("# two\n", {"GITHUB_STEP_SUMMARY": str(target)})
    assert target.read_text() == "before\n# one\n# two\n"
    assert append_step_summary("# three", {}) is None


# -- html -----------------------------------------------------------------------------------------


def _svg(page: str, chart_id: str) -> ET.Element:
    m = re.search(rf'<svg id="{chart_id}".*?</svg>', page, re.S)
    assert m, chart_id
    return ET.fromstring(m.group(0))


def test_html_is_self_contained_and_escaped() -> None:
    page = render_html(_summary())
    for element_id in (
        "verdict",
        "sla-table",
        "chart-users",
        "chart-rps",
        "chart-latency",
        "chart-errors",
        "requests-table",
        "roles-table",
        "errors-table",
        "resources",
    ):
        assert f'id="{element_id}"' in page, element_id
    assert "<script" not in page and "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r"\s(src|href)=", page)
    assert EVIL not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; | pipe" in page
    assert 'class="verdict verdict-fail"' in page
    assert page.count('<tr class="fail">') == 1 and page.count('<tr class="pass">') == 4


def test_html_charts_have_series_stage_lines_and_gaps() -> None:
    page = render_html(_summary())
    ns = "{http://www.w3.org/2000/svg}"
    latency = _svg(page, "chart-latency")
    lines = latency.findall(f"{ns}polyline")
    classes = [pl.get("class") for pl in lines]
    assert classes.count("series series-p50") == 2  # the None at t=15 splits p50 in two
    assert classes.count("series series-p95") == 2 and classes.count("series series-p99") == 1
    stage_lines = [el for el in latency.iter(f"{ns}line") if el.get("class") == "stage-line"]
    labels = [el.text for el in latency.iter(f"{ns}text") if el.get("class") == "stage-label"]
    assert len(stage_lines) == 2 and labels == ["ramp " + EVIL, "hold"]
    users = _svg(page, "chart-users")
    points = users.find(f"{ns}polyline").get("points").split()  # type: ignore[union-attr]
    assert len(points) == 6
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[3] < ys[1] < ys[0] and ys[5] == max(ys)  # 10 users drawn above 5 above 2; 0 at the bottom


def test_html_without_timeline_still_has_the_chart_ids() -> None:
    s = _summary(timeline=None)
    page = render_html(s)
    for chart in ("chart-users", "chart-rps", "chart-latency", "chart-errors"):
        assert _svg(page, chart).get("id") == chart
    assert page.count("no data") == 4


def test_nice_ticks() -> None:
    assert nice_ticks(96) == [0, 20, 40, 60, 80, 100]
    assert nice_ticks(0.013) == pytest.approx([0, 0.005, 0.01, 0.015])
    assert nice_ticks(0) == [0.0, 1.0]


# -- writing --------------------------------------------------------------------------------------


def test_write_reports_writes_all_four_atomically(tmp_path: Path) -> None:
    out = tmp_path / "reports" / "run-1"
    paths = write_reports(_summary(), out)
    assert {k: p.name for k, p in paths.items()} == {
        "json": "summary.json",
        "junit": "junit.xml",
        "markdown": "summary.md",
        "html": "report.html",
        "comment": "comment.md",
    }
    assert sorted(os.listdir(out)) == [
        "comment.md",
        "junit.xml",
        "report.html",
        "summary.json",
        "summary.md",
    ]  # no temp files
    assert RunSummary.from_dict(json.loads(paths["json"].read_text())).verdict == "fail"
    again = write_reports(json.loads(paths["json"].read_text()), out)  # re-render from the dict
    assert again["html"].read_text() == paths["html"].read_text()


def test_write_atomic_keeps_the_old_file_when_the_write_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "summary.json"
    write_atomic(target, "old")
    assert target.read_text() == "old" and (target.stat().st_mode & 0o777) == 0o644
    write_atomic(target, b"new bytes")
    assert target.read_bytes() == b"new bytes"

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, "half")
    assert target.read_bytes() == b"new bytes"
    assert os.listdir(tmp_path) == ["summary.json"]


def test_one_failing_renderer_does_not_cost_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import erpload.report as report

    def boom(summary: RunSummary) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setitem(report.RENDERERS, "junit", ("junit.xml", boom))
    with pytest.raises(ReportWriteError, match="renderer bug") as info:
        write_reports(_summary(), tmp_path)
    assert info.value.exit_code == ExitCode.INTERNAL_ERROR
    assert "junit.xml: rendering failed (a bug): RuntimeError: renderer bug" in info.value.render()
    assert sorted(os.listdir(tmp_path)) == ["comment.md", "report.html", "summary.json", "summary.md"]
    # the process exits 6: the reports that were written say so, and why
    written = json.loads((tmp_path / "summary.json").read_text())
    assert (written["verdict"], written["exit_code"]) == ("error", 6)
    assert any("junit.xml could not be rendered" in n for n in written["notes"]), written["notes"]
    assert "ERROR" in (tmp_path / "summary.md").read_text().upper()
