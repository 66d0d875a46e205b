"""Production blueprint: work-order queue, claim, progress notes and the cutting/sewing/finishing steps."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from . import models, workflow
from .errors import MAX_ID, get_choice, get_int, get_str, json_body, paging, query_str
from .models import WO_COLS
from .rbac import DEPARTMENTS, route
from .state import reply, state, user

bp = Blueprint("production", __name__)
WO_STATUSES = ("open", "in_progress", "done")


@route(bp, "GET", "/production/work-orders")
def list_work_orders() -> Response:
    """Oldest first (a queue); operators must name their own department (checked by the RBAC hook)."""
    page, size = paging()
    where: list[tuple[str, Any]] = []
    dept = get_choice(query_str("department"), "department", DEPARTMENTS)
    if dept:
        where.append(("department = ?", dept))
    status = get_choice(query_str("status"), "status", WO_STATUSES)
    if status:
        where.append(("status = ?", status))
    assignee = query_str("assignee")
    if assignee:
        where.append(("assignee = ?", assignee))
    return reply(models.paged(state().db, "work_orders", WO_COLS, where, "id", page, size, models.wo))


@route(bp, "POST", "/production/work-orders/{id}/claim")
def claim(obj_id: int) -> Response:
    """Take an open work order; 409 names the holder if someone was first."""
    return reply(workflow.claim(state().db, obj_id, user().username))


@route(bp, "PATCH", "/production/work-orders/{id}")
def update_work_order(obj_id: int) -> Response:
    """A progress note on a work order the caller holds."""
    text = get_str(json_body(), "note", max_len=2000)
    return reply(workflow.note(state().db, obj_id, text or "", user().username))


def _step(dept: str) -> Response:
    body = json_body()
    wo_id = get_int(body, "work_order_id", lo=1, hi=MAX_ID)
    qty = get_int(body, "quantity", lo=1, hi=1_000_000)
    assert wo_id is not None and qty is not None  # required=True above
    return reply(workflow.step(state().db, dept, wo_id, qty, user().username))


@route(bp, "POST", "/production/cutting")
def cutting() -> Response:
    """Record cut pieces on a held cutting WO."""
    return _step("cutting")


@route(bp, "POST", "/production/sewing")
def sewing() -> Response:
    """Record sewn pieces on a held sewing WO."""
    return _step("sewing")


@route(bp, "POST", "/production/finishing")
def finishing() -> Response:
    """Record finished pieces on a held finishing WO (done -> QC test)."""
    return _step("finishing")
