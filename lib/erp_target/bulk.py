"""Bulk blueprint: CSV import of work orders and bulk stock adjustments, both all-or-nothing with row errors.

Both validate every row first and answer 422 listing *every* bad row (`rows: [{"row", "field",
"detail"}]`, at most MAX_ROW_ERRORS) with nothing applied; otherwise everything is applied in one
transaction. Row numbers: a CSV file's rows count as a spreadsheet shows them (the header is row 1,
the first data row is row 2); a JSON list's entries count from 1.

Bulk stock adjustments are booked exactly like single ones (`POST /warehouse/stock/{sku}/adjust`):
one `stock_adjustments` row and one audit row per entry, each entry's optional `idempotency_key`
replaying its stored result, so a client's stock ledger stays the sum of the deltas it was confirmed.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from flask import Blueprint, Response, request

from . import workflow
from .catalog import DEPARTMENTS
from .db import Tx, now_iso
from .errors import ApiError, get_int, get_str, invalid, json_body
from .rbac import route
from .state import reply, state, user
from .warehouse import MAX_DELTA

bp = Blueprint("bulk", __name__)
CSV_TYPES = ("text/csv", "application/csv")
IMPORT_COLUMNS = ("mo_number", "department", "quantity")  # required; `note` optional
OPTIONAL_COLUMNS = ("note",)
MAX_IMPORT_ROWS = 10_000
MAX_BULK = 500
MAX_ROW_ERRORS = 1000
LOOKUP_CHUNK = 500  # SQLite host-parameter headroom for `IN (...)`


class RowsInvalid(ApiError):
    """422 (or 409) whose body also lists the bad rows: `rows`, `invalid_rows`, `truncated`."""

    def __init__(self, status: int, detail: str, rows: list[dict[str, Any]], invalid_rows: int, more: bool):
        super().__init__(status, "validation" if status == 422 else "conflict", detail, "rows")
        self.rows, self.invalid_rows, self.more = rows, invalid_rows, more

    def body(self) -> dict[str, Any]:
        return {
            **super().body(),
            "rows": self.rows,
            "invalid_rows": self.invalid_rows,
            "truncated": self.more,
        }


class RowErrors:
    """The row-level problems of one request, in row order."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.count = 0

    def add(self, row: int, field: str, detail: str) -> None:
        self.count += 1
        if len(self.rows) < MAX_ROW_ERRORS:
            self.rows.append({"row": row, "field": field, "detail": f"{field}: {detail}"})

    def raise_if_any(self, what: str, status: int = 422) -> None:
        """422 (or `status`) naming every bad row: "N <what> (rows 2, 7); nothing was applied ..."."""
        if not self.count:
            return
        bad = sorted({r["row"] for r in self.rows})
        listed = ", ".join(map(str, bad[:20])) + (", ..." if len(bad) > 20 else "")
        detail = f"{len(bad)} {what} (rows {listed}); nothing was applied: fix them and send it again"
        raise RowsInvalid(status, detail, self.rows, len(bad), self.count > len(self.rows))


def _csv_rows() -> tuple[list[str], list[list[str]]]:
    """The request body as CSV records (header row 1); 415 for another content type, 422 for a bad header."""
    ctype = (request.content_type or "").split(";", 1)[0].strip().lower()
    if ctype not in CSV_TYPES:
        raise ApiError(
            415, "unsupported_media_type", f"send the file as text/csv, got {ctype or 'no Content-Type'}"
        )
    try:
        text = request.get_data(cache=False).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise invalid("file", f"must be UTF-8 text ({e.reason} at byte {e.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in IMPORT_COLUMNS if c not in header]
    unknown = [h for h in header if h not in IMPORT_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise invalid(
            "header",
            f"row 1 must name the columns {', '.join(IMPORT_COLUMNS)} (optional: note) once each, "
            f"got {','.join(header) or '(empty file)'}",
        )
    records = list(reader)
    if not records:
        raise invalid("file", "has no data rows after the header")
    if len(records) > MAX_IMPORT_ROWS:
        raise invalid("file", f"at most {MAX_IMPORT_ROWS} data rows per import, got {len(records)}")
    return header, records


def _mo_ids(numbers: set[str]) -> dict[str, int]:
    db, out, ordered = state().db, {}, sorted(numbers)
    for i in range(0, len(ordered), LOOKUP_CHUNK):
        part = ordered[i : i + LOOKUP_CHUNK]
        marks = ",".join("?" * len(part))
        sql = f"SELECT number, id FROM manufacturing_orders WHERE number IN ({marks})"  # noqa: S608
        out.update({r[0]: r[1] for r in db.query(sql, part)})
    return out


@route(bp, "POST", "/production/work-orders/import")
def import_work_orders() -> Response:
    """A text/csv file of work orders (mo_number, department, quantity[, note]) -> open work orders."""
    header, records = _csv_rows()
    col = {c: header.index(c) for c in header}
    mos = _mo_ids({r[col["mo_number"]].strip() for r in records if len(r) == len(header)})
    errors, rows = RowErrors(), []
    for n, cells in enumerate(records, start=2):
        if len(cells) != len(header):
            errors.add(n, "row", f"has {len(cells)} cells, the header {len(header)} columns")
            continue
        rec = {c: cells[i] for c, i in col.items()}
        number, dept = rec["mo_number"].strip(), rec["department"].strip().lower()
        if number not in mos:
            errors.add(n, "mo_number", f"no manufacturing order {number!r}")
        if dept not in DEPARTMENTS:
            errors.add(n, "department", f"must be one of {', '.join(DEPARTMENTS)}, got {dept!r}")
        raw_qty = rec["quantity"].strip()
        qty = int(raw_qty) if raw_qty.isdigit() else 0
        if not 1 <= qty <= 100_000:
            errors.add(n, "quantity", f"must be an integer 1..100000, got {raw_qty!r}")
        note = (rec.get("note") or "").strip()
        if len(note) > 200:
            errors.add(n, "note", f"must be at most 200 characters, got {len(note)}")
        rows.append((mos.get(number, 0), dept, qty, note or None, number))
    errors.raise_if_any("rows are invalid")
    who = user().username
    with state().db.write() as tx:
        first = tx.one("SELECT COALESCE(max(id), 0) + 1 FROM work_orders")[0]
        now = now_iso()
        for i, (mo, dept, qty, note, number) in enumerate(rows):  # one transaction: the import is atomic
            tx.execute(
                "INSERT INTO work_orders (id, mo_id, department, quantity, quantity_done, status, note, "
                "rework, created_at, updated_at) VALUES (?,?,?,?,0,'open',?,0,?,?)",
                (first + i, mo, dept, qty, note, now, now),
            )
            tx.audit(
                who, "work_order.create", "work_order", first + i, f"imported {dept} for {number} x{qty}"
            )
    return reply({"imported": len(rows), "first_id": first, "last_id": first + len(rows) - 1}, 201)


def _entries(body: dict[str, Any]) -> list[tuple[str, int, str, str | None]]:
    """Validated (sku, delta, reason, key) per entry, or 422 listing every bad entry."""
    items = body.get("adjustments")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK:
        got = f"{len(items)} entries" if isinstance(items, list) else type(items).__name__
        raise invalid("adjustments", f"must be a list of 1..{MAX_BULK} adjustments, got {got}")
    errors, out = RowErrors(), []
    for n, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            errors.add(n, "row", f"must be an object {{sku, delta, reason}}, got {type(item).__name__}")
            continue
        try:
            sku = get_str(item, "sku", max_len=64)
            delta = get_int(item, "delta", lo=-MAX_DELTA, hi=MAX_DELTA)
            if delta == 0:
                raise invalid("delta", "must not be 0")
            reason = get_str(item, "reason", max_len=500)
            key = get_str(item, "idempotency_key", required=False, max_len=200)
        except ApiError as e:
            errors.add(n, e.field or "row", e.detail.split(": ", 1)[-1])
            continue
        assert sku is not None and delta is not None and reason is not None
        out.append((sku, delta, reason, key))
    errors.raise_if_any("adjustments are invalid")
    return out


def _apply(tx: Tx, sku: str, delta: int, reason: str, key: str | None, who: str) -> dict[str, Any] | str:
    """One adjustment inside the batch's transaction: its result, or what is wrong (sku / delta)."""
    replay = workflow._replay(tx, key, sku, delta, reason)  # 409 (ApiError) on a reused key
    if replay is not None:
        return replay
    now = now_iso()
    cur = tx.execute(
        "UPDATE stock_items SET quantity = quantity + ?, updated_at = ? WHERE sku = ? AND quantity + ? >= 0",
        (delta, now, sku, delta),
    )
    if cur.rowcount == 0:
        row = tx.one("SELECT quantity FROM stock_items WHERE sku = ?", (sku,))
        return (
            "sku: unknown SKU"
            if row is None
            else f"delta: would make the quantity negative ({row[0]} {delta:+d})"
        )
    quantity = tx.one("SELECT quantity FROM stock_items WHERE sku = ?", (sku,))[0]
    cur = tx.execute(
        "INSERT INTO stock_adjustments (sku, delta, reason, username, idempotency_key, at) VALUES (?,?,?,?,?,?)",
        (sku, delta, reason, who, key, now),
    )
    result = {
        "sku": sku,
        "quantity": quantity,
        "delta": delta,
        "adjustment_id": cur.lastrowid,
        "replayed": False,
    }
    tx.execute("UPDATE stock_adjustments SET response = ? WHERE id = ?", (json.dumps(result), cur.lastrowid))
    tx.audit(who, "stock.adjust", "stock_item", sku, f"{delta:+d} -> {quantity} (bulk: {reason[:100]})")
    return result


@route(bp, "POST", "/warehouse/adjustments")
def bulk_adjust() -> Response:
    """`{"adjustments": [{sku, delta, reason, idempotency_key?}, ...]}` applied atomically, in order."""
    entries = _entries(json_body())
    who = user().username
    results: list[dict[str, Any]] = []
    with state().db.write() as tx:
        errors, conflicts = RowErrors(), RowErrors()
        for n, (sku, delta, reason, key) in enumerate(entries, start=1):
            try:
                got = _apply(tx, sku, delta, reason, key, who)
            except ApiError as e:  # a reused idempotency key with another payload
                conflicts.add(n, "idempotency_key", e.detail)
                continue
            if isinstance(got, str):
                field, _, detail = got.partition(": ")
                errors.add(n, field, detail if field != "sku" else f"{detail} {sku!r}")
            else:
                results.append(got)
        conflicts.raise_if_any("adjustments reuse an idempotency key with another payload", 409)
        errors.raise_if_any("adjustments cannot be applied")  # raised inside the transaction: it rolls back
    applied = sum(not r["replayed"] for r in results)
    return reply({"applied": applied, "replayed": len(results) - applied, "results": results})
