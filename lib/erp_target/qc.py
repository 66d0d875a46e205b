"""QC blueprint: the inspection queue and inspection results (pass -> receipt, fail -> rework)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from . import models, workflow
from .errors import get_bool, get_choice, get_int, get_str, json_body, paging, query_str
from .models import QC_COLS
from .rbac import route
from .state import reply, state, user

bp = Blueprint("qc", __name__)
QC_STATUSES = ("pending", "passed", "failed")


@route(bp, "GET", "/qc/tests")
def list_tests() -> Response:
    """Oldest first, optionally by status."""
    page, size = paging()
    where: list[tuple[str, Any]] = []
    status = get_choice(query_str("status"), "status", QC_STATUSES)
    if status:
        where.append(("status = ?", status))
    return reply(models.paged(state().db, "qc_tests", QC_COLS, where, "id", page, size, models.qc))


@route(bp, "POST", "/qc/tests/{id}/result")
def record_result(obj_id: int) -> Response:
    """Pass or fail a pending test; 409 if it already has a result."""
    body = json_body()
    passed = get_bool(body, "passed")
    defects = get_int(body, "defects", lo=0, hi=1_000_000)
    notes = get_str(body, "notes", required=False, max_len=2000, allow_empty=True)
    return reply(workflow.qc_result(state().db, obj_id, passed, defects or 0, notes, user().username))
