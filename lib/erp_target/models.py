"""Row -> JSON object shapes of the contract (MO, WO, QC, receipt, STOCK) and the paged-list helper."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from .db import Database, Tx
from .errors import not_found

MO_COLS = "id, number, style, product_sku, customer, quantity, due_date, status, created_at"
WO_COLS = "id, mo_id, department, quantity, quantity_done, status, assignee, updated_at"
QC_COLS = "id, mo_id, work_order_id, quantity, status, defects, inspector, updated_at"
RECEIPT_COLS = "id, mo_id, qc_test_id, sku, quantity, status, received_by, updated_at"
STOCK_COLS = "sku, name, quantity, location, updated_at"

Row = sqlite3.Row


def mo(row: Row) -> dict[str, Any]:
    """MO object."""
    return {
        k: row[k]
        for k in (
            "id",
            "number",
            "style",
            "product_sku",
            "customer",
            "quantity",
            "due_date",
            "status",
            "created_at",
        )
    }


def wo(row: Row) -> dict[str, Any]:
    """WO object."""
    return {
        k: row[k]
        for k in (
            "id",
            "mo_id",
            "department",
            "quantity",
            "quantity_done",
            "status",
            "assignee",
            "updated_at",
        )
    }


def qc(row: Row) -> dict[str, Any]:
    """QC test object."""
    return {
        k: row[k]
        for k in ("id", "mo_id", "work_order_id", "quantity", "status", "defects", "inspector", "updated_at")
    }


def receipt(row: Row) -> dict[str, Any]:
    """Receipt object."""
    return {
        k: row[k]
        for k in ("id", "mo_id", "qc_test_id", "sku", "quantity", "status", "received_by", "updated_at")
    }


def stock(row: Row) -> dict[str, Any]:
    """STOCK object."""
    return {k: row[k] for k in ("sku", "name", "quantity", "location", "updated_at")}


def get_wo(src: Database | Tx, wo_id: int) -> Row:
    """A work order row or 404."""
    row = src.one(f"SELECT {WO_COLS} FROM work_orders WHERE id = ?", (wo_id,))
    if row is None:
        raise not_found(f"work order {wo_id} does not exist")
    return row


def paged(
    db: Database,
    table: str,
    cols: str,
    where: Sequence[tuple[str, Any]],
    order: str,
    page: int,
    size: int,
    shape: Callable[[Row], dict[str, Any]],
    totals: dict[Any, int] | None = None,
) -> dict[str, Any]:
    """`{"items", "total", "page", "page_size"}` for `table` filtered by (sql, param) clauses.

    `totals` caches the count per filter: only for filters whose matches cannot change.
    """
    clauses = [sql for sql, _ in where]
    params: list[Any] = []
    for _, p in where:
        params.extend(p if isinstance(p, tuple) else (p,))
    cond = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    key = (cond, *params)
    total = totals.get(key) if totals is not None else None
    if total is None:
        total = db.scalar(f"SELECT count(*) FROM {table}{cond}", params)
        if totals is not None:
            if len(totals) >= 4096:
                totals.clear()
            totals[key] = total
    rows = db.query(
        f"SELECT {cols} FROM {table}{cond} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, size, (page - 1) * size],
    )
    return {"items": [shape(r) for r in rows], "total": total, "page": page, "page_size": size}


def like_escape(text: str) -> str:
    """Escape LIKE wildcards (used with ESCAPE '\\') so a search for '50%' means the text '50%'."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
