"""Reference ERP auth: login, JWT claims, 401 for bad tokens and the full 403 matrix from the contract.

The app runs in-process (Flask's test client) with a known token secret.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from helpers import (
    AUTH_ROWS,
    OPERATOR_KEYS,
    ROLE_KEYS,
    SEED_PASSWORD,
    USERS,
    Api,
    AppTarget,
    Row,
    allowed,
    copy_db,
)

SECRET = (
    "integration-test-secret-0123456789abcdef"  # known secret: lets the tests mint expired and foreign tokens
)


@pytest.fixture(scope="module")
def target(tmp_path_factory, seeded_erp_db):
    t = AppTarget(copy_db(seeded_erp_db, tmp_path_factory.mktemp("auth")), jwt_secret=SECRET)
    yield t
    t.close()


@pytest.fixture(scope="module")
def world(target) -> dict[str, Any]:
    """Role sessions plus the objects the matrix cells act on (claimed WOs, pending tests...)."""
    s = {k: Api(target, u) for k, u in USERS.items()}
    admin = s["admin"]
    open_wos = {
        d: [
            w["id"]
            for w in admin.ok(
                "GET", "/production/work-orders", params={"department": d, "status": "open", "page_size": 40}
            )["items"]
        ]
        for d in OPERATOR_KEYS
    }
    held = {}
    for d in OPERATOR_KEYS:  # each operator holds one WO of their department for PATCH and step cells
        wo = open_wos[d].pop()
        s[d].ok("POST", f"/production/work-orders/{wo}/claim")
        held[d] = wo
    pending_qc = admin.ok("GET", "/qc/tests", params={"status": "pending"})["items"][0]["id"]
    pending_receipt = admin.ok("GET", "/warehouse/receipts", params={"status": "pending"})["items"][0]["id"]
    return {"s": s, "open": open_wos, "held": held, "qc": pending_qc, "receipt": pending_receipt}


def _cell_request(row: Row, role: str, w: dict[str, Any]) -> tuple[str, dict[str, Any], str | None]:
    """(path, kwargs, department the request concerns) for one matrix cell."""
    path, kw, dept = row.path, {}, None
    if row.path == "/production/work-orders/{id}/claim":
        dept = "cutting"
        path = path.replace("{id}", str(w["open"]["cutting"].pop()))
    elif row.path == "/production/work-orders/{id}":
        dept = "cutting"
        path = path.replace("{id}", str(w["held"]["cutting"]))
        kw["json"] = {"note": f"matrix cell {role}"}
    elif row.path in ("/production/cutting", "/production/sewing", "/production/finishing"):
        d = row.department or ""
        kw["json"] = {"work_order_id": w["held"][d], "quantity": 1}
    elif row.path == "/production/work-orders":
        kw["params"] = {"department": role} if role in OPERATOR_KEYS else {}
        dept = role if role in OPERATOR_KEYS else None
    elif row.path == "/qc/tests/{id}/result":
        path = path.replace("{id}", str(w["qc"]))
        kw["json"] = {"passed": True, "defects": 0}
    elif row.path == "/warehouse/receipts/{id}/receive":
        path = path.replace("{id}", str(w["receipt"]))
        kw["json"] = {"location": "WH1-A01-R01"}
    elif row.path == "/warehouse/stock/{sku}/adjust":
        path = path.replace("{sku}", "TRM-000042")
        kw["json"] = {"delta": 1, "reason": "rbac matrix"}
    elif row.path == "/ppic/manufacturing-orders" and row.method == "POST":
        kw["json"] = {"style": "TEE-001", "quantity": 10, "due_date": "2030-01-31"}
    elif row.path == "/reports/production":
        kw["json"] = {"from": "2026-01-01", "to": "2026-01-31", "group_by": "day"}
    elif row.path == "/production/work-orders/import":
        kw["data"] = b"mo_number,department,quantity\nMO-000001,cutting,10\n"
        kw["headers"] = {"Content-Type": "text/csv"}
    elif row.path == "/warehouse/adjustments":
        kw["json"] = {"adjustments": [{"sku": "TRM-000042", "delta": 1, "reason": "rbac matrix bulk"}]}
    elif row.method == "PUT":
        kw["json"] = {}
    path = path.replace("{id}", "1").replace("{sku}", "FAB-000001")
    return path, kw, dept


@pytest.mark.parametrize("role", ROLE_KEYS)
@pytest.mark.parametrize("row", AUTH_ROWS, ids=[r.key for r in AUTH_ROWS])
def test_rbac_matrix_cell(world, row, role):
    path, kw, dept = _cell_request(row, role, world)
    r = world["s"][role].call(row.method, path, **kw)
    if allowed(row, role, dept):
        # a WebSocket row answers 101 only to an upgrade; a plain, authorised GET gets the contract's 400
        expected = 400 if row.success == 101 else row.success
        assert r.status_code == expected, f"{role} {row.key}: {r.status_code} {r.text[:300]}"
    else:
        assert r.status_code == 403, f"{role} {row.key}: expected 403, got {r.status_code} {r.text[:200]}"
        assert r.json()["error"] == "forbidden"


def _token(claims: dict[str, Any], secret: str = SECRET, alg: str = "HS256") -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": "admin01", "role": "admin", "dept": None, "iat": now, "exp": now + 600, **claims},
        secret,
        algorithm=alg,
    )


BAD_AUTH = {
    "missing": None,
    "expired": "Bearer " + _token({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}),
    "forged": "Bearer " + _token({}, secret="not-the-server-secret-0123456789abcdef"),
    "malformed": "Bearer not.a.jwt",
    "alg-none": "Bearer "
    + jwt.encode({"sub": "admin01", "role": "admin", "exp": int(time.time()) + 600}, None, algorithm="none"),
    "not-bearer": "Basic YWRtaW4wMTplcnBsb2FkLWRlbW8=",
    "unknown-role": "Bearer " + _token({"role": "superuser"}),
}


@pytest.mark.parametrize("kind", BAD_AUTH)
@pytest.mark.parametrize("row", AUTH_ROWS, ids=[r.key for r in AUTH_ROWS])
def test_bad_token_is_401(target, row, kind):
    headers = {"Authorization": BAD_AUTH[kind]} if BAD_AUTH[kind] else {}
    path = row.path.replace("{id}", "1").replace("{sku}", "FAB-000001")
    r = Api(target).call(row.method, path, headers=headers, json={}, timeout=10)
    assert r.status_code == 401, f"{kind} on {row.key}: {r.status_code} {r.text[:200]}"
    assert r.json()["error"] == "unauthorized" and r.json()["detail"]


def test_valid_minted_token_is_accepted(target):
    """Control for the 401 cases: the same minting with the right secret works."""
    r = Api(target).get("/auth/me", headers={"Authorization": "Bearer " + _token({})}, timeout=10)
    assert r.status_code == 200 and r.json()["username"] == "admin01"


def test_login_returns_contract_shape_and_claims(target):
    r = Api(target).post("/auth/login", json={"username": "sewing042", "password": SEED_PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["user"] == {"username": "sewing042", "role": "operator", "department": "sewing"}
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == "sewing042" and claims["role"] == "operator" and claims["dept"] == "sewing"
    assert claims["exp"] - claims["iat"] == 3600


@pytest.mark.parametrize(
    "body,status,field",
    [
        ({"username": "admin01", "password": "wrong"}, 401, None),
        ({"username": "nobody", "password": SEED_PASSWORD}, 401, None),
        ({"username": "admin01"}, 422, "password"),
        ({"password": SEED_PASSWORD}, 422, "username"),
        ({"username": 7, "password": SEED_PASSWORD}, 422, "username"),
    ],
)
def test_login_rejections(target, body, status, field):
    r = Api(target).post("/auth/login", json=body, timeout=10)
    assert r.status_code == status, r.text
    assert r.json().get("field") == field


def test_every_seeded_role_can_log_in(target):
    for username in ("admin10", "ppic30", "cutting100", "sewing100", "finishing060", "qc60", "warehouse30"):
        assert target.login(username)


def test_login_is_fast(target):
    t0 = time.perf_counter()
    for _ in range(10):
        target.login("qc05")
    assert (time.perf_counter() - t0) / 10 < 0.05


def test_operator_work_order_list_needs_own_department(world):
    cutting = world["s"]["cutting"]
    assert cutting.get("/production/work-orders", params={"department": "sewing"}).status_code == 403
    assert cutting.get("/production/work-orders").status_code == 403
    items = cutting.ok("GET", "/production/work-orders", params={"department": "cutting"})["items"]
    assert items and {w["department"] for w in items} == {"cutting"}


def test_operator_cannot_claim_other_department(world):
    sewing_wo = world["open"]["sewing"].pop()
    r = world["s"]["cutting"].post(f"/production/work-orders/{sewing_wo}/claim")
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
