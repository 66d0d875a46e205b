"""The reference ERP serves every row of docs/erp-api.md's Operations table, and its RBAC agrees; the
shipped reference API map (lib/erpload/api/reference.yaml) names exactly those rows, and its list
envelopes fit what the target answers.

The app runs in-process (Flask's test client): these are questions about what it answers, not about
the server. The contract parser and the client live in helpers.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from erpload.api import LIST_OPERATIONS, reference_map, stats_name

from helpers import OPERATIONS, ROLE_KEYS, USERS, Api, Row, allowed

UNMAPPED = {"GET /health", "GET /metrics"}  # operations endpoints: no role user calls them
CSV_ROWS = {"/warehouse/exports/stock", "/admin/audit-log/export", "/admin/rbac/report"}  # text/csv answers


def test_table_parsed():
    assert len(OPERATIONS) >= 27, [r.key for r in OPERATIONS]
    assert len({r.key for r in OPERATIONS}) == len(OPERATIONS), "duplicate rows"
    assert {r.method for r in OPERATIONS} <= {"GET", "POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(scope="module")
def sessions(app_target):
    return {k: Api(app_target, u) for k, u in USERS.items()}


def _sample_request(row: Row, sessions: dict[str, Api]) -> tuple[str, str, dict[str, Any]]:
    """(role key, concrete path, request kwargs) for an allowed role with real ids and a sane body."""
    admin = sessions["admin"]
    role = next(k for k in ROLE_KEYS if allowed(row, k, "cutting")) if row.auth else "admin"
    path, kw = row.path, {}
    if "{id}" in path:
        if path.startswith("/production/work-orders"):
            wo = admin.ok(
                "GET", "/production/work-orders", params={"department": "cutting", "status": "open"}
            )
            ident = wo["items"][0]["id"]
        elif path.startswith("/qc/"):
            ident = admin.ok("GET", "/qc/tests", params={"status": "pending"})["items"][0]["id"]
        elif path.startswith("/warehouse/receipts"):
            ident = admin.ok("GET", "/warehouse/receipts", params={"status": "pending"})["items"][0]["id"]
        else:
            ident = 1
        path = path.replace("{id}", str(ident))
    path = path.replace("{sku}", "FAB-000001")
    if row.method in ("POST", "PUT", "PATCH"):
        kw["json"] = {}
    return role, path, kw


@pytest.mark.parametrize("row", OPERATIONS, ids=[r.key for r in OPERATIONS])
def test_target_serves_row(app_target, sessions, row):
    role, path, kw = _sample_request(row, sessions)
    api = sessions[role] if row.auth else Api(app_target)
    r = api.call(row.method, path, **kw)
    assert r.status_code not in (404, 405), f"{row.key} as {role}: {r.status_code} {r.text[:200]}"
    assert r.status_code < 500, f"{row.key} as {role}: {r.status_code} {r.text[:200]}"
    if row.path in CSV_ROWS:  # CSV downloads (an error would still be JSON)
        assert r.headers["Content-Type"].startswith("text/csv"), r.headers["Content-Type"]
    elif row.path != "/metrics":
        assert r.headers["Content-Type"].startswith("application/json")


def test_rbac_endpoint_agrees_with_table(sessions):
    body = sessions["admin"].ok("GET", "/admin/rbac")
    served = {f"{o['method']} {o['path']}": o for o in body["operations"]}
    assert set(served) == {r.key for r in OPERATIONS}
    for row in OPERATIONS:
        op = served[row.key]
        assert op["auth"] == row.auth, row.key
        assert sorted(op["roles"]) == sorted(row.roles), row.key
        if row.department:
            assert op["department"] == row.department, row.key
    assert set(body["roles"]) == {"admin", "ppic", "operator", "qc", "warehouse"}


def test_reference_map_names_exactly_the_table_rows():
    m = reference_map()
    assert m.base_path == ""
    mapped = [f"{op.method} {op.path}" for op in m.operations.values()]
    login = f"{m.login.method} {m.login.path}"
    assert len(set(mapped)) == len(mapped), "two operations share a method and path"
    assert login not in mapped
    table = {r.key for r in OPERATIONS} - UNMAPPED
    assert set(mapped) - table == set(), "in the reference map, not in docs/erp-api.md's Operations table"
    assert table - {*mapped, login} == set(), (
        "in docs/erp-api.md's Operations table, not in the reference map"
    )
    assert all(op.stats_name == stats_name(op.path) for op in m.operations.values())


@pytest.mark.parametrize("name", sorted(LIST_OPERATIONS))
def test_reference_list_envelope_fits_the_target(sessions, name):
    m = reference_map()
    op = m.op(name)
    params = {"page_size": 2, **({"department": "cutting"} if name == "list_work_orders" else {})}
    body = sessions["admin"].ok(op.method, m.url_path(name), params=m.request_params(op, params))
    got, misfit = m.response(op, body)
    assert misfit is None, misfit
    assert 1 <= len(got["items"]) <= 2 and got["total"] >= len(got["items"]), got
