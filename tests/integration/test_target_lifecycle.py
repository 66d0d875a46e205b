"""Reference ERP lifecycle: MO -> cutting -> sewing -> finishing -> QC (fail, rework, pass) -> stock."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import USERS, Api


@pytest.fixture(scope="module")
def s(target) -> dict[str, Api]:
    return {k: Api(target, u) for k, u in USERS.items()}


def _claim_and_finish(api: Api, dept: str, wo_id: int, qty: int) -> dict:
    claimed = api.ok("POST", f"/production/work-orders/{wo_id}/claim")
    assert claimed["status"] == "in_progress" and claimed["assignee"] == USERS[dept]
    return api.ok("POST", f"/production/{dept}", json={"work_order_id": wo_id, "quantity": qty})


def test_full_lifecycle_increases_stock(s):
    sku = "FG-000321"
    before = s["warehouse"].ok("GET", f"/warehouse/stock/{sku}")["quantity"]
    mo = s["ppic"].ok(
        "POST",
        "/ppic/manufacturing-orders",
        201,
        json={
            "style": "POLO-321",
            "quantity": 30,
            "due_date": "2030-06-30",
            "customer": "Lifecycle Test",
            "product_sku": sku,
        },
    )
    assert mo["status"] == "planned" and mo["number"] == f"MO-{mo['id']:06d}" and mo["product_sku"] == sku
    [cut] = mo["work_orders"]
    assert (cut["department"], cut["status"], cut["quantity"]) == ("cutting", "open", 30)

    # Cutting in two steps; overshooting what is left is a validation error naming quantity.
    s["cutting"].ok("POST", f"/production/work-orders/{cut['id']}/claim")
    assert s["ppic"].ok("GET", f"/ppic/manufacturing-orders/{mo['id']}")["status"] == "in_progress"
    step = s["cutting"].ok("POST", "/production/cutting", json={"work_order_id": cut["id"], "quantity": 10})
    assert step["next"] is None and step["work_order"]["quantity_done"] == 10
    r = s["cutting"].post("/production/cutting", json={"work_order_id": cut["id"], "quantity": 21})
    assert r.status_code == 422 and r.json()["field"] == "quantity"
    step = s["cutting"].ok("POST", "/production/cutting", json={"work_order_id": cut["id"], "quantity": 20})
    assert step["work_order"]["status"] == "done"
    assert step["next"]["type"] == "work_order" and step["next"]["department"] == "sewing"

    step = _claim_and_finish(s["sewing"], "sewing", step["next"]["id"], 30)
    assert step["next"]["department"] == "finishing"
    step = _claim_and_finish(s["finishing"], "finishing", step["next"]["id"], 30)
    assert step["next"]["type"] == "qc_test"

    # QC fails: a finishing rework WO; finishing it again yields a new QC test, which passes.
    failed = s["qc"].ok(
        "POST",
        f"/qc/tests/{step['next']['id']}/result",
        json={"passed": False, "defects": 4, "notes": "loose seams"},
    )
    assert failed["test"]["status"] == "failed" and failed["test"]["inspector"] == "qc01"
    assert failed["next"]["type"] == "work_order" and failed["next"]["department"] == "finishing"
    r = s["qc"].post(f"/qc/tests/{step['next']['id']}/result", json={"passed": True, "defects": 0})
    assert r.status_code == 409, "a test with a result cannot be re-judged"
    step = _claim_and_finish(s["finishing"], "finishing", failed["next"]["id"], 30)
    passed = s["qc"].ok("POST", f"/qc/tests/{step['next']['id']}/result", json={"passed": True, "defects": 0})
    assert passed["next"]["type"] == "receipt"

    received = s["warehouse"].ok(
        "POST", f"/warehouse/receipts/{passed['next']['id']}/receive", json={"location": "WH2-A02-R02"}
    )
    assert received["receipt"]["status"] == "received" and received["receipt"]["received_by"] == "warehouse01"
    assert received["stock"]["sku"] == sku and received["stock"]["quantity"] == before + 30
    assert s["warehouse"].ok("GET", f"/warehouse/stock/{sku}")["quantity"] == before + 30
    assert s["ppic"].ok("GET", f"/ppic/manufacturing-orders/{mo['id']}")["status"] == "completed"
    r = s["warehouse"].post(f"/warehouse/receipts/{passed['next']['id']}/receive", json={})
    assert r.status_code == 409

    # Every state change left an audit row.
    actions = {
        a["action"] for a in s["admin"].ok("GET", "/admin/audit-log", params={"page_size": 40})["items"]
    }
    assert {
        "mo.create",
        "work_order.claim",
        "work_order.cutting",
        "work_order.done",
        "work_order.create",
        "qc_test.create",
        "qc_test.failed",
        "qc_test.passed",
        "receipt.create",
        "receipt.received",
        "mo.completed",
    } <= actions
    mo_full = s["ppic"].ok("GET", f"/ppic/manufacturing-orders/{mo['id']}")
    assert [w["department"] for w in mo_full["work_orders"]] == [
        "cutting",
        "sewing",
        "finishing",
        "finishing",
    ]
    assert all(w["status"] == "done" for w in mo_full["work_orders"])


def _open_wo(s: dict[str, Api], dept: str, skip: int = 0) -> int:
    items = s["admin"].ok(
        "GET", "/production/work-orders", params={"department": dept, "status": "open", "page_size": 200}
    )["items"]
    return items[-1 - skip]["id"]


def test_concurrent_claims_have_exactly_one_winner(target, s):
    wo = _open_wo(s, "cutting")
    claimers = [Api(target, f"cutting{i:03d}") for i in range(10, 30)]
    barrier = threading.Barrier(len(claimers))

    def claim(api: Api):
        barrier.wait(timeout=10)
        return api.post(f"/production/work-orders/{wo}/claim")

    with ThreadPoolExecutor(len(claimers)) as pool:
        results = list(pool.map(claim, claimers))
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) == 1 and codes.count(409) == len(claimers) - 1, codes
    winner = next(r.json()["assignee"] for r in results if r.status_code == 200)
    for r in results:
        if r.status_code == 409:
            assert r.json()["error"] == "conflict" and winner in r.json()["detail"]


def test_patch_note_only_by_holder(target, s):
    wo = _open_wo(s, "sewing", skip=1)
    s["sewing"].ok("POST", f"/production/work-orders/{wo}/claim")
    assert (
        s["sewing"].ok("PATCH", f"/production/work-orders/{wo}", json={"note": "needle changed"})["id"] == wo
    )
    other = Api(target, "sewing002")
    r = other.call("PATCH", f"/production/work-orders/{wo}", json={"note": "not mine"})
    assert r.status_code == 409 and "sewing001" in r.json()["detail"]
    r = s["cutting"].call("PATCH", f"/production/work-orders/{wo}", json={"note": "other dept"})
    assert r.status_code == 403


def test_step_rules(target, s):
    wo = _open_wo(s, "finishing", skip=2)
    r = s["finishing"].post("/production/finishing", json={"work_order_id": wo, "quantity": 1})
    assert r.status_code == 409, "stepping an unclaimed WO"
    cutting_wo = _open_wo(s, "cutting", skip=3)
    s["cutting"].ok("POST", f"/production/work-orders/{cutting_wo}/claim")
    r = s["finishing"].post("/production/finishing", json={"work_order_id": cutting_wo, "quantity": 1})
    assert r.status_code == 422 and r.json()["field"] == "work_order_id"
    r = s["cutting"].post("/production/cutting", json={"work_order_id": 99_999_999, "quantity": 1})
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = s["cutting"].post(f"/production/work-orders/{cutting_wo}/claim")
    assert r.status_code == 409 and "cutting001" in r.json()["detail"]


def test_lists_filter_and_page(s):
    admin = s["admin"]
    page = admin.ok("GET", "/ppic/manufacturing-orders", params={"q": "MO-00012", "page_size": 5})
    assert page["total"] >= 10 and len(page["items"]) == 5 and page["page_size"] == 5
    assert all("MO-00012" in m["number"] for m in page["items"])
    done = admin.ok("GET", "/production/work-orders", params={"status": "done", "department": "sewing"})
    assert done["total"] > 0 and {(w["status"], w["department"]) for w in done["items"]} == {
        ("done", "sewing")
    }
    p2 = admin.ok("GET", "/warehouse/stock", params={"q": "FAB-", "page": 2, "page_size": 100})
    assert p2["page"] == 2 and p2["items"][0]["sku"] == "FAB-000101" and p2["total"] == 15000
    by_loc = admin.ok("GET", "/warehouse/stock", params={"location": "WH3-A10-R05"})
    assert by_loc["total"] > 0 and {i["location"] for i in by_loc["items"]} == {"WH3-A10-R05"}
    ops = admin.ok("GET", "/admin/users", params={"role": "operator", "page_size": 200})
    assert ops["total"] == 260 and all("password" not in str(u) for u in ops["items"])


def test_dashboard_cards(s):
    admin = s["admin"].ok("GET", "/dashboard")
    cut = s["cutting"].ok("GET", "/dashboard")
    assert admin["role"] == "admin" and cut["user"]["department"] == "cutting"
    for key in (
        "open_work_orders",
        "in_progress_work_orders",
        "pending_qc",
        "pending_receipts",
        "open_manufacturing_orders",
        "low_stock_items",
    ):
        assert isinstance(admin["cards"][key], int) and admin["cards"][key] > 0
    assert cut["cards"]["open_work_orders"] < admin["cards"]["open_work_orders"]


def test_seed_leaves_work_for_a_load_test(s):
    admin = s["admin"]
    for dept in ("cutting", "sewing", "finishing"):
        assert (
            admin.ok("GET", "/production/work-orders", params={"department": dept, "status": "open"})["total"]
            >= 300
        )
        assert (
            admin.ok("GET", "/production/work-orders", params={"department": dept, "status": "in_progress"})[
                "total"
            ]
            > 0
        )
    assert admin.ok("GET", "/qc/tests", params={"status": "pending"})["total"] >= 300
    assert admin.ok("GET", "/warehouse/receipts", params={"status": "pending"})["total"] >= 300
    assert admin.ok("GET", "/ppic/manufacturing-orders")["total"] >= 10_000
    assert admin.ok("GET", "/warehouse/stock")["total"] >= 50_000


def test_production_report(s):
    r = s["ppic"].ok(
        "POST", "/reports/production", json={"from": "2020-01-01", "to": "2020-12-31", "group_by": "style"}
    )
    assert r["rows"] == [] and r["totals"] == {"work_orders": 0, "quantity": 0, "quantity_done": 0}
    today = dt.datetime.now(dt.UTC).date()
    body = {
        "from": (today - dt.timedelta(days=150)).isoformat(),
        "to": today.isoformat(),
        "group_by": "department",
    }
    r = s["admin"].ok("POST", "/reports/production", json=body)
    assert {row["key"] for row in r["rows"]} == {"cutting", "sewing", "finishing"}
    assert r["totals"]["work_orders"] == sum(row["work_orders"] for row in r["rows"]) > 20_000
