"""The RBAC matrix: one declarative table (method, path template -> roles) enforced and published."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint

from .errors import MAX_ID, forbidden

ROLES = ("admin", "ppic", "operator", "qc", "warehouse")
DEPARTMENTS = ("cutting", "sewing", "finishing")
ALL = ("admin", "ppic", "operator:*", "qc", "warehouse")  # the table's "all"

# Where an operator's department is checked against the request (the table's `operator:=`):
BY_WORK_ORDER = "work_order"  # the department of the work order named by the path's {id}
BY_QUERY = "query"  # the `department` query parameter (required for operators)
BY_ENDPOINT = "endpoint"  # fixed by the endpoint itself (e.g. POST /production/cutting)


@dataclass(frozen=True)
class Operation:
    """One row of the Operations table: who gets 2xx for `method path` (everyone else: 403)."""

    method: str
    path: str
    roles: tuple[str, ...] = ()
    auth: bool = True
    department: str | None = None  # for BY_ENDPOINT rows
    operator_scope: str | None = None  # BY_WORK_ORDER / BY_QUERY / BY_ENDPOINT, or None

    def to_json(self) -> dict[str, Any]:
        """This row as published by GET /admin/rbac."""
        return {
            "method": self.method,
            "path": self.path,
            "auth": self.auth,
            "roles": list(self.roles),
            "department": self.department,
            "operator_scope": self.operator_scope,
        }


def _op(method: str, path: str, *roles: str, dept: str | None = None, scope: str | None = None) -> Operation:
    return Operation(method, path, tuple(roles), True, dept, scope)


def _public(method: str, path: str) -> Operation:
    return Operation(method, path, (), False)


MATRIX: tuple[Operation, ...] = (
    _public("GET", "/health"),
    _public("GET", "/metrics"),
    _public("POST", "/auth/login"),
    _op("GET", "/auth/me", *ALL),
    _op("GET", "/dashboard", *ALL),
    _op("GET", "/ppic/manufacturing-orders", "admin", "ppic"),
    _op("POST", "/ppic/manufacturing-orders", "admin", "ppic"),
    _op("GET", "/ppic/manufacturing-orders/{id}", "admin", "ppic"),
    _op("GET", "/production/work-orders", "admin", "ppic", "operator:*", scope=BY_QUERY),
    _op("POST", "/production/work-orders/{id}/claim", "operator:=", scope=BY_WORK_ORDER),
    _op("PATCH", "/production/work-orders/{id}", "operator:=", scope=BY_WORK_ORDER),
    _op("POST", "/production/cutting", "operator:=", dept="cutting", scope=BY_ENDPOINT),
    _op("POST", "/production/sewing", "operator:=", dept="sewing", scope=BY_ENDPOINT),
    _op("POST", "/production/finishing", "operator:=", dept="finishing", scope=BY_ENDPOINT),
    _op("GET", "/qc/tests", "admin", "ppic", "qc"),
    _op("POST", "/qc/tests/{id}/result", "qc"),
    _op("GET", "/warehouse/receipts", "admin", "warehouse"),
    _op("POST", "/warehouse/receipts/{id}/receive", "warehouse"),
    _op("GET", "/warehouse/stock", "admin", "ppic", "warehouse"),
    _op("GET", "/warehouse/stock/{sku}", "admin", "ppic", "warehouse"),
    _op("POST", "/warehouse/stock/{sku}/adjust", "admin", "warehouse"),
    _op("POST", "/reports/production", "admin", "ppic"),
    # exports, imports, bulk (erp_target.exports, erp_target.bulk)
    _op("GET", "/warehouse/exports/stock", "admin", "ppic", "warehouse"),
    _op("GET", "/admin/audit-log/export", "admin"),
    _op("GET", "/admin/rbac/report", "admin"),
    _op("POST", "/production/work-orders/import", "admin", "ppic"),
    _op("POST", "/warehouse/adjustments", "admin", "warehouse"),
    _op("GET", "/admin/users", "admin"),
    _op("GET", "/admin/audit-log", "admin"),
    _op("GET", "/admin/rbac", "admin"),
    _op("GET", "/admin/faults", "admin"),
    _op("PUT", "/admin/faults", "admin"),
    _op("GET", "/ws/events", *ALL),
)
BY_KEY: dict[tuple[str, str], Operation] = {(o.method, o.path): o for o in MATRIX}
ENDPOINTS: dict[str, Operation] = {}  # Flask endpoint name -> row, filled by @route


@dataclass(frozen=True)
class Principal:
    """The caller, from a verified token."""

    username: str
    role: str
    department: str | None

    def to_json(self) -> dict[str, Any]:
        """`{"username", "role", "department"}` as in /auth/me."""
        return {"username": self.username, "role": self.role, "department": self.department}


def authorize(op: Operation, who: Principal, department: str | None) -> None:
    """Raise 403 unless `who` may call `op`; `department` is the request's (for operator rows)."""
    if who.role in op.roles:
        return
    if who.role == "operator":
        any_dept = "operator:*" in op.roles
        own_dept = "operator:=" in op.roles or (any_dept and op.operator_scope == BY_QUERY)
        if any_dept and not own_dept:
            return
        if own_dept:
            if department is not None and department == who.department:
                return
            raise forbidden(
                f"{who.department} operators may not {op.method} {op.path} for department "
                f"{department or '(none given)'}"
            )
    raise forbidden(f"role {who.role} may not {op.method} {op.path}")


def matrix_json() -> dict[str, Any]:
    """GET /admin/rbac: the very rows the server enforces."""
    return {
        "roles": list(ROLES),
        "departments": list(DEPARTMENTS),
        "operations": [o.to_json() for o in MATRIX],
    }


def flask_rule(path: str) -> str:
    """`/x/{id}` -> `/x/<int(max=...):obj_id>` (out-of-range ids 404 instead of overflowing SQLite)."""
    path = path.replace("{id}", f"<int(max={MAX_ID}):obj_id>")
    return re.sub(r"\{(\w+)\}", r"<\1>", path)


F = TypeVar("F", bound=Callable[..., Any])


def route(bp: Blueprint, method: str, path: str) -> Callable[[F], F]:
    """Register a view for a matrix row; a view without a row fails at import (nothing unguarded)."""
    op = BY_KEY.get((method, path))
    if op is None:
        raise LookupError(f"{method} {path} is not in the RBAC matrix")

    def deco(fn: F) -> F:
        ENDPOINTS[f"{bp.name}.{fn.__name__}"] = op
        bp.add_url_rule(flask_rule(path), view_func=fn, methods=[method])
        return fn

    return deco
