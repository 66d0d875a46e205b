"""SLA verdicts both ways against the real reference ERP, with target and Locust as real processes."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import (
    PROFILES,
    Proc,
    Target,
    load_summary,
    request_count,
    run_locust,
    sla_by_rule,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def healthy_run(target: Target, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Proc, Path]:
    """One healthy run shared by the verdict test and the report-in-a-browser test."""
    return run_locust(tmp_path_factory.mktemp("healthy"), target.url, PROFILES / "short.yaml")


def test_healthy_target_passes_every_rule(healthy_run: tuple[int, Proc, Path]):
    rc, proc, rep = healthy_run
    assert rc == 0, proc.tail()
    s = load_summary(rep)
    assert s["verdict"] == "pass" and s["exit_code"] == 0
    assert s["sla"] and all(r["passed"] for r in s["sla"]), s["sla"]
    names = {(r["method"], r["name"]) for r in s["requests"]}
    assert ("POST", "/auth/login") in names and ("GET", "/dashboard") in names
    assert {r["name"] for r in s["roles"]} >= {"CuttingOperator", "QcInspector", "Admin"}
    assert "SLA all 3 rules passed" in proc.output
    assert "Traceback" not in proc.output
    junit = ET.parse(rep / "junit.xml").getroot()
    assert len(junit.findall(".//testcase")) == 3 and not junit.findall(".//failure")


@pytest.mark.browser
def test_report_html_renders_charts_and_sla_table(healthy_run: tuple[int, Proc, Path], tmp_path: Path):
    from helpers import chromium_page

    _rc, _proc, rep = healthy_run
    with chromium_page() as page:
        page.goto((rep / "report.html").as_uri())
        assert "PASS" in page.locator("#verdict").inner_text()
        rows = page.locator("#sla-table tbody tr")
        assert rows.count() == 3
        assert 'p95 of "GET /dashboard"' in page.locator("#sla-table").inner_text()
        for chart in ("chart-users", "chart-rps", "chart-latency", "chart-errors"):
            box = page.locator(f"#{chart}").bounding_box()
            assert box and box["width"] > 200 and box["height"] > 100, f"{chart} not rendered: {box}"
            assert page.locator(f"#{chart} path, #{chart} polyline").count() >= 1, f"{chart} has no series"
        requests_seen = [page.locator("#requests-table").inner_text()]
        assert "/auth/login" in requests_seen[0]
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_injected_latency_breaches_latency_rules(tmp_path: Path):
    slow = Target(tmp_path, "--latency-ms", "800", "--latency-path", "^/(dashboard|auth/login)$", name="slow")
    try:
        rc, proc, rep = run_locust(tmp_path, slow.url, PROFILES / "short.yaml")
    finally:
        slow.stop()
    assert rc == 3, proc.tail()
    s = load_summary(rep)
    assert s["verdict"] == "fail"
    rules = sla_by_rule(s)
    dash = rules['p95 of "GET /dashboard" < 500ms']
    assert not dash["passed"] and dash["observed"] >= 800, dash
    assert rules["error_rate < 1%"]["passed"]
    assert "SLA FAIL" in proc.output and "-> exit 3" in proc.output
    failures = ET.parse(rep / "junit.xml").getroot().findall(".//failure")
    assert len(failures) == 2
    for f in failures:  # junit carries observed vs threshold for each failed rule
        assert "observed" in (f.get("message") or "") and "500ms" in (f.get("message") or ""), f.attrib


def test_injected_errors_breach_error_rate(tmp_path: Path):
    bad = Target(tmp_path, "--error-rate", "0.2", name="errors")
    try:
        rc, proc, rep = run_locust(tmp_path, bad.url, PROFILES / "short.yaml")
    finally:
        bad.stop()
    assert rc == 3, proc.tail()
    rule = sla_by_rule(load_summary(rep))["error_rate < 1%"]
    assert not rule["passed"] and 0.05 < rule["observed"] < 0.5, rule
    assert "Traceback" not in proc.output


def test_typo_in_request_name_fails_as_no_data(target: Target, tmp_path: Path):
    rc, proc, rep = run_locust(tmp_path, target.url, PROFILES / "typo.yaml")
    assert rc == 3, proc.tail()
    rule = sla_by_rule(load_summary(rep))['p95 of "GET /dashbord" < 1s']
    assert not rule["passed"] and rule["observed"] is None
    assert "no samples" in rule["detail"] and "GET /dashboard" in rule["detail"], rule["detail"]


def test_invalid_profile_exits_2_and_sends_nothing(tmp_path: Path):
    fresh = Target(tmp_path, name="untouched")
    try:
        before = request_count(fresh.url)
        rc, proc, rep = run_locust(tmp_path, fresh.url, PROFILES / "broken.yaml", timeout=60)
        after = request_count(fresh.url)
    finally:
        fresh.stop()
    assert rc == 2, proc.tail()
    out = proc.output
    for needle in (
        "broken.yaml",
        "roles.CuttingOperatr",
        "Did you mean 'CuttingOperator'",
        "stages[0].duration",
        "'10x'",
        "stages[1].users",
        "-5",
        "sla[0]",
        "unknown metric 'p95x'",
        "Did you mean 'p95'",
    ):
        assert needle in out, f"{needle!r} missing from:\n{out}"
    assert "Traceback" not in out
    assert after == before, f"requests reached the target: {before} -> {after}"
    assert not (rep / "summary.json").exists()


def test_users_that_barely_progress_make_the_run_invalid(tmp_path: Path):
    """A target slower than the run (30 s per request, timeout raised to 60 s): no request completes -> exit 4."""
    from helpers import locust

    crawl = Target(tmp_path, "--latency-ms", "30000", name="crawl")
    rep = tmp_path / "crawl-reports"
    try:
        proc = locust(
            "--headless",
            "--only-summary",
            "--load-profile",
            str(PROFILES / "short.yaml"),
            "-H",
            crawl.url,
            "--report-dir",
            str(rep),
            name="crawl-run",
            tmp=tmp_path,
            env={"ERPLOAD_REQUEST_TIMEOUT": "60"},
        )
        rc = proc.wait(120)
    finally:
        crawl.stop()
    assert rc == 4, proc.tail()
    s = load_summary(rep)
    assert s["verdict"] == "invalid" and s["exit_code"] == 4
    entry = next(i for i in s["invalid"] if i["reason"] == "load under-delivered")
    assert "user-minutes" in entry["detail"] and "barely progressed" in entry["detail"], entry
    progress = s["load"]["progress"]
    assert progress["user_minutes"] >= 1 and progress["completed_requests"] < progress["min_requests"], (
        progress
    )
    assert "Traceback" not in proc.output


def test_credentials_without_the_profiles_roles_exit_2_before_any_login(tmp_path: Path):
    """ERPLOAD_CREDENTIALS with accounts for admin and ppic only; short.yaml runs all seven roles."""
    from helpers import locust

    creds = tmp_path / "creds.yaml"
    creds.write_text(
        "admin: [{username: admin01, password: erpload-demo}]\nppic: [{username: ppic01, password: erpload-demo}]\n"
    )
    fresh = Target(tmp_path, name="no-login")
    rep = tmp_path / "creds-reports"
    try:
        before = request_count(fresh.url)
        proc = locust(
            "--headless",
            "--only-summary",
            "--load-profile",
            str(PROFILES / "short.yaml"),
            "-H",
            fresh.url,
            "--report-dir",
            str(rep),
            name="creds-run",
            tmp=tmp_path,
            env={"ERPLOAD_CREDENTIALS": str(creds)},
        )
        rc = proc.wait(60)
        after = request_count(fresh.url)
    finally:
        fresh.stop()
    assert rc == 2, proc.tail()
    out = proc.output
    assert "creds.yaml" in out, out
    for key, role in (
        ("cutting", "CuttingOperator"),
        ("sewing", "SewingOperator"),
        ("finishing", "FinishingOperator"),
        ("qc", "QcInspector"),
        ("warehouse", "WarehouseClerk"),
    ):
        assert f"no accounts for role key '{key}', needed by {role}" in out, out
    for key in ("admin", "ppic"):  # keys the file has are not reported missing
        assert f"role key '{key}'" not in out, out
    assert after == before, f"requests reached the target (a login?): {before} -> {after}"
    assert "Traceback" not in out
    assert not (rep / "summary.json").exists()
