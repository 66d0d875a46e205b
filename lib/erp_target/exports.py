"""Exports blueprint: CSV downloads streamed in chunks (stock, a year of audit trail) and the RBAC matrix report.

The CSV exports answer `text/csv` with a generator: the body goes out chunked (no Content-Length) as
it is read, `CHUNK_ROWS` rows per query. Each chunk is its own query continuing after the last key
sent (keyset paging), so no SQLite cursor stays open while the greenlet yields to others between
chunks, and a write committed meanwhile never disturbs a running export. Query parameters are
checked before the first byte: a bad one is the usual JSON 422.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import gevent
from flask import Blueprint, Response, request

from . import rbac
from .db import Database, now_iso
from .errors import get_choice, get_date, invalid, query_int, query_str
from .models import like_escape
from .rbac import route
from .state import reply, state

bp = Blueprint("exports", __name__)
CHUNK_ROWS = 1000
MAX_EXPORT_ROWS = 100_000
MAX_DAYS = 366
STOCK_HEADER = ("sku", "name", "quantity", "location", "updated_at")
AUDIT_HEADER = ("id", "at", "username", "action", "entity", "entity_id", "detail")
YES, NO, OWN = "yes", "no", "own department"


def _csv_line(rows: Iterable[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


def csv_response(chunks: Iterator[bytes], filename: str) -> Response:
    """A streamed `text/csv` attachment (chunked transfer encoding: no Content-Length)."""
    return Response(
        chunks,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


def _keyset(
    db: Database, header: Sequence[str], sql: str, params: Sequence[Any], start: tuple[Any, ...], limit: int
) -> Iterator[bytes]:
    """The header line, then rows of `sql` (`... AND (key) > (?) ORDER BY key LIMIT ?`) chunk by chunk.

    `sql` selects the CSV columns followed by the key columns; `start` is a key below every row.
    """
    yield _csv_line([header])
    last, width, sent = start, len(header), 0
    while sent < limit:
        take = min(CHUNK_ROWS, limit - sent)
        rows = db.query(sql, [*params, *last, take])
        if not rows:
            return
        sent += len(rows)
        last = tuple(rows[-1])[width:]
        yield _csv_line([tuple(r)[:width] for r in rows])
        if len(rows) < take:
            return
        gevent.sleep(0)  # let other requests run between chunks


@route(bp, "GET", "/warehouse/exports/stock")
def stock_export() -> Response:
    """Stock items by SKU as CSV; `prefix` (SKU prefix), `location`, `limit` (1..100000)."""
    limit = query_int("limit", MAX_EXPORT_ROWS, 1, MAX_EXPORT_ROWS)
    where: list[str] = []
    params: list[Any] = []
    prefix = query_str("prefix", max_len=64)
    if prefix:
        where.append("sku LIKE ? ESCAPE '\\'")
        params.append(like_escape(prefix) + "%")
    location = query_str("location", max_len=64)
    if location:
        where.append("location = ?")
        params.append(location)
    where.append("sku > ?")  # the keyset: continues after the last SKU sent
    sql = (
        f"SELECT sku, name, quantity, location, updated_at, sku FROM stock_items "
        f"WHERE {' AND '.join(where)} ORDER BY sku LIMIT ?"
    )
    chunks = _keyset(state().db, STOCK_HEADER, sql, params, ("",), limit)
    return csv_response(chunks, "stock.csv")


def _date_range() -> tuple[dt.date, dt.date]:
    today = dt.datetime.now(dt.UTC).date()
    raw = {k: v for k in ("from", "to") if (v := request.args.get(k))}
    end = get_date(raw, "to") if "to" in raw else today
    start = get_date(raw, "from") if "from" in raw else end - dt.timedelta(days=364)
    if end < start:
        raise invalid("to", f"must not be before from ({start.isoformat()}), got {end.isoformat()}")
    if (end - start).days >= MAX_DAYS:
        raise invalid("to", f"the range may span at most {MAX_DAYS} days, got {(end - start).days + 1}")
    return start, end


@route(bp, "GET", "/admin/audit-log/export")
def audit_export() -> Response:
    """Audit-log rows with `at` in [from, to] (default: the last 365 days), oldest first, as CSV."""
    start, end = _date_range()
    params: list[Any] = [start.isoformat(), (end + dt.timedelta(days=1)).isoformat()]
    action_clause = ""
    action = query_str("action")
    if action:
        action_clause = " AND action = ?"
        params.append(action)
    sql = (
        "SELECT id, at, username, action, entity, entity_id, detail, at, id FROM audit_log "
        f"WHERE at >= ? AND at < ?{action_clause} AND (at, id) > (?, ?) ORDER BY at, id LIMIT ?"
    )
    chunks = _keyset(state().db, AUDIT_HEADER, sql, params, ("", 0), 10**12)
    return csv_response(chunks, f"audit-{start.isoformat()}-{end.isoformat()}.csv")


def _verdict(op: rbac.Operation, role: str, dept: str | None) -> str:
    """yes / no / own department: what `role` (of `dept`) gets on `op` under the enforced matrix."""
    who = rbac.Principal("-", role, dept)
    try:
        # the department the request concerns: the endpoint's own, else (best case) the caller's
        rbac.authorize(op, who, op.department if op.operator_scope == rbac.BY_ENDPOINT else dept)
        own = role == "operator" and op.operator_scope in (rbac.BY_QUERY, rbac.BY_WORK_ORDER)
        return OWN if own else YES
    except Exception:  # noqa: BLE001 - authorize raises the 403 ApiError: "no"
        return NO


@route(bp, "GET", "/admin/rbac/report")
def rbac_report() -> Response:
    """Every account against every authenticated operation (yes / no / own department); `format` csv|json."""
    fmt = get_choice(query_str("format"), "format", ("csv", "json")) or "csv"
    ops = [o for o in rbac.MATRIX if o.auth]
    names = [f"{o.method} {o.path}" for o in ops]
    users = state().db.query("SELECT username, role, department, active FROM users ORDER BY username")
    cache: dict[tuple[str, str | None], list[str]] = {}
    rows = []
    for u in users:
        key = (u["role"], u["department"])
        if key not in cache:
            cache[key] = [_verdict(o, *key) for o in ops]
        rows.append((u["username"], u["role"], u["department"] or "", int(u["active"]), cache[key]))
    if fmt == "json":
        return reply(
            {
                "generated_at": now_iso(),
                "operations": names,
                "users": [
                    {"username": n, "role": r, "department": d or None, "active": bool(a), "access": v}
                    for n, r, d, a, v in rows
                ],
            }
        )
    body = _csv_line([("username", "role", "department", "active", *names)])
    body += _csv_line([(n, r, d, a, *v) for n, r, d, a, v in rows])
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="rbac-matrix.csv"'},
    )
