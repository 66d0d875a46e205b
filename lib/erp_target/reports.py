"""Reports blueprint: POST /reports/production, work-order volume grouped by department, day or style."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response

from .errors import get_choice, get_date, invalid, json_body
from .rbac import route
from .state import reply, state

bp = Blueprint("reports", __name__)
GROUPS = {  # group_by -> SQL key expression (w = work_orders, m = manufacturing_orders)
    "department": "w.department",
    "day": "substr(w.created_at, 1, 10)",
    "style": "m.style",
}
MAX_DAYS = 366


@route(bp, "POST", "/reports/production")
def production_report() -> Response:
    """Work orders created between `from` and `to` (inclusive) with quantities, grouped."""
    body = json_body()
    start = get_date(body, "from")
    end = get_date(body, "to")
    if end < start:
        raise invalid("to", f"must not be before from ({start.isoformat()}), got {end.isoformat()}")
    if (end - start).days >= MAX_DAYS:
        raise invalid("to", f"the range may span at most {MAX_DAYS} days, got {(end - start).days + 1}")
    raw = body.get("group_by", "department")
    if not isinstance(raw, str):
        raise invalid("group_by", f"must be one of {', '.join(GROUPS)}, got {type(raw).__name__}")
    group = get_choice(raw, "group_by", tuple(GROUPS)) or "department"
    key = GROUPS[group]
    join = " JOIN manufacturing_orders m ON m.id = w.mo_id" if group == "style" else ""
    rows = state().db.query(
        f"SELECT {key} AS k, count(*), sum(w.quantity), sum(w.quantity_done) FROM work_orders w{join} "
        f"WHERE w.created_at >= ? AND w.created_at < ? GROUP BY k ORDER BY k",
        (start.isoformat(), (end + dt.timedelta(days=1)).isoformat()),
    )
    out = [
        {"key": r[0], "work_orders": r[1], "quantity": r[2] or 0, "quantity_done": r[3] or 0} for r in rows
    ]
    totals = {f: sum(r[f] for r in out) for f in ("work_orders", "quantity", "quantity_done")}
    return reply(
        {"from": start.isoformat(), "to": end.isoformat(), "group_by": group, "rows": out, "totals": totals}
    )
