"""GET /ws/events on the real reference ERP: auth, the upgrade, events with created_at, fan-out."""

from __future__ import annotations

import json
import time

import gevent
import pytest
import requests
import websocket

from helpers import Api


def ws_url(target, token: str) -> str:
    return target.url.replace("http://", "ws://") + f"/ws/events?token={token}"


def test_needs_a_token_and_an_upgrade(target):
    assert requests.get(target.url + "/ws/events", timeout=10).status_code == 401
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        websocket.create_connection(ws_url(target, "forged"), timeout=10)
    assert e.value.status_code == 401
    plain = requests.get(target.url + "/ws/events", params={"token": target.login("qc01")}, timeout=10)
    assert plain.status_code == 400 and plain.json()["error"] == "bad_request"


def test_events_carry_created_at_and_reach_every_subscriber(target):
    clerk = Api(target, "warehouse01")
    socks = [
        websocket.create_connection(ws_url(target, target.login(u)), timeout=10)
        for u in ("ppic01", "ppic02", "admin01", "cutting001", "qc01")
    ]
    try:
        for s in socks:
            assert json.loads(s.recv())["type"] == "hello"
        body = clerk.ok("POST", "/warehouse/stock/FAB-000201/adjust", json={"delta": 2, "reason": "ws test"})
        latencies, seqs = [], set()
        for s in socks:
            event = json.loads(s.recv())
            latencies.append(time.time() * 1000 - event["created_at"])
            seqs.add(event["seq"])
            assert event["type"] == "stock.adjusted" and event["by"] == "warehouse01"
            assert event["data"]["quantity"] == body["quantity"]
        assert len(seqs) == 1  # the same event to everyone
        assert all(0 <= lat < 2000 for lat in latencies), latencies
    finally:
        for s in socks:
            s.close()


def test_a_hundred_subscribers_get_each_event(target):
    token = target.login("ppic03")
    socks = [websocket.create_connection(ws_url(target, token), timeout=10) for _ in range(100)]
    try:
        for s in socks:
            s.recv()  # hello
        Api(target, "warehouse02").ok(
            "POST", "/warehouse/stock/FAB-000202/adjust", json={"delta": 1, "reason": "fan"}
        )
        got = gevent.joinall([gevent.spawn(lambda s=s: json.loads(s.recv())) for s in socks], timeout=30)
        events = [g.value for g in got]
        assert len(events) == 100 and all(e and e["type"] == "stock.adjusted" for e in events)
        spread = max(e["created_at"] for e in events) - min(e["created_at"] for e in events)
        assert spread == 0
    finally:
        for s in socks:
            s.close()
