"""Admin blueprint: users, audit log, the RBAC matrix and the run-time fault switches."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from . import models, rbac
from .errors import ApiError, get_choice, json_body, paging, query_str
from .faults import FaultError
from .rbac import route
from .state import reply, state, user

bp = Blueprint("admin", __name__)


def _user_json(row: Any) -> dict[str, Any]:
    return {
        "username": row["username"],
        "role": row["role"],
        "department": row["department"],
        "active": bool(row["active"]),
    }


def _audit_json(row: Any) -> dict[str, Any]:
    return {k: row[k] for k in ("id", "at", "username", "action", "entity", "entity_id", "detail")}


@route(bp, "GET", "/admin/users")
def list_users() -> Response:
    """Accounts without any password material, by username."""
    page, size = paging()
    where: list[tuple[str, Any]] = []
    role = get_choice(query_str("role"), "role", rbac.ROLES)
    if role:
        where.append(("role = ?", role))
    return reply(
        models.paged(
            state().db,
            "users",
            "username, role, department, active",
            where,
            "username",
            page,
            size,
            _user_json,
        )
    )


@route(bp, "GET", "/admin/audit-log")
def audit_log() -> Response:
    """Newest first, optionally one action (e.g. `work_order.claim`)."""
    page, size = paging()
    where: list[tuple[str, Any]] = []
    action = query_str("action")
    if action:
        where.append(("action = ?", action))
    return reply(
        models.paged(
            state().db,
            "audit_log",
            "id, at, username, action, entity, entity_id, detail",
            where,
            "id DESC",
            page,
            size,
            _audit_json,
        )
    )


@route(bp, "GET", "/admin/rbac")
def rbac_matrix() -> Response:
    """The matrix the server enforces (the very same rows)."""
    return reply(rbac.matrix_json())


@route(bp, "GET", "/admin/faults")
def get_faults() -> Response:
    """Current fault switches."""
    return reply(state().faults.state.to_json())


@route(bp, "PUT", "/admin/faults")
def put_faults() -> Response:
    """Partial update, all-or-nothing; 422 names an unknown key or a bad value."""
    changes = json_body() if request.get_data(cache=True).strip() else {}
    st = state()
    try:
        new = st.faults.update(changes)
    except FaultError as e:
        raise ApiError(422, "validation", str(e), e.field) from None
    if changes:
        with st.db.write() as tx:
            tx.audit(
                user().username,
                "faults.update",
                "faults",
                "-",
                ", ".join(f"{k}={v}" for k, v in changes.items()),
            )
    return reply(new.to_json())
