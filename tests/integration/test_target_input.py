"""Bad input gets a 4xx JSON error naming the field — never a 500 or a traceback.

The cases run against the app in-process (Flask's test client); the garbage request line needs the
real server's socket, so that one test starts the target process.
"""

from __future__ import annotations

import socket

import pytest
import requests

from helpers import USERS, Api

# (role, method, path, json body or raw bytes, status, error code, field)
CASES = [
    ("ppic", "POST", "/ppic/manufacturing-orders", b'{"style": "TEE",', 400, "bad_request", None),
    ("ppic", "POST", "/ppic/manufacturing-orders", b"[1, 2]", 400, "bad_request", None),
    ("ppic", "POST", "/ppic/manufacturing-orders", b"", 400, "bad_request", None),
    ("ppic", "POST", "/ppic/manufacturing-orders", b"\xff\xfe\x00", 400, "bad_request", None),
    ("ppic", "POST", "/ppic/manufacturing-orders", b"[" * 100_000 + b"]" * 100_000, 400, "bad_request", None),
    (
        "ppic",
        "POST",
        "/ppic/manufacturing-orders",
        {"quantity": 5, "due_date": "2030-01-01"},
        422,
        "validation",
        "style",
    ),
    (
        "ppic",
        "POST",
        "/ppic/manufacturing-orders",
        {"style": "TEE", "quantity": "5", "due_date": "2030-01-01"},
        422,
        "validation",
        "quantity",
    ),
    (
        "ppic",
        "POST",
        "/ppic/manufacturing-orders",
        {"style": "TEE", "quantity": 0, "due_date": "2030-01-01"},
        422,
        "validation",
        "quantity",
    ),
    (
        "ppic",
        "POST",
        "/ppic/manufacturing-orders",
        {"style": "TEE", "quantity": 100_001, "due_date": "2030-01-01"},
        422,
        "validation",
        "quantity",
    ),
    (
        "ppic",
        "POST",
        "/ppic/manufacturing-orders",
        {"style": "TEE", "quantity": 5, "due_date": "2030-02-30"},
        422,
        "validation",
        "due_date",
    ),
    (
        "ppic",
        "POST",
        "/ppic/manufacturing-orders",
        {"style": "TEE", "quantity": 5, "due_date": 20300101},
        422,
        "validation",
        "due_date",
    ),
    (
        "ppic",
        "POST",
        "/ppic/manufacturing-orders",
        {"style": ["TEE"], "quantity": 5, "due_date": "2030-01-01"},
        422,
        "validation",
        "style",
    ),
    (
        "ppic",
        "POST",
        "/ppic/manufacturing-orders",
        {"style": "TEE", "quantity": 5, "due_date": "2030-01-01", "product_sku": "NOPE-9"},
        422,
        "validation",
        "product_sku",
    ),
    (
        "cutting",
        "POST",
        "/production/cutting",
        {"work_order_id": "12", "quantity": 1},
        422,
        "validation",
        "work_order_id",
    ),
    (
        "cutting",
        "POST",
        "/production/cutting",
        {"work_order_id": 12, "quantity": -3},
        422,
        "validation",
        "quantity",
    ),
    (
        "cutting",
        "POST",
        "/production/cutting",
        {"work_order_id": 2**70, "quantity": 1},
        422,
        "validation",
        "work_order_id",
    ),
    (
        "cutting",
        "POST",
        "/production/cutting",
        {"work_order_id": 99_999_999, "quantity": 1},
        404,
        "not_found",
        None,
    ),
    ("cutting", "PATCH", "/production/work-orders/1", {"note": 42}, 422, "validation", "note"),
    ("qc", "POST", "/qc/tests/1/result", {"passed": "yes", "defects": 0}, 422, "validation", "passed"),
    ("qc", "POST", "/qc/tests/1/result", {"passed": True, "defects": -1}, 422, "validation", "defects"),
    ("qc", "POST", "/qc/tests/99999999/result", {"passed": True, "defects": 0}, 404, "not_found", None),
    ("warehouse", "POST", "/warehouse/receipts/99999999/receive", {}, 404, "not_found", None),
    ("warehouse", "POST", "/warehouse/receipts/1/receive", {"location": 5}, 422, "validation", "location"),
    (
        "warehouse",
        "POST",
        "/warehouse/stock/NOPE-1/adjust",
        {"delta": 1, "reason": "x"},
        404,
        "not_found",
        None,
    ),
    (
        "warehouse",
        "POST",
        "/warehouse/stock/FAB-000001/adjust",
        {"delta": None, "reason": "x"},
        422,
        "validation",
        "delta",
    ),
    ("warehouse", "GET", "/warehouse/stock/NOPE-1", None, 404, "not_found", None),
    ("warehouse", "GET", "/warehouse/stock?page=0", None, 422, "validation", "page"),
    ("warehouse", "GET", "/warehouse/stock?page_size=201", None, 422, "validation", "page_size"),
    ("warehouse", "GET", "/warehouse/stock?page_size=abc", None, 422, "validation", "page_size"),
    ("warehouse", "GET", "/warehouse/stock?q=%25_%5C", None, 200, None, None),
    ("warehouse", "GET", "/warehouse/receipts?status=lost", None, 422, "validation", "status"),
    ("ppic", "GET", "/ppic/manufacturing-orders/99999999", None, 404, "not_found", None),
    ("ppic", "GET", "/ppic/manufacturing-orders/99999999999999999999999", None, 404, "not_found", None),
    ("ppic", "GET", "/ppic/manufacturing-orders/abc", None, 404, "not_found", None),
    ("ppic", "GET", "/ppic/manufacturing-orders?status=lost", None, 422, "validation", "status"),
    (
        "ppic",
        "POST",
        "/reports/production",
        {"from": "2026-02-01", "to": "2026-01-01"},
        422,
        "validation",
        "to",
    ),
    (
        "ppic",
        "POST",
        "/reports/production",
        {"from": "2026-01-01", "to": "2026-01-31", "group_by": "color"},
        422,
        "validation",
        "group_by",
    ),
    (
        "ppic",
        "POST",
        "/reports/production",
        {"from": "yesterday", "to": "2026-01-31"},
        422,
        "validation",
        "from",
    ),
    ("admin", "GET", "/admin/users?role=wizard", None, 422, "validation", "role"),
    ("admin", "PUT", "/admin/faults", b"{nope", 400, "bad_request", None),
    ("admin", "DELETE", "/admin/faults", None, 405, "method_not_allowed", None),
    ("admin", "GET", "/no/such/thing", None, 404, "not_found", None),
]


@pytest.fixture(scope="module")
def sessions(app_target) -> dict[str, Api]:
    return {k: Api(app_target, u) for k, u in USERS.items()}


@pytest.mark.parametrize(
    "role,method,path,body,status,code,field",
    CASES,
    ids=[f"{c[1]} {c[2][:40]} {c[4]} {c[6] or c[5]}" for c in CASES],
)
def test_bad_input(sessions, role, method, path, body, status, code, field):
    kw = (
        {"data": body, "headers": {"Content-Type": "application/json"}}
        if isinstance(body, bytes)
        else {"json": body}
    )
    r = sessions[role].call(method, path, **kw)
    assert r.status_code == status, f"{r.status_code} {r.text[:300]}"
    assert r.headers["Content-Type"].startswith("application/json")
    if code:
        err = r.json()
        assert err["error"] == code and isinstance(err["detail"], str) and err["detail"]
        assert err.get("field") == field
        if field:
            assert field in err["detail"], "the detail names the field too"


def test_oversized_body_is_rejected(sessions):
    r = sessions["ppic"].call(
        "POST",
        "/ppic/manufacturing-orders",
        data=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_garbage_request_line_does_not_kill_the_server(target):
    with socket.create_connection(("127.0.0.1", target.port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        s.recv(1024)
    assert requests.get(target.url + "/health", timeout=5).status_code == 200


def test_no_traceback_in_target_output(app_target, target, sessions):
    # Runs last in this module: every case above has been answered by now (the app's log in-process,
    # the server's output for the garbage request line).
    assert "Traceback" not in app_target.output
    assert "Traceback" not in target.proc.output
