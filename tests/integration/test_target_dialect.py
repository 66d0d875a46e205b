"""The reference ERP started with `--dialect v1`: the variant API of docs/erp-api.md ("v1 dialect").

A real target process: form login answering {token, ttl}, the Token scheme, everything under /api/v1,
{data, meta} lists with per_page, renamed paths (their canonical twins 404), on_hand and job_id, the
{"error": {code, message}} envelope, the WebSocket with ?access_token=, and RBAC, faults and metrics
still working. The reference dialect stays as it was (test_contract.py and test_target_*.py).
"""

from __future__ import annotations

import json

import pytest
import requests
import websocket

from helpers import PY, SEED_PASSWORD, Api, Proc, Target, copy_db

BASE = "/api/v1"


@pytest.fixture(scope="module")
def v1(tmp_path_factory, seeded_erp_db):
    """One reference ERP speaking the v1 dialect, on a copy of the seeded database."""
    tmp = tmp_path_factory.mktemp("target-v1")
    t = Target(tmp, "--dialect", "v1", name="target-v1", db=copy_db(seeded_erp_db, tmp))
    yield t
    t.stop()


def login(target, username: str, password: str = SEED_PASSWORD) -> requests.Response:
    return requests.post(
        target.url + BASE + "/auth/token", data={"user": username, "pass": password}, timeout=10
    )


class Client:
    """A keep-alive session logged in the v1 way (`Authorization: Token <jwt>`)."""

    def __init__(self, target, username: str):
        r = login(target, username)
        assert r.status_code == 200, r.text
        self.token = r.json()["token"]
        self.url = target.url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {self.token}"

    def call(self, method: str, path: str, **kw) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=15, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw):
        r = self.call(method, BASE + path, **kw)
        assert r.status_code == status, f"{method} {BASE}{path}: {r.status_code} {r.text[:300]}"
        return r.json()

    def error(self, method: str, path: str, status: int, **kw) -> dict:
        """Call, assert the status and the v1 error envelope; return the inner error object."""
        r = self.call(method, path, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text[:300]}"
        body = r.json()
        assert set(body) == {"error"} and isinstance(body["error"], dict), body
        assert isinstance(body["error"]["code"], str) and body["error"]["message"], body
        return body["error"]


def test_flag_env_and_startup_log(v1, monkeypatch, capsys):
    from erp_target.config import parse_args

    helped = Proc([PY, "-m", "erp_target", "--help"], name="target-help")
    assert helped.wait(30) == 0
    assert "--dialect {reference,v1}" in helped.output and "ERP_DIALECT" in helped.output
    monkeypatch.setenv("ERP_DIALECT", "v1")
    assert parse_args([]).dialect == "v1"
    assert parse_args(["--dialect", "reference"]).dialect == "reference"  # the flag wins
    monkeypatch.setenv("ERP_DIALECT", "V1x")
    with pytest.raises(SystemExit) as e:
        parse_args([])
    assert e.value.code == 2
    assert (
        "$ERP_DIALECT: must be one of reference, v1, got 'V1x'; did you mean 'v1'?" in capsys.readouterr().err
    )
    assert "API dialect: v1" in v1.proc.output


def test_form_login_answers_token_and_ttl(v1):
    r = login(v1, "ppic01")
    assert r.status_code == 200 and set(r.json()) == {"token", "ttl"} and r.json()["ttl"] == 3600
    assert r.json()["token"].count(".") == 2  # a JWT
    wrong = login(v1, "ppic01", "not-the-password")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"
    missing = requests.post(v1.url + BASE + "/auth/token", data={"user": "ppic01"}, timeout=10)
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "pass"
    as_json = requests.post(
        v1.url + BASE + "/auth/token", json={"user": "ppic01", "pass": SEED_PASSWORD}, timeout=10
    )
    assert as_json.status_code == 415
    assert as_json.json()["error"]["code"] == "unsupported_media_type"
    assert "application/x-www-form-urlencoded" in as_json.json()["error"]["message"]
    for twin in (BASE + "/auth/login", "/auth/login"):
        r = requests.post(v1.url + twin, json={"username": "ppic01", "password": SEED_PASSWORD}, timeout=10)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", twin


def test_token_scheme_accepted_bearer_refused(v1):
    c = Client(v1, "qc01")
    assert c.ok("GET", "/auth/me") == {"username": "qc01", "role": "qc", "department": None}
    bearer = requests.get(
        v1.url + BASE + "/auth/me", headers={"Authorization": f"Bearer {c.token}"}, timeout=10
    )
    assert bearer.status_code == 401 and "Token <token>" in bearer.json()["error"]["message"]
    bare = requests.get(v1.url + BASE + "/auth/me", timeout=10)
    assert bare.status_code == 401 and "POST /api/v1/auth/token" in bare.json()["error"]["message"]


def test_lists_have_data_meta_and_per_page(v1):
    c = Client(v1, "ppic01")
    body = c.ok("GET", "/planning/orders", params={"per_page": 7, "page": 2})
    assert set(body) == {"data", "meta"} and len(body["data"]) == 7
    assert body["meta"]["page"] == 2 and body["meta"]["per_page"] == 7 and body["meta"]["total"] >= 10_000
    assert set(c.ok("GET", "/planning/orders")["meta"]) == {"total", "page", "per_page"}
    err = c.error("GET", BASE + "/planning/orders", 422, params={"page_size": 5})
    assert err["field"] == "page_size" and "per_page" in err["message"]
    err = c.error("GET", BASE + "/planning/orders", 422, params={"per_page": 500})
    assert err == {"code": "validation", "message": err["message"], "field": "per_page"}
    assert err["message"].startswith("per_page: ")


def test_planning_orders_renamed(v1):
    c = Client(v1, "ppic01")
    mo = c.ok(
        "POST", "/planning/orders", 201, json={"style": "V1-TEE", "quantity": 40, "due_date": "2031-01-31"}
    )
    got = c.ok("GET", f"/planning/orders/{mo['id']}")
    assert got["number"] == mo["number"] and got["work_orders"][0]["department"] == "cutting"
    for twin in ("/ppic/manufacturing-orders", f"/ppic/manufacturing-orders/{mo['id']}"):
        assert c.error("GET", BASE + twin, 404)["code"] == "not_found"
        assert c.error("GET", twin, 404)["code"] == "not_found"


def test_production_jobs_renamed_and_steps_take_job_id(v1):
    c = Client(v1, "cutting001")
    jobs = c.ok("GET", "/production/jobs", params={"department": "cutting", "status": "open", "per_page": 2})
    first, second = (j["id"] for j in jobs["data"])
    assert c.ok("POST", f"/production/jobs/{first}/claim")["status"] == "in_progress"
    assert c.ok("PATCH", f"/production/jobs/{first}", json={"note": "v1 note"})["assignee"] == "cutting001"
    step = c.ok("POST", "/production/cutting", json={"job_id": first, "quantity": 1})
    assert step["work_order"]["id"] == first and step["work_order"]["quantity_done"] >= 1
    err = c.error("POST", BASE + "/production/cutting", 422, json={"work_order_id": first, "quantity": 1})
    assert err["field"] == "job_id" and err["message"].startswith("job_id: ")
    assert c.error("POST", BASE + f"/production/jobs/{first}/claim", 409)["code"] == "conflict"
    for twin in (f"/production/work-orders/{second}/claim", f"/production/work-orders/{second}"):
        for path in (BASE + twin, twin):
            assert c.error("POST" if twin.endswith("claim") else "PATCH", path, 404, json={"note": "x"})
    assert c.error("GET", BASE + "/production/work-orders", 404, params={"department": "cutting"})
    assert (
        c.error("GET", BASE + "/production/jobs", 403, params={"department": "sewing"})["code"] == "forbidden"
    )


def test_quality_inspections_renamed(v1):
    c = Client(v1, "qc01")
    tests = c.ok("GET", "/quality/inspections", params={"status": "pending", "per_page": 1})
    test_id = tests["data"][0]["id"]
    result = c.ok("POST", f"/quality/inspections/{test_id}/result", json={"passed": True, "defects": 0})
    assert result["test"]["status"] == "passed" and result["next"]["type"] == "receipt"
    assert c.error("GET", BASE + "/qc/tests", 404)["code"] == "not_found"
    assert c.error("POST", BASE + f"/qc/tests/{test_id}/result", 404, json={"passed": True, "defects": 0})
    assert c.error("GET", "/qc/tests", 404)["code"] == "not_found"


def test_inventory_items_renamed_with_on_hand(v1):
    c = Client(v1, "warehouse01")
    listed = c.ok("GET", "/inventory/items", params={"q": "FAB-0001", "per_page": 3})
    assert len(listed["data"]) == 3 and all("on_hand" in i and "quantity" not in i for i in listed["data"])
    item = c.ok("GET", "/inventory/items/FAB-000101")
    assert set(item) == {"sku", "name", "on_hand", "location", "updated_at"}
    adjusted = c.ok("POST", "/inventory/items/FAB-000101/adjust", json={"delta": 5, "reason": "v1"})
    assert adjusted["on_hand"] == item["on_hand"] + 5 and "quantity" not in adjusted
    for twin in ("/warehouse/stock", "/warehouse/stock/FAB-000101"):
        assert c.error("GET", BASE + twin, 404)["code"] == "not_found"
        assert c.error("GET", twin, 404)["code"] == "not_found"
    assert c.error("POST", BASE + "/warehouse/stock/FAB-000101/adjust", 404, json={"delta": 1, "reason": "x"})
    receipt = c.ok("GET", "/warehouse/receipts", params={"status": "pending", "per_page": 1})["data"][0]
    got = c.ok("POST", f"/warehouse/receipts/{receipt['id']}/receive", json={})
    assert "quantity" in got["receipt"] and "quantity" not in got["stock"]
    assert got["stock"]["sku"] == receipt["sku"] and got["stock"]["on_hand"] >= receipt["quantity"]


@pytest.mark.parametrize(
    ("method", "path", "kw"),
    [
        ("GET", "/dashboard", {}),
        ("GET", "/admin/users", {"params": {"per_page": 2}}),
        ("GET", "/admin/audit-log", {}),
        ("GET", "/admin/faults", {}),
        ("POST", "/reports/production", {"json": {"from": "2020-01-01", "to": "2020-12-31"}}),
    ],
)
def test_other_paths_keep_their_name_under_the_base(v1, method, path, kw):
    c = Client(v1, "admin01")
    assert c.ok(method, path, **kw)
    assert c.error(method, path, 404, **kw)["code"] == "not_found"  # not at the root in v1


def test_error_envelope(v1):
    admin, qc = Client(v1, "admin01"), Client(v1, "qc01")
    err = admin.error("GET", BASE + "/inventory/items/NOPE-1", 404)
    assert err["code"] == "not_found" and "NOPE-1" in err["message"] and "field" not in err
    err = qc.error("POST", BASE + "/inventory/items/FAB-000102/adjust", 403, json={"delta": 1, "reason": "x"})
    assert err["code"] == "forbidden" and "/api/v1/inventory/items/{sku}/adjust" in err["message"]
    err = admin.error(
        "POST", BASE + "/inventory/items/FAB-000102/adjust", 422, json={"delta": -(10**9), "reason": "x"}
    )
    assert err["code"] == "validation" and err["field"] == "delta"
    err = admin.error("POST", BASE + "/inventory/items/FAB-000102/adjust", 400, data=b"{not json")
    assert err["code"] == "bad_request"
    assert admin.error("DELETE", BASE + "/inventory/items", 405)["code"] == "method_not_allowed"
    assert admin.error("GET", BASE + "/no/such/route", 404)["code"] == "not_found"


def test_rbac_matrix_speaks_v1(v1):
    ops = Client(v1, "admin01").ok("GET", "/admin/rbac")["operations"]
    paths = {o["path"] for o in ops}
    assert {"/health", "/metrics", "/api/v1/auth/token", "/api/v1/ws/events"} <= paths
    assert {"/api/v1/inventory/items/{sku}/adjust", "/api/v1/production/jobs/{id}/claim"} <= paths
    assert {"/api/v1/planning/orders/{id}", "/api/v1/quality/inspections/{id}/result"} <= paths
    assert all(p.startswith(BASE + "/") for p in paths - {"/health", "/metrics"}), paths
    assert not any("/warehouse/stock" in p or "/work-orders" in p for p in paths)


def test_websocket_takes_access_token(v1):
    clerk = Client(v1, "warehouse02")
    ws_base = v1.url.replace("http://", "ws://")
    sock = websocket.create_connection(f"{ws_base}{BASE}/ws/events?access_token={clerk.token}", timeout=10)
    try:
        hello = json.loads(sock.recv())
        assert hello["type"] == "hello" and hello["user"]["username"] == "warehouse02"
        answer = clerk.ok("POST", "/inventory/items/FAB-000103/adjust", json={"delta": 2, "reason": "ws"})
        event = json.loads(sock.recv())
        assert event["type"] == "stock.adjusted" and event["by"] == "warehouse02"
        assert event["data"]["quantity"] == answer["on_hand"]  # event payloads pass through untouched
    finally:
        sock.close()
    for url in (
        f"{ws_base}{BASE}/ws/events?token={clerk.token}",
        f"{ws_base}/ws/events?access_token={clerk.token}",
    ):
        with pytest.raises(websocket.WebSocketBadStatusException) as e:
            websocket.create_connection(url, timeout=10)
        assert e.value.status_code == (401 if url.startswith(ws_base + BASE) else 404)


def test_faults_and_metrics_keep_working(v1):
    admin = Client(v1, "admin01")
    try:
        admin.ok("PUT", "/admin/faults", json={"error_rate": 1.0, "error_path": "^/dashboard$"})
        assert admin.error("GET", BASE + "/dashboard", 500) == {
            "code": "internal",
            "message": "injected fault: error_rate",
        }
        admin.ok(
            "PUT",
            "/admin/faults",
            json={"error_rate": 0, "malformed_rate": 1.0, "malformed_path": "^/dashboard$"},
        )
        r = admin.call("GET", BASE + "/dashboard")
        assert r.status_code == 200 and r.text.startswith('{"user":')
        with pytest.raises(ValueError):
            json.loads(r.text)  # truncated on purpose: passed through, not "translated"
    finally:
        admin.ok("PUT", "/admin/faults", json={"error_rate": 0, "malformed_rate": 0, "malformed_path": None})
    admin.ok("GET", "/inventory/items/FAB-000104")
    assert requests.get(v1.url + "/health", timeout=10).json()["status"] == "ok"
    assert requests.get(v1.url + BASE + "/health", timeout=10).status_code == 404
    assert requests.get(v1.url + BASE + "/metrics", timeout=10).status_code == 404
    text = requests.get(v1.url + "/metrics", timeout=10).text
    assert 'erp_http_requests_total{method="GET",path="/warehouse/stock/{sku}",status="200"}' in text
    assert 'erp_http_requests_total{method="GET",path="/dashboard",status="500"}' in text
    assert 'erp_faults_injected_total{kind="malformed"}' in text


def test_reference_dialect_is_unchanged(app_target):
    api = Api(app_target, "warehouse01")
    assert api.ok("GET", "/warehouse/stock", params={"page_size": 2})["page_size"] == 2
    r = api.get(BASE + "/inventory/items")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
