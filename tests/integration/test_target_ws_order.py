"""GET /ws/events order on the real reference ERP: hello seq, gap-free global seq, the drop/reorder switches."""

from __future__ import annotations

import json

import pytest
import websocket

from helpers import PY, Api, Proc, Target, copy_db

SWITCHES = {"ws_drop_rate": 0, "ws_reorder_rate": 0}


def ws_url(target, token: str) -> str:
    return target.url.replace("http://", "ws://") + f"/ws/events?token={token}"


@pytest.fixture(scope="module")
def admin(target) -> Api:
    return Api(target, "admin01")


@pytest.fixture(autouse=True)
def _switches_off(admin):
    yield
    admin.ok("PUT", "/admin/faults", json=SWITCHES)


def adjust(target, n: int) -> None:
    clerk = Api(target, "warehouse03")
    for i in range(n):
        clerk.ok("POST", "/warehouse/stock/FAB-000203/adjust", json={"delta": 1, "reason": f"order {i}"})


def listen(target, user: str) -> tuple[websocket.WebSocket, int]:
    sock = websocket.create_connection(ws_url(target, target.login(user)), timeout=10)
    hello = json.loads(sock.recv())
    assert hello["type"] == "hello" and isinstance(hello["seq"], int), hello
    return sock, hello["seq"]


def seqs(sock: websocket.WebSocket, n: int) -> list[int]:
    return [json.loads(sock.recv())["seq"] for _ in range(n)]


def test_every_subscriber_gets_every_seq_in_order_from_its_hello(target):
    a, start_a = listen(target, "ppic01")
    try:
        adjust(target, 3)
        b, start_b = listen(target, "ppic02")  # joins later: its hello says where its stream starts
        try:
            assert start_b == start_a + 3
            adjust(target, 4)
            assert seqs(a, 7) == list(range(start_a + 1, start_a + 8))
            assert seqs(b, 4) == list(range(start_b + 1, start_b + 5))
        finally:
            b.close()
    finally:
        a.close()


def test_reorder_switch_swaps_neighbours_at_run_time(target, admin):
    assert admin.ok("PUT", "/admin/faults", json={"ws_reorder_rate": 1.0})["ws_reorder_rate"] == 1.0
    sock, start = listen(target, "ppic01")
    try:
        adjust(target, 4)
        s = start
        assert seqs(sock, 4) == [s + 2, s + 1, s + 4, s + 3]  # each held event follows the next one
    finally:
        sock.close()
    metrics = Api(target).get("/metrics").text
    assert 'erp_faults_injected_total{kind="ws_reorder"}' in metrics


def test_drop_switch_skips_events(target, admin):
    admin.ok("PUT", "/admin/faults", json={"ws_drop_rate": 0.5})
    sock, start = listen(target, "ppic01")
    try:
        adjust(target, 40)
        admin.ok("PUT", "/admin/faults", json={"ws_drop_rate": 0})
        adjust(target, 1)  # the marker: sent for sure, so everything before it has been decided
        got = []
        while not got or got[-1] != start + 41:
            got.append(json.loads(sock.recv())["seq"])
        assert got == sorted(got) and len(got) < 41 and len(got) > 1, got
    finally:
        sock.close()


def test_switches_are_validated_and_settable_at_start(tmp_path, seeded_erp_db, admin):
    r = admin.call("PUT", "/admin/faults", json={"ws_drop_rate": 2})
    assert r.status_code == 422 and r.json()["field"] == "ws_drop_rate", r.text
    bad = Proc(
        [PY, "-m", "erp_target", "--port", "0", "--ws-reorder-rate", "1.5"], name="bad", log_dir=tmp_path
    )
    assert bad.wait(30) == 2 and "--ws-reorder-rate: must be between 0 and 1, got 1.5" in bad.output
    t = Target(tmp_path, "--ws-drop-rate", "1", db=copy_db(seeded_erp_db, tmp_path))
    try:
        assert Api(t, "admin01").ok("GET", "/admin/faults")["ws_drop_rate"] == 1.0
    finally:
        t.stop()
