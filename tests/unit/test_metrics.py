"""Samplers (erpload.locust.samplers) on real processes, Prometheus parsing, bounded series and health detectors."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil
import pytest

from erpload.core.series import ProcessSeries, SaturationDetector, UnderDeliveryDetector
from erpload.locust.samplers import HostSampler, ProcessSampler, PrometheusSampler, parse_process_metrics
from erpload.profile import Stage, StagePlan

PROM = """# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.048576e+08
# TYPE process_open_fds gauge
process_open_fds 17.0
# TYPE erp_http_requests_total counter
erp_http_requests_total{method="GET",path="/x",status="200"} 4.0
"""


def test_process_sampler_reads_own_process():
    s = ProcessSampler()
    deadline = time.monotonic() + 0.3
    while time.monotonic() < deadline:  # burn some CPU so the next sample is not 0
        sum(i * i for i in range(1000))
    out = s.sample()
    assert out is not None
    assert out["rss_mb"] > 5 and out["threads"] >= 1 and out["fds"] >= 3
    assert 10 < out["cpu_percent"] <= 100 * os.cpu_count() + 10


def test_process_sampler_includes_children_and_notices_exit():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess,sys,time;"
            "c=subprocess.Popen([sys.executable,'-c','import time; x=bytearray(40<<20); time.sleep(30)']);"
            "time.sleep(30)",
        ]
    )
    try:
        s = ProcessSampler(parent.pid, children=True)
        deadline = time.monotonic() + 20
        out = s.sample()
        while (out is None or out["rss_mb"] < 45) and time.monotonic() < deadline:
            time.sleep(0.2)  # poll until the child allocated its 40 MB
            out = s.sample()
        assert out is not None and out["rss_mb"] >= 45, out
        alone = ProcessSampler(parent.pid).sample()
        assert alone is not None and alone["rss_mb"] < out["rss_mb"] - 30
    finally:
        for kid in s._kids.values():
            kid.kill()
        parent.kill()
        parent.wait(10)
    assert s.sample() is None  # gone: a gap in the series, not an exception
    with pytest.raises(psutil.NoSuchProcess):
        ProcessSampler(parent.pid)


def test_host_sampler():
    h = HostSampler()
    out = h.sample()
    assert 0 <= out["cpu_percent"] <= 100 and 0 < out["mem_percent"] < 100
    assert out["net_sent_kbps"] >= 0 and out["disk_write_kbps"] >= 0


def test_prometheus_parsing_and_cpu_from_counter_delta():
    values = parse_process_metrics(PROM)
    assert values == {
        "process_cpu_seconds_total": 12.5,
        "process_resident_memory_bytes": 104857600.0,
        "process_open_fds": 17.0,
    }
    p = PrometheusSampler("http://127.0.0.1:1/metrics")
    first = p.from_values(values, now=100.0)
    assert first == {"cpu_percent": 0.0, "rss_mb": 100.0, "fds": 17.0}
    second = p.from_values({**values, "process_cpu_seconds_total": 13.0}, now=102.0)
    assert second is not None and second["cpu_percent"] == pytest.approx(25.0)
    assert p.sample() is None and p.last_error  # unreachable: a gap, not a crash


@pytest.mark.parametrize("gevent_sockets", [True, False], ids=["gevent-timeout", "read1-deadline"])
def test_prometheus_scrape_of_a_trickling_endpoint_ends_at_its_total_deadline(monkeypatch, gevent_sockets):
    """1 byte/s never trips a per-read timeout; the scrape's total deadline (either bound alone) ends it."""
    import gevent
    from gevent import monkey

    from helpers import PY, ROOT, Proc

    if not gevent_sockets:  # only the read1 loop's own deadline check is left to end the scrape
        monkeypatch.setattr(monkey, "is_module_patched", lambda name: False)
    trickle = Proc(
        [PY, str(ROOT / "tests" / "e2e" / "trickle_server.py"), "--interval", "0.2"], name="trickle"
    )
    try:
        url = trickle.expect(r"trickle listening on (http://127\.0\.0\.1:\d+)", timeout=30).group(1)
        sampler = PrometheusSampler(url + "/metrics", timeout=1.0)
        with gevent.Timeout(60, AssertionError("the scrape did not end: no total deadline")):
            assert sampler.sample() is None
    finally:
        trickle.stop()
    assert "within 1s" in sampler.last_error, sampler.last_error


def test_series_stays_bounded_and_keeps_exact_aggregates():
    s = ProcessSeries("worker:0", max_points=100)
    for i in range(86_400):  # a day at 1 Hz
        s.add(float(i), {"cpu_percent": 50.0 + (i % 2) * 10, "rss_mb": 100.0 + i / 1000, "threads": 4})
    assert len(s.t) < 100 and len(s.rss) == len(s.t) == len(s.cpu)
    assert s.n == 86_400 and s.cpu_max == 60.0 and s.cpu_avg == pytest.approx(55.0)
    assert s.t[-1] == 86_399.0 and s.peaks["threads"] == 4
    cpu, rss = s.series(30)
    assert len(cpu) <= 30 and rss[-1][0] == 86_399.0


def test_saturation_needs_the_whole_window_above_the_limit():
    d = SaturationDetector(90.0, 10.0)
    assert all(d.feed("worker:0", float(t), 99.0) is None for t in range(10))  # 9 s so far
    ep = d.feed("worker:0", 10.0, 99.0)
    assert ep is not None and ep.key == "worker:0" and ep.start_s == 0.0 and ep.end_s == 10.0
    assert d.feed("worker:0", 11.0, 99.0) is None  # reported once
    d2 = SaturationDetector(90.0, 10.0)
    assert all(d2.feed("w", float(t), 99.0 if t % 3 else 40.0) is None for t in range(60))  # bursty: no


def _plan() -> list[StagePlan]:
    ramp = StagePlan(
        0,
        Stage(duration_s=10, users=10, name="ramp"),
        0.0,
        10.0,
        {"A": 0},
        {"A": 10},
        10,
        1.0,
        10.0,
        None,
        None,
    )
    hold = StagePlan(
        1,
        Stage(duration_s=60, users=10, name="hold"),
        10.0,
        70.0,
        {"A": 10},
        {"A": 10},
        0,
        0.0,
        0.0,
        None,
        None,
    )
    return [ramp, hold]


def test_under_delivery_after_grace_only():
    d = UnderDeliveryDetector(_plan(), grace_s=15.0)
    assert all(d.feed(float(t), t) is None for t in range(10))  # ramping: never judged
    assert all(d.feed(float(t), 9) is None for t in range(10, 40))  # 1 short: within tolerance
    assert all(d.feed(float(t), 7) is None for t in range(40, 56))  # 3 short, 15 s so far
    ep = d.feed(56.0, 7)
    assert ep is not None and ep.start_s == 40.0 and ep.value == 7 and ep.peak == 10


def test_connections_are_counted_every_nth_sample_only(monkeypatch):
    """net_connections() is expensive with many sockets: counted every 10th sample, repeated in between."""
    import psutil

    from erpload.locust.samplers import ProcessSampler

    calls = []
    monkeypatch.setattr(
        psutil.Process, "net_connections", lambda self, kind="inet": calls.append(kind) or [1, 2, 3]
    )
    sampler = ProcessSampler(connections_every=10)
    samples = [sampler.sample() for _ in range(25)]
    assert len(calls) == 3  # samples 0, 10 and 20
    assert all(s is not None and s["connections"] == 3.0 for s in samples)
