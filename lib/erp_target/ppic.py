"""PPIC blueprint: manufacturing orders (search/list, create with its cutting WO, detail)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from . import models, search, workflow
from .errors import get_choice, get_date, get_int, get_str, json_body, not_found, paging, query_str
from .models import MO_COLS, WO_COLS, like_escape
from .rbac import route
from .state import reply, state, user

bp = Blueprint("ppic", __name__)
MO_STATUSES = ("planned", "in_progress", "completed")


@route(bp, "GET", "/ppic/manufacturing-orders")
def list_orders() -> Response:
    """Newest first; `q` matches number, style or customer (substring, case-insensitive)."""
    page, size = paging()
    where: list[tuple[str, Any]] = []
    status = get_choice(query_str("status"), "status", MO_STATUSES)
    if status:
        where.append(("status = ?", status))
    q = query_str("q")
    if q and search.usable(state().db, q):  # the trigram index (search.py), else the LIKE scan below
        return reply(search.list_orders(state().db, q, status, page, size))
    if q:
        pat = f"%{like_escape(q)}%"
        where.append(
            (
                "(number LIKE ? ESCAPE '\\' OR style LIKE ? ESCAPE '\\' OR customer LIKE ? ESCAPE '\\')",
                (pat, pat, pat),
            )
        )
    return reply(
        models.paged(state().db, "manufacturing_orders", MO_COLS, where, "id DESC", page, size, models.mo)
    )


@route(bp, "POST", "/ppic/manufacturing-orders")
def create_order() -> Response:
    """A planned MO plus its open cutting work order (201)."""
    body = json_body()
    fields = {
        "style": get_str(body, "style", max_len=100),
        "quantity": get_int(body, "quantity", lo=1, hi=100_000),
        "due_date": get_date(body, "due_date").isoformat(),
        "customer": get_str(body, "customer", required=False, max_len=200),
        "product_sku": get_str(body, "product_sku", required=False, max_len=64),
    }
    return reply(workflow.create_mo(state().db, fields, user().username), 201)


@route(bp, "GET", "/ppic/manufacturing-orders/{id}")
def get_order(obj_id: int) -> Response:
    """One MO with its work orders."""
    db = state().db
    row = db.one(f"SELECT {MO_COLS} FROM manufacturing_orders WHERE id = ?", (obj_id,))
    if row is None:
        raise not_found(f"manufacturing order {obj_id} does not exist")
    wos = db.query(f"SELECT {WO_COLS} FROM work_orders WHERE mo_id = ? ORDER BY id", (obj_id,))
    return reply({**models.mo(row), "work_orders": [models.wo(w) for w in wos]})
