"""The reference ERP serves every row of docs/erp-api.md's Operations table, and its RBAC agrees.

Also the home of the contract parser and the small client the test_target_* modules share.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT / "docs" / "erp-api.md"
ROLE_KEYS = ("admin", "ppic", "cutting", "sewing", "finishing", "qc", "warehouse")
OPERATOR_KEYS = ("cutting", "sewing", "finishing")
USERS = {
    "admin": "admin01",
    "ppic": "ppic01",
    "cutting": "cutting001",
    "sewing": "sewing001",
    "finishing": "finishing001",
    "qc": "qc01",
    "warehouse": "warehouse01",
}
ALL = ("admin", "ppic", "operator:*", "qc", "warehouse")  # what the table's "all" means


@dataclass(frozen=True)
class Row:
    """One row of the Operations table."""

    method: str
    path: str
    auth: bool
    roles: tuple[str, ...]
    department: str | None  # "operator:= (cutting)" -> cutting
    success: int

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def parse_roles(cell: str) -> tuple[bool, tuple[str, ...], str | None]:
    """A roles cell -> (auth required, role tokens, fixed department)."""
    cell = cell.strip()
    if cell == "(no auth)":
        return False, (), None
    if cell == "all":
        return True, ALL, None
    m = re.fullmatch(r"operator:= \((\w+)\)", cell)
    if m:
        return True, ("operator:=",), m.group(1)
    return True, tuple(t.strip() for t in cell.split(",")), None


def parse_operations(text: str) -> list[Row]:
    """Rows of the table under '## Operations' (method | path | roles | success | ...)."""
    section = text.split("\n## Operations", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "method" or set(cells[0]) <= {"-", " "}:
            continue
        auth, roles, dept = parse_roles(cells[2])
        rows.append(Row(cells[0], cells[1], auth, roles, dept, int(cells[3])))
    return rows


OPERATIONS = parse_operations(CONTRACT.read_text())
AUTH_ROWS = [r for r in OPERATIONS if r.auth]


def allowed(row: Row, role_key: str, request_department: str | None) -> bool:
    """Whether `role_key` gets 2xx on `row` when the request concerns `request_department`."""
    if role_key not in OPERATOR_KEYS:
        return role_key in row.roles
    if "operator:=" in row.roles:
        return (row.department or request_department) == role_key
    return "operator:*" in row.roles


class Api:
    """One keep-alive session, optionally logged in; every call has a timeout."""

    def __init__(self, target: Any, username: str | None = None, token: str | None = None):
        self.url = target.url
        self.session = requests.Session()
        if username or token:
            self.token = token or target.login(username)
            self.session.headers["Authorization"] = f"Bearer {self.token}"

    def call(self, method: str, path: str, timeout: float = 15, **kw: Any) -> requests.Response:
        return self.session.request(method, self.url + path, timeout=timeout, **kw)

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.call("POST", path, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        """Call, assert the status, return the JSON body."""
        r = self.call(method, path, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text[:300]}"
        return r.json()


def test_table_parsed():
    assert len(OPERATIONS) >= 27, [r.key for r in OPERATIONS]
    assert len({r.key for r in OPERATIONS}) == len(OPERATIONS), "duplicate rows"
    assert {r.method for r in OPERATIONS} <= {"GET", "POST", "PUT", "PATCH", "DELETE"}


@pytest.fixture(scope="module")
def sessions(target):
    return {k: Api(target, u) for k, u in USERS.items()}


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
def test_target_serves_row(target, sessions, row):
    role, path, kw = _sample_request(row, sessions)
    api = sessions[role] if row.auth else Api(target)
    r = api.call(row.method, path, **kw)
    assert r.status_code not in (404, 405), f"{row.key} as {role}: {r.status_code} {r.text[:200]}"
    assert r.status_code < 500, f"{row.key} as {role}: {r.status_code} {r.text[:200]}"
    if row.path != "/metrics":
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
