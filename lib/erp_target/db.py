"""SQLite access under gevent: one WAL connection, short indexed queries, writes behind a gevent lock."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import gevent.lock

SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE users (
  username TEXT PRIMARY KEY, role TEXT NOT NULL, department TEXT, password_hash TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;
CREATE TABLE stock_items (
  sku TEXT PRIMARY KEY, name TEXT NOT NULL, quantity INTEGER NOT NULL, location TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE TABLE manufacturing_orders (
  id INTEGER PRIMARY KEY, number TEXT NOT NULL, style TEXT NOT NULL, product_sku TEXT NOT NULL,
  customer TEXT, quantity INTEGER NOT NULL, due_date TEXT NOT NULL, status TEXT NOT NULL,
  created_at TEXT NOT NULL
);
CREATE TABLE work_orders (
  id INTEGER PRIMARY KEY, mo_id INTEGER NOT NULL, department TEXT NOT NULL, quantity INTEGER NOT NULL,
  quantity_done INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, assignee TEXT, note TEXT,
  rework INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE qc_tests (
  id INTEGER PRIMARY KEY, mo_id INTEGER NOT NULL, work_order_id INTEGER NOT NULL,
  quantity INTEGER NOT NULL, status TEXT NOT NULL, defects INTEGER, inspector TEXT, notes TEXT,
  updated_at TEXT NOT NULL
);
CREATE TABLE receipts (
  id INTEGER PRIMARY KEY, mo_id INTEGER NOT NULL, qc_test_id INTEGER NOT NULL, sku TEXT NOT NULL,
  quantity INTEGER NOT NULL, status TEXT NOT NULL, received_by TEXT, updated_at TEXT NOT NULL
);
CREATE TABLE stock_adjustments (
  id INTEGER PRIMARY KEY, sku TEXT NOT NULL, delta INTEGER NOT NULL, reason TEXT NOT NULL,
  username TEXT NOT NULL, idempotency_key TEXT UNIQUE, response TEXT, at TEXT NOT NULL
);
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY, at TEXT NOT NULL, username TEXT NOT NULL, action TEXT NOT NULL,
  entity TEXT NOT NULL, entity_id TEXT NOT NULL, detail TEXT NOT NULL
);
"""

# Created after the bulk insert (faster than maintaining them row by row while seeding).
INDEXES = """
CREATE INDEX users_role ON users(role, username);
CREATE INDEX stock_location ON stock_items(location, sku);
CREATE INDEX stock_quantity ON stock_items(quantity);
CREATE UNIQUE INDEX mo_number ON manufacturing_orders(number);
CREATE INDEX mo_status ON manufacturing_orders(status, id);
CREATE INDEX wo_dept_status ON work_orders(department, status, id);
CREATE INDEX wo_status ON work_orders(status, id);
CREATE INDEX wo_mo ON work_orders(mo_id);
CREATE INDEX wo_created ON work_orders(created_at);
CREATE INDEX wo_assignee ON work_orders(assignee) WHERE assignee IS NOT NULL;
CREATE INDEX qc_status ON qc_tests(status, id);
CREATE INDEX receipts_status ON receipts(status, id);
CREATE INDEX audit_action ON audit_log(action, id);
"""


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string with milliseconds and a `Z`."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Tx:
    """The statements of one write transaction; counts them for the slow-DB fault."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn
        self.queries = 0

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement inside the transaction."""
        self.queries += 1
        return self._conn.execute(sql, params)

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """First row of a query inside the transaction."""
        return self.execute(sql, params).fetchone()

    def audit(self, username: str, action: str, entity: str, entity_id: Any, detail: str) -> None:
        """Append one audit-log row (every state change writes one, in the same transaction)."""
        self.execute(
            "INSERT INTO audit_log (at, username, action, entity, entity_id, detail) VALUES (?,?,?,?,?,?)",
            (now_iso(), username, action, entity, str(entity_id), detail),
        )


class CountingConnection(sqlite3.Connection):
    """A connection that counts its transactions: writes committed, and reads (each its own implicit
    transaction in autocommit mode); exported as `erp_db_transactions_total{kind}` (erp_target.metrics)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.transactions = {"write": 0, "read": 0}


class Database:
    """One SQLite connection shared by all greenlets.

    sqlite3 calls never yield to the gevent loop, so a transaction that does not sleep inside runs
    atomically with respect to other greenlets; the write lock keeps that true for code that might.
    """

    def __init__(self, path: str, delay: Callable[[int], None] | None = None):
        self.path = path
        self.conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, factory=CountingConnection
        )
        self.counts = self.conn.transactions
        self.conn.row_factory = sqlite3.Row
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "busy_timeout=5000",
            "cache_size=-65536",
            "temp_store=MEMORY",
            "mmap_size=268435456",
            "foreign_keys=OFF",
        ):
            self.conn.execute(f"PRAGMA {pragma}")
        self._lock = gevent.lock.RLock()
        self._delay = delay or (lambda n: None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """All rows of a read query (after the slow-DB delay, if any)."""
        self._delay(1)
        self.counts["read"] += 1
        return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """The first row of a read query, or None."""
        self._delay(1)
        self.counts["read"] += 1
        return self.conn.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row (None if no row)."""
        row = self.one(sql, params)
        return None if row is None else row[0]

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """One IMMEDIATE transaction under the write lock; rolled back on any exception."""
        tx = Tx(self.conn)
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield tx
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
            self.counts["write"] += 1
        # Slow-DB delay after the lock is released: concurrency stays realistic (no convoy).
        self._delay(tx.queries)

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close (a copied .db file is then complete)."""
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            self.conn.close()
