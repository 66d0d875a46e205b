"""The production lifecycle as transactions: claim, steps, QC result, receipt, stock adjust, new MO."""

from __future__ import annotations

import json
import zlib
from typing import Any

import gevent

from . import models
from .db import Database, Tx, now_iso
from .errors import conflict, invalid, not_found
from .models import QC_COLS, RECEIPT_COLS, STOCK_COLS, WO_COLS

NEXT_DEPARTMENT = {"cutting": "sewing", "sewing": "finishing"}
RACE_WINDOW_S = 0.02  # racy_stock: time between the read and the write in which other adjusts interleave


def _holder(row: Any) -> str:
    if row["status"] == "in_progress":
        return f"work order {row['id']} is in_progress, held by {row['assignee']}"
    if row["status"] == "done":
        return f"work order {row['id']} is done (last held by {row['assignee']})"
    return f"work order {row['id']} is open: claim it first"


def _new_wo(tx: Tx, mo_id: int, dept: str, qty: int, who: str, rework: bool = False) -> int:
    now = now_iso()
    cur = tx.execute(
        "INSERT INTO work_orders (mo_id, department, quantity, quantity_done, status, rework, "
        "created_at, updated_at) VALUES (?,?,?,0,'open',?,?,?)",
        (mo_id, dept, qty, int(rework), now, now),
    )
    wo_id = int(cur.lastrowid or 0)
    tx.audit(
        who,
        "work_order.create",
        "work_order",
        wo_id,
        f"{'rework ' if rework else ''}{dept} work order for MO {mo_id} x{qty}",
    )
    return wo_id


def claim(db: Database, wo_id: int, who: str) -> dict[str, Any]:
    """open -> in_progress by a conditional UPDATE: exactly one concurrent claimer wins, the rest get 409."""
    with db.write() as tx:
        cur = tx.execute(
            "UPDATE work_orders SET status = 'in_progress', assignee = ?, updated_at = ? "
            "WHERE id = ? AND status = 'open'",
            (who, now_iso(), wo_id),
        )
        row = models.get_wo(tx, wo_id)
        if cur.rowcount != 1:
            raise conflict(_holder(row))
        tx.execute(
            "UPDATE manufacturing_orders SET status = 'in_progress' WHERE id = ? AND status = 'planned'",
            (row["mo_id"],),
        )
        tx.audit(who, "work_order.claim", "work_order", wo_id, f"{row['department']} claimed by {who}")
    return models.wo(row)


def note(db: Database, wo_id: int, text: str, who: str) -> dict[str, Any]:
    """A progress note on a work order the caller holds (else 409)."""
    with db.write() as tx:
        row = models.get_wo(tx, wo_id)
        if row["status"] != "in_progress" or row["assignee"] != who:
            raise conflict(f"{_holder(row)}; only its holder may update it")
        tx.execute("UPDATE work_orders SET note = ?, updated_at = ? WHERE id = ?", (text, now_iso(), wo_id))
        tx.audit(who, "work_order.note", "work_order", wo_id, text[:200])
        row = models.get_wo(tx, wo_id)
    return models.wo(row)


def step(db: Database, dept: str, wo_id: int, qty: int, who: str) -> dict[str, Any]:
    """Record `qty` pieces on a held WO; when it is finished, create the next WO or the QC test."""
    nxt: dict[str, Any] | None = None
    with db.write() as tx:
        row = models.get_wo(tx, wo_id)
        if row["department"] != dept:
            raise invalid(
                "work_order_id", f"work order {wo_id} is a {row['department']} work order, not {dept}"
            )
        if row["status"] != "in_progress" or row["assignee"] != who:
            raise conflict(f"{_holder(row)}; only its holder may record {dept}")
        left = row["quantity"] - row["quantity_done"]
        if qty > left:
            raise invalid("quantity", f"{qty} is more than the {left} left on work order {wo_id}")
        done = row["quantity_done"] + qty
        status = "done" if done == row["quantity"] else "in_progress"
        tx.execute(
            "UPDATE work_orders SET quantity_done = ?, status = ?, updated_at = ? WHERE id = ?",
            (done, status, now_iso(), wo_id),
        )
        tx.audit(who, f"work_order.{dept}", "work_order", wo_id, f"+{qty} ({done}/{row['quantity']})")
        if status == "done":
            tx.audit(who, "work_order.done", "work_order", wo_id, f"{dept} done")
            if dept in NEXT_DEPARTMENT:
                nd = NEXT_DEPARTMENT[dept]
                nxt = {
                    "type": "work_order",
                    "id": _new_wo(tx, row["mo_id"], nd, row["quantity"], who),
                    "department": nd,
                }
            else:
                cur = tx.execute(
                    "INSERT INTO qc_tests (mo_id, work_order_id, quantity, status, updated_at) "
                    "VALUES (?,?,?,'pending',?)",
                    (row["mo_id"], wo_id, row["quantity"], now_iso()),
                )
                nxt = {"type": "qc_test", "id": cur.lastrowid}
                tx.audit(who, "qc_test.create", "qc_test", cur.lastrowid, f"for work order {wo_id}")
        row = models.get_wo(tx, wo_id)
    return {"work_order": models.wo(row), "next": nxt}


def qc_result(
    db: Database, test_id: int, passed: bool, defects: int, notes: str | None, who: str
) -> dict[str, Any]:
    """pending -> passed (creates a receipt) or failed (creates a finishing rework WO)."""
    with db.write() as tx:
        row = tx.one(f"SELECT {QC_COLS} FROM qc_tests WHERE id = ?", (test_id,))
        if row is None:
            raise not_found(f"QC test {test_id} does not exist")
        if row["status"] != "pending":
            raise conflict(f"QC test {test_id} is already {row['status']} (by {row['inspector']})")
        status = "passed" if passed else "failed"
        tx.execute(
            "UPDATE qc_tests SET status = ?, defects = ?, inspector = ?, notes = ?, updated_at = ? "
            "WHERE id = ?",
            (status, defects, who, notes, now_iso(), test_id),
        )
        tx.audit(who, f"qc_test.{status}", "qc_test", test_id, f"{defects} defects")
        if passed:
            sku = tx.one("SELECT product_sku FROM manufacturing_orders WHERE id = ?", (row["mo_id"],))
            cur = tx.execute(
                "INSERT INTO receipts (mo_id, qc_test_id, sku, quantity, status, updated_at) "
                "VALUES (?,?,?,?,'pending',?)",
                (row["mo_id"], test_id, sku[0] if sku else "", row["quantity"], now_iso()),
            )
            nxt: dict[str, Any] = {"type": "receipt", "id": cur.lastrowid}
            tx.audit(who, "receipt.create", "receipt", cur.lastrowid, f"for QC test {test_id}")
        else:
            wo_id = _new_wo(tx, row["mo_id"], "finishing", row["quantity"], who, rework=True)
            nxt = {"type": "work_order", "id": wo_id, "department": "finishing"}
        row = tx.one(f"SELECT {QC_COLS} FROM qc_tests WHERE id = ?", (test_id,))
    return {"test": models.qc(row), "next": nxt}


def receive(db: Database, receipt_id: int, location: str | None, who: str) -> dict[str, Any]:
    """pending -> received: stock[sku] += quantity and the MO is completed."""
    with db.write() as tx:
        row = tx.one(f"SELECT {RECEIPT_COLS} FROM receipts WHERE id = ?", (receipt_id,))
        if row is None:
            raise not_found(f"receipt {receipt_id} does not exist")
        if row["status"] != "pending":
            raise conflict(f"receipt {receipt_id} is already received (by {row['received_by']})")
        now = now_iso()
        tx.execute(
            "UPDATE receipts SET status = 'received', received_by = ?, updated_at = ? WHERE id = ?",
            (who, now, receipt_id),
        )
        cur = tx.execute(
            "UPDATE stock_items SET quantity = quantity + ?, location = COALESCE(?, location), "
            "updated_at = ? WHERE sku = ?",
            (row["quantity"], location, now, row["sku"]),
        )
        if cur.rowcount == 0:  # a finished good nobody stocked yet: start its stock line here
            tx.execute(
                "INSERT INTO stock_items VALUES (?,?,?,?,?)",
                (row["sku"], row["sku"], row["quantity"], location or "RECEIVING", now),
            )
        tx.execute("UPDATE manufacturing_orders SET status = 'completed' WHERE id = ?", (row["mo_id"],))
        tx.audit(who, "receipt.received", "receipt", receipt_id, f"+{row['quantity']} {row['sku']}")
        tx.audit(
            who, "mo.completed", "manufacturing_order", row["mo_id"], f"received as receipt {receipt_id}"
        )
        row = tx.one(f"SELECT {RECEIPT_COLS} FROM receipts WHERE id = ?", (receipt_id,))
        item = tx.one(f"SELECT {STOCK_COLS} FROM stock_items WHERE sku = ?", (row["sku"],))
    return {"receipt": models.receipt(row), "stock": models.stock(item)}


def _replay(tx: Tx, key: str | None, sku: str, delta: int, reason: str) -> dict[str, Any] | None:
    """The stored result of an earlier adjust with this key (409 if its payload differs)."""
    if key is None:
        return None
    prev = tx.one(
        "SELECT sku, delta, reason, response FROM stock_adjustments WHERE idempotency_key = ?", (key,)
    )
    if prev is None:
        return None
    if (prev["sku"], prev["delta"], prev["reason"]) != (sku, delta, reason):
        raise conflict(
            f"Idempotency-Key {key!r} was already used for a different adjustment "
            f"({prev['sku']} {prev['delta']:+d})"
        )
    return {**json.loads(prev["response"]), "replayed": True}


def adjust(
    db: Database, sku: str, delta: int, reason: str, key: str | None, who: str, racy: bool = False
) -> dict[str, Any]:
    """Atomic `quantity = quantity + delta` plus the idempotency row, in one transaction.

    With `racy` (the racy_stock fault) it reads, yields, then writes read+delta: concurrent adjusts
    overwrite each other, which is exactly the lost-update bug a load test should catch.
    """
    stale: int | None = None
    if racy:
        row = db.one("SELECT quantity FROM stock_items WHERE sku = ?", (sku,))
        if row is None:
            raise not_found(f"stock item {sku!r} does not exist")
        stale = row[0]
        gevent.sleep(RACE_WINDOW_S)
    with db.write() as tx:
        replay = _replay(tx, key, sku, delta, reason)
        if replay is not None:
            return replay
        now = now_iso()
        if stale is not None:
            if stale + delta < 0:
                raise invalid("delta", f"would make the quantity of {sku} negative ({stale} {delta:+d})")
            cur = tx.execute(
                "UPDATE stock_items SET quantity = ?, updated_at = ? WHERE sku = ?", (stale + delta, now, sku)
            )
        else:
            cur = tx.execute(
                "UPDATE stock_items SET quantity = quantity + ?, updated_at = ? "
                "WHERE sku = ? AND quantity + ? >= 0",
                (delta, now, sku, delta),
            )
        if cur.rowcount == 0:
            row = tx.one("SELECT quantity FROM stock_items WHERE sku = ?", (sku,))
            if row is None:
                raise not_found(f"stock item {sku!r} does not exist")
            raise invalid("delta", f"would make the quantity of {sku} negative ({row[0]} {delta:+d})")
        quantity = tx.one("SELECT quantity FROM stock_items WHERE sku = ?", (sku,))[0]
        cur = tx.execute(
            "INSERT INTO stock_adjustments (sku, delta, reason, username, idempotency_key, at) "
            "VALUES (?,?,?,?,?,?)",
            (sku, delta, reason, who, key, now),
        )
        result = {
            "sku": sku,
            "quantity": quantity,
            "delta": delta,
            "adjustment_id": cur.lastrowid,
            "replayed": False,
        }
        tx.execute(
            "UPDATE stock_adjustments SET response = ? WHERE id = ?", (json.dumps(result), cur.lastrowid)
        )
        tx.audit(who, "stock.adjust", "stock_item", sku, f"{delta:+d} -> {quantity} ({reason[:100]})")
    return result


def default_product_sku(style: str) -> str:
    """A stable finished-good SKU for a style when the MO names none."""
    return f"FG-{zlib.crc32(style.encode()) % 10_000 + 1:06d}"


def create_mo(db: Database, fields: dict[str, Any], who: str) -> dict[str, Any]:
    """A planned MO plus its open cutting WO."""
    sku = fields["product_sku"] or default_product_sku(fields["style"])
    if db.one("SELECT 1 FROM stock_items WHERE sku = ?", (sku,)) is None:
        raise invalid("product_sku", f"unknown SKU {sku!r} (finished goods are FG-000001 .. FG-010000)")
    with db.write() as tx:
        mo_id = tx.one("SELECT COALESCE(max(id), 0) + 1 FROM manufacturing_orders")[0]
        tx.execute(
            f"INSERT INTO manufacturing_orders ({models.MO_COLS}) VALUES (?,?,?,?,?,?,?,'planned',?)",
            (
                mo_id,
                f"MO-{mo_id:06d}",
                fields["style"],
                sku,
                fields["customer"],
                fields["quantity"],
                fields["due_date"],
                now_iso(),
            ),
        )
        tx.audit(who, "mo.create", "manufacturing_order", mo_id, f"{fields['style']} x{fields['quantity']}")
        wo_id = _new_wo(tx, mo_id, "cutting", fields["quantity"], who)
        mo = tx.one(f"SELECT {models.MO_COLS} FROM manufacturing_orders WHERE id = ?", (mo_id,))
        wo = tx.one(f"SELECT {WO_COLS} FROM work_orders WHERE id = ?", (wo_id,))
    return {**models.mo(mo), "work_orders": [models.wo(wo)]}
