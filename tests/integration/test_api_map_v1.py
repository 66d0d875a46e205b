"""examples/api-maps/v1.yaml fits the reference ERP in its v1 dialect (`python -m erp_target --dialect v1`).

Through the map's own translation functions (url_path, login_payload, read_login, auth_headers,
request_params, response, error_code) and plain `requests`: login, then one call per list operation,
a stock item by SKU, and an error answer; the reference map, against the same server, does not fit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from erpload.api import LIST_OPERATIONS, ApiMap, load_api_map, reference_map

from helpers import ROOT, SEED_PASSWORD, Target, copy_db

V1 = ROOT / "examples" / "api-maps" / "v1.yaml"
LIST_PARAMS = {"list_work_orders": {"department": "cutting"}}  # what the role users send besides the page


@pytest.fixture(scope="module")
def v1_target(tmp_path_factory: pytest.TempPathFactory, seeded_erp_db: Path):
    tmp = tmp_path_factory.mktemp("v1")
    t = Target(tmp, "--dialect", "v1", name="target-v1", db=copy_db(seeded_erp_db, tmp))
    yield t
    assert t.stop() == 0  # a clean shutdown on SIGINT


def login(target: Target, m: ApiMap, username: str) -> requests.Session:
    """Log in as the map says; a session sending the map's auth header."""
    payload = m.login_payload(username, SEED_PASSWORD)
    body: dict[str, Any] = {"data": payload} if m.login.encoding == "form" else {"json": payload}
    r = requests.request(m.login.method, target.url + m.base_path + m.login.path, timeout=10, **body)
    assert r.status_code == 200, f"login {username}: {r.status_code} {r.text[:200]}"
    got = m.read_login(r.json())
    assert isinstance(got, tuple), got
    token, ttl = got
    assert ttl > 0
    s = requests.Session()
    s.headers.update(m.auth_headers(token))
    return s


def call(target: Target, s: requests.Session, m: ApiMap, name: str, params: dict | None = None, **path: Any):
    op = m.op(name)
    return s.request(
        op.method, target.url + m.url_path(name, **path), params=m.request_params(op, params), timeout=10
    )


def test_login_and_one_call_per_list_operation(v1_target):
    m = load_api_map(V1)
    admin = login(v1_target, m, "admin01")  # admin may call every list operation
    for name in sorted(LIST_OPERATIONS):
        r = call(v1_target, admin, m, name, {"page_size": 2, **LIST_PARAMS.get(name, {})})
        assert r.status_code == 200, f"{name}: {r.status_code} {r.text[:200]}"
        body, misfit = m.response(m.op(name), r.json())
        assert misfit is None, f"{name}: {misfit}"
        assert isinstance(body["items"], list) and 1 <= len(body["items"]) <= 2, (name, body)
        assert isinstance(body["total"], int) and body["total"] >= len(body["items"]), (name, body)
    stock = call(v1_target, admin, m, "list_stock", {"page_size": 1})
    item = m.response(m.op("list_stock"), stock.json())[0]["items"][0]
    assert "quantity" in item and "on_hand" not in item, item  # response: {quantity: on_hand}
    one = call(v1_target, admin, m, "get_stock", sku=item["sku"])
    assert one.status_code == 200 and "on_hand" in one.json()
    assert m.response(m.op("get_stock"), one.json())[0]["quantity"] == one.json()["on_hand"]


def test_preflight_role_and_error_envelope(v1_target):
    m = load_api_map(V1)
    ppic = login(v1_target, m, "ppic01")  # the map's preflight: role ppic, list_orders
    r = call(v1_target, ppic, m, m.preflight_operation, {"page_size": 1})
    assert r.status_code == 200 and m.response(m.op(m.preflight_operation), r.json())[1] is None
    denied = call(v1_target, ppic, m, "list_users", {"page_size": 1})
    assert denied.status_code == 403
    assert m.error_code(denied.json()) == "forbidden", denied.text[:200]


def test_reference_map_does_not_fit_the_v1_dialect(v1_target):
    m = reference_map()
    r = requests.post(v1_target.url + m.login.path, json=m.login_payload("ppic01", SEED_PASSWORD), timeout=10)
    assert r.status_code == 404, r.text[:200]
    assert (
        m.error_code(r.json()) is None
    )  # v1 errors are {"error": {"code", "message"}}: no string at `error`
