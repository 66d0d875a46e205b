"""Dashboard blueprint: GET /dashboard, the landing page's counters (scoped to an operator's department)."""

from __future__ import annotations

from flask import Blueprint, Response

from .catalog import LOW_STOCK
from .db import now_iso
from .rbac import route
from .state import reply, state, user

bp = Blueprint("dashboard", __name__)


@route(bp, "GET", "/dashboard")
def dashboard() -> Response:
    """Cards of counts; every query is an indexed count (no table scans)."""
    db = state().db
    who = user()
    if who.role == "operator":
        rows = db.query(
            "SELECT status, count(*) FROM work_orders WHERE department = ? "
            "AND status IN ('open', 'in_progress') GROUP BY status",
            (who.department,),
        )
    else:
        rows = db.query(
            "SELECT status, count(*) FROM work_orders WHERE status IN ('open', 'in_progress') GROUP BY status"
        )
    wo = {r[0]: r[1] for r in rows}
    cards = {
        "open_work_orders": wo.get("open", 0),
        "in_progress_work_orders": wo.get("in_progress", 0),
        "pending_qc": db.scalar("SELECT count(*) FROM qc_tests WHERE status = 'pending'"),
        "pending_receipts": db.scalar("SELECT count(*) FROM receipts WHERE status = 'pending'"),
        "open_manufacturing_orders": db.scalar(
            "SELECT count(*) FROM manufacturing_orders WHERE status IN ('planned', 'in_progress')"
        ),
        "low_stock_items": db.scalar("SELECT count(*) FROM stock_items WHERE quantity < ?", (LOW_STOCK,)),
    }
    return reply({"user": who.to_json(), "role": who.role, "cards": cards, "generated_at": now_iso()})
