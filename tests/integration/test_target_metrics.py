"""GET /metrics: Prometheus text whose per-endpoint counters match exactly the requests a client made."""

from __future__ import annotations

import statistics
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from helpers import Api


def scrape(target) -> dict[str, dict[tuple, float]]:
    """{metric sample name: {sorted label items: value}} from one scrape."""
    r = requests.get(target.url + "/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    out: dict[str, dict[tuple, float]] = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def requests_by_endpoint(m: dict) -> dict[tuple[str, str, str], float]:
    return {
        (dict(k)["method"], dict(k)["path"], dict(k)["status"]): v
        for k, v in m.get("erp_http_requests_total", {}).items()
    }


@pytest.fixture(scope="module")
def api(target) -> Api:
    return Api(target, "warehouse03")


def test_counts_match_requests_made(target, api):
    before = requests_by_endpoint(scrape(target))
    for _ in range(7):
        api.ok("GET", "/auth/me")
    for sku in ("FAB-000001", "TRM-000002", "ACC-000003"):
        api.ok("GET", f"/warehouse/stock/{sku}")
    for sku in ("NOPE-1", "NOPE-2"):
        assert api.get(f"/warehouse/stock/{sku}").status_code == 404
    assert api.get("/no/such/path/123").status_code == 404
    assert api.get("/reports/production").status_code == 405
    api.ok("POST", "/warehouse/stock/FAB-000009/adjust", json={"delta": 2, "reason": "metrics test"})
    after = scrape(target)
    counts = requests_by_endpoint(after)
    diff = {k: v - before.get(k, 0) for k, v in counts.items() if v != before.get(k, 0)}
    assert diff == {
        ("GET", "/auth/me", "200"): 7,
        ("GET", "/warehouse/stock/{sku}", "200"): 3,
        ("GET", "/warehouse/stock/{sku}", "404"): 2,
        ("GET", "<unmatched>", "404"): 1,
        ("GET", "<unmatched>", "405"): 1,
        ("POST", "/warehouse/stock/{sku}/adjust", "200"): 1,
    }, "raw paths must never become labels; /metrics itself is not counted"
    hist = after["erp_http_request_duration_seconds_count"]
    assert hist[(("method", "GET"), ("path", "/warehouse/stock/{sku}"))] >= 5
    buckets = {dict(k)["le"] for k in after["erp_http_request_duration_seconds_bucket"]}
    assert {"0.001", "10.0", "+Inf"} <= buckets


def test_scraping_alone_changes_no_request_counter(target):
    first = requests_by_endpoint(scrape(target))
    for _ in range(3):
        scrape(target)
    assert requests_by_endpoint(scrape(target)) == first


def test_process_db_and_fault_gauges(target):
    m = scrape(target)
    assert m["process_cpu_seconds_total"][()] > 0
    assert m["process_resident_memory_bytes"][()] > 20 * 2**20
    rows = {dict(k)["table"]: v for k, v in m["erp_db_rows"].items()}
    assert rows["manufacturing_orders"] >= 10_000 and rows["stock_items"] >= 50_000 and rows["users"] == 390
    faults = {dict(k)["key"]: v for k, v in m["erp_fault_setting"].items()}
    assert faults["error_rate"] == 0 and faults["racy_stock"] == 0


def test_small_responses_have_no_nagle_stall(target, api):
    """TCP_NODELAY: on a keep-alive connection small responses take ~1 ms, not ~40 ms."""
    api.ok("GET", "/auth/me")
    times = []
    for _ in range(30):
        t0 = time.perf_counter()
        api.ok("GET", "/auth/me")
        times.append(time.perf_counter() - t0)
    assert statistics.median(times) < 0.02, f"median {statistics.median(times) * 1000:.1f} ms"


def test_health(target):
    r = requests.get(target.url + "/health", timeout=5)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "ok" and body["db"] == "ok" and body["uptime_s"] > 0
