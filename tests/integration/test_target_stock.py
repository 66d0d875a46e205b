"""Stock adjust: concurrent adjusts sum exactly, idempotency replays, and --racy-stock loses updates.

The app runs in-process (Flask's test client). The concurrent callers are threads, which the test
process's gevent patching makes greenlets: the model of the real server too (pywsgi answers each
connection in a greenlet), so the app's locking is exercised as in production: an adjust interleaves
with others exactly where it yields to the gevent loop (the racy fault's read-then-write window).
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import Api, AppTarget, copy_db


@pytest.fixture(scope="module")
def target(app_target) -> AppTarget:
    return app_target


@pytest.fixture(scope="module")
def wh(target) -> Api:
    return Api(target, "warehouse01")


def _concurrent_adjusts(target, sku: str, deltas: list[int], key=None) -> list:
    """One thread and session per adjust, released together by a barrier to maximise overlap."""
    token = Api(target, "warehouse02").token
    apis = [Api(target, token=token) for _ in deltas]
    barrier = threading.Barrier(len(deltas))

    def adjust(i: int):
        barrier.wait(timeout=10)
        headers = {"Idempotency-Key": key} if key else {}
        return apis[i].post(
            f"/warehouse/stock/{sku}/adjust",
            json={"delta": deltas[i], "reason": "concurrency"},
            headers=headers,
        )

    with ThreadPoolExecutor(len(deltas)) as pool:
        return list(pool.map(adjust, range(len(deltas))))


def test_fifty_concurrent_adjusts_sum_exactly(target, wh):
    sku = "TRM-000777"
    before = wh.ok("GET", f"/warehouse/stock/{sku}")["quantity"]
    deltas = [(i % 7) + 1 if i % 3 else -1 for i in range(50)]
    results = _concurrent_adjusts(target, sku, deltas)
    assert all(r.status_code == 200 for r in results), [r.text for r in results if r.status_code != 200]
    assert len({r.json()["adjustment_id"] for r in results}) == 50
    assert wh.ok("GET", f"/warehouse/stock/{sku}")["quantity"] == before + sum(deltas)


def test_idempotency_key_replays_stored_result(wh):
    sku, key = "ACC-000100", f"test-{uuid.uuid4()}"
    before = wh.ok("GET", f"/warehouse/stock/{sku}")["quantity"]
    body = {"delta": 5, "reason": "cycle count"}
    first = wh.ok("POST", f"/warehouse/stock/{sku}/adjust", json=body, headers={"Idempotency-Key": key})
    again = wh.ok("POST", f"/warehouse/stock/{sku}/adjust", json=body, headers={"Idempotency-Key": key})
    assert first["replayed"] is False and again["replayed"] is True
    assert {**first, "replayed": True} == again
    assert first["quantity"] == before + 5 == wh.ok("GET", f"/warehouse/stock/{sku}")["quantity"]
    # Same key in the body works the same; a different payload under the key is a conflict.
    via_body = wh.ok("POST", f"/warehouse/stock/{sku}/adjust", json={**body, "idempotency_key": key})
    assert via_body["replayed"] is True and via_body["adjustment_id"] == first["adjustment_id"]
    r = wh.post(
        f"/warehouse/stock/{sku}/adjust",
        json={"delta": 6, "reason": "cycle count"},
        headers={"Idempotency-Key": key},
    )
    assert r.status_code == 409 and r.json()["error"] == "conflict"


def test_concurrent_retries_with_one_key_apply_once(target, wh):
    sku, key = "ACC-000200", f"test-{uuid.uuid4()}"
    before = wh.ok("GET", f"/warehouse/stock/{sku}")["quantity"]
    results = _concurrent_adjusts(target, sku, [3] * 12, key=key)
    assert all(r.status_code == 200 for r in results)
    assert sum(not r.json()["replayed"] for r in results) == 1
    assert len({r.json()["adjustment_id"] for r in results}) == 1
    assert wh.ok("GET", f"/warehouse/stock/{sku}")["quantity"] == before + 3


@pytest.mark.parametrize(
    "sku,body,status,field",
    [
        ("FAB-000010", {"delta": -(10**8), "reason": "too much"}, 422, "delta"),
        ("FAB-000010", {"delta": 0, "reason": "nothing"}, 422, "delta"),
        ("FAB-000010", {"delta": 1.5, "reason": "float"}, 422, "delta"),
        ("FAB-000010", {"delta": True, "reason": "bool"}, 422, "delta"),
        ("FAB-000010", {"delta": "3", "reason": "string"}, 422, "delta"),
        ("FAB-000010", {"delta": 3}, 422, "reason"),
        ("NOPE-123", {"delta": 1, "reason": "ghost"}, 404, None),
    ],
)
def test_adjust_rejections(wh, sku, body, status, field):
    before = wh.get(f"/warehouse/stock/{sku}")
    r = wh.post(f"/warehouse/stock/{sku}/adjust", json=body)
    assert r.status_code == status, r.text
    assert r.json().get("field") == field
    if before.status_code == 200:
        assert wh.ok("GET", f"/warehouse/stock/{sku}")["quantity"] == before.json()["quantity"]


def test_racy_stock_loses_updates(tmp_path_factory, seeded_erp_db):
    """The bug the fault plants: unlocked read-modify-write. Concurrent +1s must not all land."""
    from erp_target.faults import FaultState

    db = copy_db(seeded_erp_db, tmp_path_factory.mktemp("racy"))
    racy = AppTarget(db, faults=FaultState().updated({"racy_stock": True}))  # as --racy-stock
    try:
        admin = Api(racy, "admin01")
        assert admin.ok("GET", "/admin/faults")["racy_stock"] is True
        wh = Api(racy, "warehouse01")
        sku, n, lost = "FAB-000500", 40, []
        for _ in range(3):  # bounded retries: one round virtually always loses updates
            before = wh.ok("GET", f"/warehouse/stock/{sku}")["quantity"]
            results = _concurrent_adjusts(racy, sku, [1] * n)
            assert all(r.status_code == 200 for r in results)
            after = wh.ok("GET", f"/warehouse/stock/{sku}")["quantity"]
            lost.append(before + n - after)
            if lost[-1] > 0:
                break
        assert lost[-1] > 0, f"expected lost updates with --racy-stock, got none in {len(lost)} rounds"
        # Flipping it off at run time restores exact sums on the same server.
        admin.ok("PUT", "/admin/faults", json={"racy_stock": False})
        before = wh.ok("GET", f"/warehouse/stock/{sku}")["quantity"]
        _concurrent_adjusts(racy, sku, [1] * n)
        assert wh.ok("GET", f"/warehouse/stock/{sku}")["quantity"] == before + n
    finally:
        racy.close()
