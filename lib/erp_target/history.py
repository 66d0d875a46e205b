"""The seeded lifecycle's audit trail: one audit row per seeded work-order, QC and receipt event.

The seed writes an audit row per manufacturing order only; a real ERP's trail also has every
work-order creation, claim and completion, every QC verdict and every receipt. Derived here in SQL
from the seeded rows (deterministic, no RNG drawn), so the audit-trail export has a realistic
volume (~50k rows over the seed's ~4 months) and its `(at, id)` index to read it in time order.
"""

from __future__ import annotations

import sqlite3

_INSERT = "INSERT INTO audit_log (at, username, action, entity, entity_id, detail) "
_LATER = "strftime('%Y-%m-%dT%H:%M:%fZ', created_at, '{}')"  # created_at + an offset, same format
STATEMENTS = (
    _INSERT + "SELECT created_at, 'ppic' || printf('%02d', mo_id % 30 + 1), 'work_order.create', "
    "'work_order', id, 'seeded ' || department || ' work order for MO ' || mo_id || ' x' || quantity "
    "FROM work_orders",
    _INSERT + f"SELECT {_LATER.format('+17 minutes')}, assignee, 'work_order.claim', 'work_order', id, "
    "department || ' claimed by ' || assignee FROM work_orders WHERE assignee IS NOT NULL",
    _INSERT + f"SELECT {_LATER.format('+95 minutes')}, assignee, 'work_order.done', 'work_order', id, "
    "department || ' done' FROM work_orders WHERE status = 'done'",
    _INSERT + "SELECT updated_at, inspector, 'qc_test.' || status, 'qc_test', id, "
    "COALESCE(defects, 0) || ' defects' FROM qc_tests WHERE status != 'pending'",
    _INSERT
    + "SELECT updated_at, received_by, 'receipt.received', 'receipt', id, '+' || quantity || ' ' || sku "
    "FROM receipts WHERE status = 'received'",
    "CREATE INDEX IF NOT EXISTS audit_at ON audit_log(at, id)",
)


def seed_audit_history(conn: sqlite3.Connection) -> None:
    """Append the seeded lifecycle's audit rows and the time index (inside the seed's transaction)."""
    for sql in STATEMENTS:
        conn.execute(sql)
