"""Deterministic seed: 10k manufacturing orders in every lifecycle stage, 50k stock items, 390 users.

`--seed-scale N` seeds N orders (10k..1M, seed_scale.py) in the same stage mix: rows are built in
chunks and bulk-inserted (executemany) in one transaction under bulk-load PRAGMAs, the indexes are
built after the load, and a progress bar goes to stderr.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import sqlite3
from dataclasses import dataclass

from . import catalog as C
from . import history, passwords, search
from .catalog import DEPARTMENTS, LOW_STOCK
from .db import INDEXES, SCHEMA, SCHEMA_VERSION
from .seed_scale import Progress, seed_pragmas, stage_counts

log = logging.getLogger(__name__)
CHUNK = 50_000  # orders built in memory before they are bulk-inserted


@dataclass(frozen=True)
class SeedCounts:
    """Row counts of a seeded database."""

    manufacturing_orders: int
    work_orders: int
    qc_tests: int
    receipts: int
    stock_items: int
    users: int

    def line(self) -> str:
        """Human summary used in the startup line."""
        return (
            f"{self.manufacturing_orders} manufacturing orders, {self.work_orders} work orders, "
            f"{self.qc_tests} QC tests, {self.receipts} receipts, {self.stock_items} stock items, "
            f"{self.users} users"
        )


def is_seeded(conn: sqlite3.Connection) -> bool:
    """True if the file already holds a complete seed of this schema version."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError:
        return False
    return row is not None and row[0] == SCHEMA_VERSION


def is_empty(conn: sqlite3.Connection) -> bool:
    """True if the file has no tables at all (new or zero-length file)."""
    return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def counts(conn: sqlite3.Connection) -> SeedCounts:
    """Current row counts."""

    def n(table: str) -> int:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names

    return SeedCounts(
        n("manufacturing_orders"),
        n("work_orders"),
        n("qc_tests"),
        n("receipts"),
        n("stock_items"),
        n("users"),
    )


def _iso(t: dt.datetime) -> str:
    # isoformat() is several times faster than strftime(); 120k timestamps are written per seed.
    return t.isoformat(timespec="milliseconds") + "Z"


def seed(conn: sqlite3.Connection, password: str, scale: int | None = None) -> SeedCounts:
    """Create the schema and fill it in one transaction (all or nothing); `scale` orders (default 10k).

    With `scale` given (--seed-scale) a progress bar goes to stderr.
    """
    with seed_pragmas(conn):
        return _seed(conn, password, scale or C.N_ORDERS, Progress(scale or 0, "seed", enabled=bool(scale)))


def _seed(conn: sqlite3.Connection, password: str, scale: int, progress: Progress) -> SeedCounts:
    rng = random.Random(C.SEED)
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    conn.execute("BEGIN")
    try:
        for stmt in SCHEMA.split(";"):  # not executescript(): it would COMMIT
            if stmt.strip():
                conn.execute(stmt)
        users = _users(password)
        conn.executemany("INSERT INTO users VALUES (?,?,?,?,1)", users)
        fg_skus = _stock(conn, rng, today)
        _orders(conn, rng, today, fg_skus, users, scale, progress)
        progress.phase("audit trail of the seeded lifecycle")
        history.seed_audit_history(conn)  # the audit trail of what was just seeded
        progress.phase("indexes")
        for stmt in INDEXES.split(";"):
            if stmt.strip():
                conn.execute(stmt)
        progress.phase("MO text-search index")
        search.build(conn)  # after the load: one bulk build, then triggers for new orders
        meta = {
            "schema_version": SCHEMA_VERSION,
            "seed": str(C.SEED),
            "seed_scale": str(scale),
            "seeded_at": _iso(dt.datetime.now(dt.UTC).replace(tzinfo=None)),
        }
        conn.executemany("INSERT INTO meta VALUES (?,?)", list(meta.items()))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    progress.phase("ANALYZE")
    conn.execute("ANALYZE")  # good plans for the LIKE/GROUP BY queries from the first request
    progress.phase("done")
    progress.close()
    return counts(conn)


def _users(password: str) -> list[tuple[str, str, str | None, str]]:
    rows = []
    for _key, role, dept, prefix, count, digits in C.ACCOUNTS:
        for i in range(1, count + 1):
            rows.append((f"{prefix}{i:0{digits}d}", role, dept))
    hashes = passwords.hash_many(password, len(rows))
    return [(u, r, d, h) for (u, r, d), h in zip(rows, hashes, strict=True)]


def _stock(conn: sqlite3.Connection, rng: random.Random, today: dt.datetime) -> list[str]:
    locations = [f"WH{w}-A{a:02d}-R{r:02d}" for w in range(1, 5) for a in range(1, 21) for r in range(1, 11)]
    rows = []
    fg: list[str] = []
    for cat, count in C.STOCK_PER_CATEGORY.items():
        for i in range(1, count + 1):
            sku = f"{cat}-{i:06d}"
            color = C.COLORS[i % len(C.COLORS)]
            if cat == "FAB":
                name = f"{C.FABRICS[i % len(C.FABRICS)]} {color} {140 + (i % 5) * 10}cm"
            elif cat == "TRM":
                name = f"{C.TRIMS[i % len(C.TRIMS)]} {color} {10 + i % 20}mm"
            elif cat == "ACC":
                name = f"{C.ACCESSORIES[i % len(C.ACCESSORIES)]} {color} #{i % 97:02d}"
            else:
                name = f"{C.GARMENTS[i % len(C.GARMENTS)]}-{(i // 60) % 100:03d} {color} {C.SIZES[i % len(C.SIZES)]}"
                fg.append(sku)
            qty = rng.randrange(0, LOW_STOCK) if rng.random() < 0.03 else rng.randrange(LOW_STOCK, 5000)
            updated = today - dt.timedelta(days=rng.randrange(0, 120), seconds=rng.randrange(86400))
            rows.append((sku, name, qty, rng.choice(locations), _iso(updated)))
    conn.executemany("INSERT INTO stock_items VALUES (?,?,?,?,?)", rows)
    return fg


def _orders(
    conn: sqlite3.Connection,
    rng: random.Random,
    today: dt.datetime,
    fg_skus: list[str],
    users: list[tuple[str, str, str | None, str]],
    scale: int,
    progress: Progress,
) -> None:
    """Manufacturing orders plus their work orders, QC tests and receipts for the stage drawn.

    Rows are flushed every CHUNK orders: 1M orders never sit in memory at once.
    """
    by_dept = {d: [u for u, _r, ud, _h in users if ud == d] for d in DEPARTMENTS}
    ppic = [u for u, r, _d, _h in users if r == "ppic"]
    qcs = [u for u, r, _d, _h in users if r == "qc"]
    clerks = [u for u, r, _d, _h in users if r == "warehouse"]
    stages = [name for name, n in stage_counts(scale) for _ in range(n)]
    rng.shuffle(stages)
    mos, wos, tests, receipts, audit = [], [], [], [], []
    wo_id = qc_id = rc_id = 0

    def add_wo(mo: int, dept: str, qty: int, status: str, t: dt.datetime, rework: int = 0) -> int:
        nonlocal wo_id
        wo_id += 1
        done = qty if status == "done" else (rng.randrange(0, qty) if status == "in_progress" else 0)
        who = rng.choice(by_dept[dept]) if status != "open" else None
        wos.append((wo_id, mo, dept, qty, done, status, who, None, rework, _iso(t), _iso(t)))
        return wo_id

    def flush() -> None:
        conn.executemany("INSERT INTO manufacturing_orders VALUES (?,?,?,?,?,?,?,?,?)", mos)
        conn.executemany("INSERT INTO work_orders VALUES (?,?,?,?,?,?,?,?,?,?,?)", wos)
        conn.executemany("INSERT INTO qc_tests VALUES (?,?,?,?,?,?,?,?,?)", tests)
        conn.executemany("INSERT INTO receipts VALUES (?,?,?,?,?,?,?,?)", receipts)
        conn.executemany(
            "INSERT INTO audit_log (at, username, action, entity, entity_id, detail) VALUES (?,?,?,?,?,?)",
            audit,
        )
        for rows in (mos, wos, tests, receipts, audit):
            rows.clear()

    for mo_id, stage in enumerate(stages, start=1):
        if mo_id % CHUNK == 0:
            flush()
            progress.update(mo_id, "orders")
        # 5..125 days ago: even the last lifecycle step (4 x <= 29 h later) lies in the past.
        created = today - dt.timedelta(days=rng.randrange(5, 125), seconds=rng.randrange(86400))
        qty = rng.randrange(5, 121) * 10
        sku = rng.choice(fg_skus)
        style = f"{C.GARMENTS[int(sku[3:]) % len(C.GARMENTS)]}-{(int(sku[3:]) // 60) % 100:03d}"
        due = (created + dt.timedelta(days=rng.randrange(14, 61))).date().isoformat()
        step = dt.timedelta(hours=rng.randrange(2, 30))
        order = [
            "cutting_open",
            "cutting_wip",
            "sewing_open",
            "sewing_wip",
            "finishing_open",
            "finishing_wip",
            "qc_pending",
            "receipt_pending",
            "completed",
        ]
        level = order.index(stage) if stage in order else order.index("qc_pending")
        status = (
            "planned" if stage == "cutting_open" else ("completed" if stage == "completed" else "in_progress")
        )
        mos.append(
            (mo_id, f"MO-{mo_id:06d}", style, sku, rng.choice(C.CUSTOMERS), qty, due, status, _iso(created))
        )
        what = ("mo.create", "manufacturing_order", str(mo_id), f"seeded MO-{mo_id:06d} ({style} x{qty})")
        audit.append((_iso(created), rng.choice(ppic), *what))
        t = created
        last_wo = 0
        for i, dept in enumerate(DEPARTMENTS):
            if level < 2 * i:
                break
            state = "open" if level == 2 * i else ("in_progress" if level == 2 * i + 1 else "done")
            t += step
            last_wo = add_wo(mo_id, dept, qty, state, t)
        if level >= 6:
            qc_id += 1
            t += step
            head = (qc_id, mo_id, last_wo, qty)
            if stage == "rework_open":
                fail = ("failed", rng.randrange(1, 20), rng.choice(qcs), "seeded: stitching defects")
                tests.append((*head, *fail, _iso(t)))
                add_wo(mo_id, "finishing", qty, "open", t + step, rework=1)
            elif level == 6:
                tests.append((*head, "pending", None, None, None, _iso(t)))
            else:
                tests.append((*head, "passed", rng.randrange(0, 3), rng.choice(qcs), None, _iso(t)))
                rc_id += 1
                t += step
                received = stage == "completed"
                receipt_state = ("received", rng.choice(clerks)) if received else ("pending", None)
                receipts.append((rc_id, mo_id, qc_id, sku, qty, *receipt_state, _iso(t)))
    flush()
    progress.update(len(stages), "orders")


def seeded_scale(conn: sqlite3.Connection) -> int:
    """The N a seeded file was seeded with (files from before --seed-scale: the default 10k)."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'seed_scale'").fetchone()
    return int(row[0]) if row is not None else C.N_ORDERS


def open_or_seed(
    conn: sqlite3.Connection, password: str, scale: int | None = None
) -> tuple[SeedCounts, bool]:
    """Reuse a seeded file (checking the seed password) or seed an empty one; (counts, reused).

    `scale` (--seed-scale) must match a reused file's seed, or it is an error naming both.
    """
    if is_seeded(conn):
        if scale is not None and seeded_scale(conn) != scale:
            raise RuntimeError(
                f"--seed-scale {scale}: the database file was seeded with --seed-scale "
                f"{seeded_scale(conn)}; pass another --db path (or delete the file) to seed {scale:,} "
                "manufacturing orders, or drop --seed-scale to reuse it"
            )
        row = conn.execute("SELECT password_hash FROM users WHERE username = 'admin01'").fetchone()
        if row is None or not passwords.verify(password, row[0]):
            log.warning(
                "the reused database was seeded with a different password than the one configured "
                "(--seed-password / $ERP_SEED_PASSWORD): logins will fail"
            )
        return counts(conn), True
    if not is_empty(conn):
        raise RuntimeError(
            "the database file holds tables but is not a seeded erp_target database "
            f"(schema {SCHEMA_VERSION}); pass another --db path or delete the file"
        )
    return seed(conn, password, scale), False
