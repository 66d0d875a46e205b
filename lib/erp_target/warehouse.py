"""Warehouse blueprint: receipts, stock search/detail and idempotent stock adjustments."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from . import models, workflow
from .errors import get_choice, get_int, get_str, invalid, json_body, not_found, paging, query_str
from .models import RECEIPT_COLS, STOCK_COLS, like_escape
from .rbac import route
from .state import reply, state, user

bp = Blueprint("warehouse", __name__)
RECEIPT_STATUSES = ("pending", "received")
MAX_DELTA = 1_000_000_000  # keeps quantity + delta inside SQLite's integer range


@route(bp, "GET", "/warehouse/receipts")
def list_receipts() -> Response:
    """Oldest first, optionally by status."""
    page, size = paging()
    where: list[tuple[str, Any]] = []
    status = get_choice(query_str("status"), "status", RECEIPT_STATUSES)
    if status:
        where.append(("status = ?", status))
    return reply(models.paged(state().db, "receipts", RECEIPT_COLS, where, "id", page, size, models.receipt))


@route(bp, "POST", "/warehouse/receipts/{id}/receive")
def receive(obj_id: int) -> Response:
    """Receive a pending receipt into stock (optional put-away `location`)."""
    location = get_str(json_body(optional=True), "location", required=False, max_len=64)
    return reply(workflow.receive(state().db, obj_id, location, user().username))


@route(bp, "GET", "/warehouse/stock")
def list_stock() -> Response:
    """By SKU; `q` is a SKU prefix or a name substring, `location` an exact location."""
    page, size = paging()
    where: list[tuple[str, Any]] = []
    q = query_str("q")
    if q:
        esc = like_escape(q)
        where.append(("(sku LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\')", (f"{esc}%", f"%{esc}%")))
    location = query_str("location", max_len=64)
    if location:
        where.append(("location = ?", location))
    st = state()
    db = st.db
    totals = None
    if q and not location:
        # SKUs and names never change, so a text search's count only moves when an item is added:
        # key the cached counts by the highest rowid and skip a 50k-row scan on repeated searches.
        newest = db.scalar("SELECT max(rowid) FROM stock_items")
        if st.search_totals.get("rowid") != newest:
            st.search_totals.clear()
            st.search_totals["rowid"] = newest
        totals = st.search_totals
    return reply(models.paged(db, "stock_items", STOCK_COLS, where, "sku", page, size, models.stock, totals))


@route(bp, "GET", "/warehouse/stock/{sku}")
def get_stock(sku: str) -> Response:
    """One stock item; 404 for an unknown SKU."""
    row = state().db.one(f"SELECT {STOCK_COLS} FROM stock_items WHERE sku = ?", (sku,))
    if row is None:
        raise not_found(f"stock item {sku!r} does not exist")
    return reply(models.stock(row))


@route(bp, "POST", "/warehouse/stock/{sku}/adjust")
def adjust(sku: str) -> Response:
    """quantity += delta, exactly once per Idempotency-Key (a replay answers the stored result)."""
    body = json_body()
    delta = get_int(body, "delta", lo=-MAX_DELTA, hi=MAX_DELTA)
    if delta == 0:
        raise invalid("delta", "must not be 0")
    reason = get_str(body, "reason", max_len=500)
    header = request.headers.get("Idempotency-Key")
    key = get_str(body, "idempotency_key", required=False, max_len=200)
    if header is not None:
        header = get_str({"Idempotency-Key": header}, "Idempotency-Key", max_len=200)
        if key is not None and key != header:
            raise invalid("idempotency_key", "differs from the Idempotency-Key header")
        key = header
    st = state()
    assert delta is not None and reason is not None
    return reply(workflow.adjust(st.db, sku, delta, reason, key, user().username, st.faults.state.racy_stock))
