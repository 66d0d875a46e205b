"""Live metrics end to end: a real Prometheus scrapes a real master + worker run; the web UI's /metrics.

Prometheus is Debian's `prometheus` package (`make test` installs it), started here on loopback
with a 1 s scrape and a temporary storage dir. The master runs with `--metrics-linger`, so its last
scrape reads the final state; at that scrape's time every endpoint's request and failure counter
equals summary.json, and every panel of deploy/grafana/erpload-dashboard.json returns data.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from helpers import PROFILES, ROOT, Cluster, Proc, Target, free_port, load_summary, locust, wait_http

pytestmark = pytest.mark.e2e

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "erpload-dashboard.json"
WEB_USER, WEB_PASSWORD = "scraper", "metrics-secret-1"


def start_prometheus(tmp: Path, metrics_port: int) -> tuple[Proc, str]:
    """Prometheus on a free loopback port, scraping 127.0.0.1:`metrics_port`/metrics every second."""
    config = tmp / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: erpload\n    static_configs: [{{targets: ['127.0.0.1:{metrics_port}']}}]\n"
    )
    port = free_port()
    proc = Proc(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        name="prometheus",
        log_dir=tmp,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/-/ready", timeout=60)
    return proc, url


def query(prom: str, expr: str, at: float) -> list[dict]:
    r = requests.get(prom + "/api/v1/query", params={"query": expr, "time": f"{at:.3f}"}, timeout=10)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", (expr, body)
    return body["data"]["result"]


def last_scrape(prom: str) -> float:
    """Time of the newest stored scrape of the master (its series go stale once it exits)."""
    r = requests.get(prom + "/api/v1/query", params={"query": "erpload_run_elapsed_seconds[10m]"}, timeout=10)
    result = r.json()["data"]["result"]
    assert result, f"Prometheus stored no erpload scrape: {r.text[:500]}"
    return max(float(t) for t, _ in result[0]["values"])


def dashboard_exprs() -> list[tuple[str, str]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [(p["title"], t["expr"]) for p in panels for t in p["targets"]]


def test_real_prometheus_counters_equal_summary_and_every_panel_has_data(tmp_path: Path):
    target = Target(tmp_path)
    metrics_port = free_port()
    prom, prom_url = start_prometheus(tmp_path, metrics_port)
    try:
        cluster = Cluster(
            tmp_path,
            target.url,
            PROFILES / "short.yaml",
            1,
            "--metrics-port",
            str(metrics_port),
            "--metrics-linger",
            "15",
            "--target-pid",
            str(target.pid),
        )
        try:
            cluster.master.expect(r"stage 2/2 'steady'", timeout=90)
            live = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)  # mid-run
            rc = cluster.master.wait(120)
            for w in cluster.workers:
                w.wait(30)
        finally:
            for p in (cluster.master, *cluster.workers):
                p.stop()
    finally:
        target.stop()
    assert rc == 0, cluster.master.tail()
    assert "the final metrics were scraped" in cluster.master.output, cluster.master.tail()
    assert "Traceback" not in cluster.master.output

    # the exposition parses with prometheus_client's own parser, mid-run
    assert live.status_code == 200 and live.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(live.text)}
    assert families["erpload_requests"].type == "counter"
    assert families["erpload_request_duration_seconds"].type == "histogram"
    assert {
        "erpload_users",
        "erpload_stage_number",
        "erpload_sla_rule_state",
        "erpload_verdict_exit_code",
    } <= set(families)
    assert [s.value for s in families["erpload_verdict_exit_code"].samples] == [-1.0]  # not decided mid-run
    assert sum(s.value for s in families["erpload_users"].samples) == 7

    summary = load_summary(cluster.report_dir)
    at = last_scrape(prom_url)
    try:
        # the last scrape read the final state: the verdict is in it
        verdict = query(prom_url, "erpload_verdict_exit_code", at)
        assert [float(v["value"][1]) for v in verdict] == [float(rc)]
        got = {}
        for series in query(prom_url, "erpload_requests_total", at):
            m = series["metric"]
            got.setdefault((m["method"], m["name"]), {})["requests"] = int(float(series["value"][1]))
        for series in query(prom_url, "erpload_request_failures_total", at):
            m = series["metric"]
            got[(m["method"], m["name"])]["failures"] = int(float(series["value"][1]))
        want = {
            (r["method"], r["name"]): {"requests": r["count"], "failures": r["failures"]}
            for r in summary["requests"]
        }
        assert got == want  # exact, per endpoint
        total = sum(v["requests"] for v in got.values())
        assert total == summary["total"]["count"] > 50
        fails = sum(v["failures"] for v in got.values())
        print(f"\nexact equality: {len(got)} endpoints, {total} requests, {fails} failures")
        roles = {
            s["metric"]["role"]: int(float(s["value"][1]))
            for s in query(prom_url, "erpload_role_requests_total", at)
        }
        assert roles == {r["name"]: r["count"] for r in summary["roles"]}
        hist = query(prom_url, "sum(erpload_request_duration_seconds_count)", at)
        assert int(float(hist[0]["value"][1])) == total

        empty = [(title, expr) for title, expr in dashboard_exprs() if not query(prom_url, expr, at)]
        assert not empty, f"dashboard panels without data: {empty}"
    finally:
        prom.stop()


def test_web_ui_serves_metrics_behind_its_login(tmp_path: Path):
    port = free_port()
    env = {"ERPLOAD_WEB_USER": WEB_USER, "ERPLOAD_WEB_PASSWORD": WEB_PASSWORD}
    ui = locust(
        "--web-host", "127.0.0.1", "--web-port", str(port), "--web-login", "-H", "http://127.0.0.1:9",
        name="webui", tmp=tmp_path, env=env,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        denied = wait_http(url, timeout=60, status=401)
        assert "Basic" in denied.headers.get("WWW-Authenticate", "")
        assert requests.get(url, auth=(WEB_USER, "wrong"), timeout=5).status_code == 401
        r = requests.get(url, auth=(WEB_USER, WEB_PASSWORD), timeout=5)
        assert r.status_code == 200, r.text[:300]
        families = {f.name: f for f in text_string_to_metric_families(r.text)}
        assert [s.value for s in families["erpload_verdict_exit_code"].samples] == [-1.0]
        roles = {s.labels["role"] for s in families["erpload_users"].samples}
        assert {"CuttingOperator", "Admin"} <= roles  # every user class, 0 users before a run
        assert WEB_PASSWORD not in ui.output
    finally:
        ui.stop()


def test_otel_listener_sees_rbac_probes_under_one_name():
    """Locust's --otel listener (stood in by a function of its module) gets probes folded; idempotent."""
    from locust.env import Environment

    from erpload.locust.otel import PROBE_NAME, fold_probe_names

    env = Environment()
    seen: list[str] = []

    def on_request(name: str, **_: object) -> None:
        seen.append(name)

    on_request.__module__ = "locust.opentelemetry"
    env.events.request.add_listener(on_request)
    assert fold_probe_names(env) and not fold_probe_names(env)  # wrapped once
    for name in ("/admin/users [rbac-probe]", "/qc/tests [rbac-probe]", "/dashboard"):
        env.events.request.fire(
            request_type="GET", name=name, response_time=1.0, response_length=0, exception=None, context={}
        )
    assert seen == [PROBE_NAME, PROBE_NAME, "/dashboard"]
