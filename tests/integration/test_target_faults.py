"""Every fault switch is observable from a client, at start (CLI flags) and at run time (PUT /admin/faults)."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time

import psutil
import pytest
import requests

from helpers import Api, Target

OFF = {
    "latency_ms": 0,
    "latency_jitter_ms": 0,
    "latency_path": None,
    "error_rate": 0,
    "error_path": None,
    "hang_rate": 0,
    "hang_path": None,
    "malformed_rate": 0,
    "malformed_path": None,
    "reset_rate": 0,
    "reset_path": None,
    "leak_kb": 0,
    "slow_db_ms": 0,
    "racy_stock": False,
    "outage_s": 0,
    "rbac_hole_path": None,
    "ws_drop_rate": 0,
    "ws_reorder_rate": 0,
    "capacity_slots": 0,
    "capacity_ms": 0,
}
ME = "^/auth/me$"  # most tests confine a fault to GET /auth/me (no DB access) and keep the rest healthy


@pytest.fixture(scope="module")
def admin(target) -> Api:
    return Api(target, "admin01")


@pytest.fixture(scope="module")
def user(target) -> Api:
    return Api(target, "ppic01")


@pytest.fixture(autouse=True)
def _faults_off(admin):
    yield
    admin.ok("PUT", "/admin/faults", json=OFF)


def _timed(api: Api, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        api.ok("GET", path)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def test_defaults_all_off_and_partial_update(admin):
    assert admin.ok("GET", "/admin/faults") == {
        **OFF,
        "latency_ms": 0.0,
        "error_rate": 0.0,
        "hang_rate": 0.0,
        "malformed_rate": 0.0,
        "reset_rate": 0.0,
        "slow_db_ms": 0.0,
        "latency_jitter_ms": 0.0,
        "outage_s": 0.0,
    }
    new = admin.ok("PUT", "/admin/faults", json={"error_rate": 0.25, "error_path": "^/qc/"})
    assert new["error_rate"] == 0.25 and new["error_path"] == "^/qc/" and new["latency_ms"] == 0
    assert admin.ok("GET", "/admin/faults") == new


@pytest.mark.parametrize(
    "body,field",
    [
        ({"bogus": 1}, "bogus"),
        ({"error_rate": 1.5}, "error_rate"),
        ({"hang_rate": "often"}, "hang_rate"),
        ({"latency_ms": -5}, "latency_ms"),
        ({"latency_path": "(unclosed"}, "latency_path"),
        ({"leak_kb": 1.5}, "leak_kb"),
        ({"racy_stock": "yes"}, "racy_stock"),
        ({"slow_db_ms": True}, "slow_db_ms"),
    ],
)
def test_bad_fault_update_is_422_and_changes_nothing(admin, body, field):
    before = admin.ok("GET", "/admin/faults")
    r = admin.call("PUT", "/admin/faults", json={"latency_ms": 5, **body})
    assert r.status_code == 422 and r.json()["error"] == "validation" and r.json()["field"] == field
    assert admin.ok("GET", "/admin/faults") == before


def test_latency_with_path_and_jitter(admin, user):
    admin.ok("PUT", "/admin/faults", json={"latency_ms": 120, "latency_path": ME})
    slow = _timed(user, "/auth/me", 5)
    fast = _timed(user, "/dashboard", 5)
    assert min(slow) >= 115, slow
    assert statistics.median(fast) < 60, fast
    admin.ok("PUT", "/admin/faults", json={"latency_ms": 100, "latency_jitter_ms": 60})
    jittery = _timed(user, "/auth/me", 12)
    assert min(jittery) >= 38 and max(jittery) - min(jittery) > 15, jittery


def test_error_rate_share(admin, user):
    admin.ok("PUT", "/admin/faults", json={"error_rate": 0.3, "error_path": ME})
    codes = [user.get("/auth/me") for _ in range(300)]
    errors = [r for r in codes if r.status_code == 500]
    assert all(r.status_code in (200, 500) for r in codes)
    assert 0.2 <= len(errors) / len(codes) <= 0.4, len(errors)
    assert all(r.json()["error"] == "internal" for r in errors)
    assert user.get("/dashboard").status_code == 200, "error_path confines the fault"


def test_hang_makes_client_time_out_without_blocking_others(admin, user, target):
    admin.ok("PUT", "/admin/faults", json={"hang_rate": 1.0, "hang_path": ME})
    outcome: list[str] = []

    def hung_call() -> None:
        try:
            requests.get(target.url + "/auth/me", headers=user.session.headers, timeout=1.5)
            outcome.append("answered")
        except requests.exceptions.ReadTimeout:
            outcome.append("timed out")

    t0 = time.perf_counter()
    caller = threading.Thread(target=hung_call, daemon=True)
    caller.start()
    assert statistics.median(_timed(user, "/dashboard", 5)) < 100, "other requests are still served"
    caller.join(timeout=10)
    assert outcome == ["timed out"] and time.perf_counter() - t0 < 5
    # Once the client gave up, the server let go of the request (counted with status "hang").
    hung = 'erp_http_requests_total{method="GET",path="/auth/me",status="hang"}'
    deadline = time.monotonic() + 5
    while hung not in requests.get(target.url + "/metrics", timeout=5).text:
        assert time.monotonic() < deadline, "the hung request was never released"
        time.sleep(0.05)  # poll interval of a bounded wait
    admin.ok("PUT", "/admin/faults", json={"hang_rate": 0})
    assert user.get("/auth/me").status_code == 200


def test_malformed_body_fails_to_decode(admin, user):
    admin.ok("PUT", "/admin/faults", json={"malformed_rate": 1.0, "malformed_path": ME})
    r = user.get("/auth/me")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    assert r.text.startswith("{")


def test_reset_mid_body(admin, user, target):
    admin.ok("PUT", "/admin/faults", json={"reset_rate": 1.0, "reset_path": "^/warehouse/stock$"})
    with pytest.raises((requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        user.get("/warehouse/stock", params={"page_size": 200})
    # On a raw socket: a 200 status line and part of the body arrive, then the peer resets.
    token = user.session.headers["Authorization"]
    req = f"GET /warehouse/stock?page_size=200 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {token}\r\n\r\n"
    received = b""
    with socket.create_connection(("127.0.0.1", target.port), timeout=5) as sock:
        sock.sendall(req.encode())
        with pytest.raises(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
            raise AssertionError(f"connection closed cleanly after {len(received)} bytes, no RST")
    if received:  # the RST may discard queued bytes; if any arrived they are a truncated 200
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        length = int(
            next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length"))
        )
        assert len(body) < length


def test_leak_grows_rss(admin, user, target):
    proc = psutil.Process(target.pid)
    before = proc.memory_info().rss
    admin.ok("PUT", "/admin/faults", json={"leak_kb": 1024})
    for _ in range(60):
        user.ok("GET", "/auth/me")
    grown = proc.memory_info().rss - before
    assert grown > 45 * 2**20, f"RSS grew only {grown / 2**20:.1f} MiB for 60 MiB leaked"
    admin.ok("PUT", "/admin/faults", json={"leak_kb": 0})
    held = proc.memory_info().rss
    for _ in range(20):
        user.ok("GET", "/auth/me")
    assert proc.memory_info().rss - held < 10 * 2**20, "no further growth once switched off"


def test_slow_db(admin, user):
    baseline = statistics.median(_timed(user, "/ppic/manufacturing-orders/7", 5))
    admin.ok("PUT", "/admin/faults", json={"slow_db_ms": 60})
    slowed = _timed(user, "/ppic/manufacturing-orders/7", 5)  # two queries (MO, its WOs)
    assert min(slowed) >= 115, slowed
    assert statistics.median(_timed(user, "/auth/me", 5)) < baseline + 40, "no DB, no delay"


def test_runtime_flip_mid_run(admin, target):
    """A client hammering in the background sees failures start and stop exactly as the switch flips."""
    token = Api(target, "qc01").session.headers["Authorization"]
    seen: list[tuple[float, float, int]] = []  # (sent, answered, status)
    stop = threading.Event()

    def hammer():
        with requests.Session() as s:
            s.headers["Authorization"] = token
            while not stop.is_set():
                t0 = time.monotonic()
                code = s.get(target.url + "/qc/tests", params={"page_size": 5}, timeout=5).status_code
                seen.append((t0, time.monotonic(), code))

    def wait_for_requests(n: int) -> None:
        deadline, goal = time.monotonic() + 10, len(seen) + n
        while len(seen) < goal:
            assert time.monotonic() < deadline, f"only {len(seen)} requests seen"
            time.sleep(0.02)  # poll interval of a bounded wait

    worker = threading.Thread(target=hammer, daemon=True)
    worker.start()
    try:
        wait_for_requests(10)
        on_sent = time.monotonic()
        admin.ok("PUT", "/admin/faults", json={"error_rate": 1.0, "error_path": "^/qc/"})
        on = time.monotonic()
        wait_for_requests(20)
        off_sent = time.monotonic()
        admin.ok("PUT", "/admin/faults", json={"error_rate": 0.0})
        off = time.monotonic()
        wait_for_requests(20)
    finally:
        stop.set()
        worker.join(timeout=10)
    # Requests in flight while a PUT was being applied may go either way; all others must not.
    before = [c for t0, t1, c in seen if t1 < on_sent]
    during = [c for t0, t1, c in seen if t0 > on and t1 < off_sent]
    after = [c for t0, t1, c in seen if t0 > off]
    assert set(before) == {200} and set(during) == {500} and set(after) == {200}, (before, during, after)
    assert len(during) >= 15 and len(after) >= 15


def test_cli_flags_set_faults_at_start(tmp_path_factory):
    t = Target(
        tmp_path_factory.mktemp("cli-faults"),
        "--latency-ms",
        "150",
        "--latency-path",
        ME,
        "--error-rate",
        "1",
        "--error-path",
        "^/dashboard$",
        "--slow-db-ms",
        "5",
        "--leak-kb",
        "4",
        "--malformed-rate",
        "0",
        "--reset-rate",
        "0",
        "--hang-rate",
        "0",
        "--racy-stock",
        "--fault-seed",
        "7",
        name="target-cli-faults",
    )
    try:
        admin = Api(t, "admin01")
        state = admin.ok("GET", "/admin/faults")
        assert (
            state["latency_ms"],
            state["latency_path"],
            state["error_rate"],
            state["error_path"],
            state["slow_db_ms"],
            state["leak_kb"],
            state["racy_stock"],
        ) == (150, ME, 1.0, "^/dashboard$", 5, 4, True)
        assert min(_timed(admin, "/auth/me", 3)) >= 145
        r = admin.get("/dashboard")
        assert r.status_code == 500 and r.json() == {
            "error": "internal",
            "detail": "injected fault: error_rate",
        }
        assert t.proc.output.count("Traceback") == 0
    finally:
        t.stop()
