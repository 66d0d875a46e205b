"""`--seed-scale N`: how many manufacturing orders to seed, the stage mix scaled to N, seed-phase PRAGMAs
and the one-line progress bar on stderr.

N counts manufacturing orders (10k .. 1M); their work orders, QC tests, receipts and audit rows follow
in the proportions of the default 10k seed (catalog.STAGES): ~2.33 WOs, 0.39 QC tests, 0.26 receipts
and ~6 audit rows per MO. Stock items (50k) and users (390) do not grow with N: a bigger ERP has more
orders, not more products or staff. The default seed (no --seed-scale) is N = 10,000, unchanged.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from .catalog import N_ORDERS, STAGES

MIN_SCALE = 10_000
MAX_SCALE = 1_000_000
_SUFFIX = {"": 1, "k": 1_000, "m": 1_000_000}
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)([km]?)")


def parse_scale(text: str) -> int:
    """'100000', '100_000', '100,000', '100k' or '1M' -> the count; ValueError says what and how to fix."""
    raw = text.strip().lower().replace("_", "").replace(",", "")
    m = _NUMBER.fullmatch(raw)
    if m is None:
        raise ValueError(f"must be a count of manufacturing orders like 100000, 100k or 1M, got {text!r}")
    value = float(m.group(1)) * _SUFFIX[m.group(2)]
    if value != int(value):
        raise ValueError(f"must be a whole number of manufacturing orders, got {text!r} (= {value:g})")
    n = int(value)
    if not MIN_SCALE <= n <= MAX_SCALE:
        raise ValueError(
            f"must be {MIN_SCALE:,}..{MAX_SCALE:,} manufacturing orders, got {n:,} ({text!r}); "
            f"e.g. --seed-scale 100k (without the flag the seed is {N_ORDERS:,})"
        )
    return n


def stage_counts(n: int) -> list[tuple[str, int]]:
    """catalog.STAGES scaled to n orders (largest-remainder rounding: the counts sum to n exactly)."""
    exact = [(name, count * n / N_ORDERS) for name, count in STAGES]
    out = {name: int(x) for name, x in exact}
    short = n - sum(out.values())
    for name, _x in sorted(exact, key=lambda e: e[1] - int(e[1]), reverse=True)[:short]:
        out[name] += 1
    return [(name, out[name]) for name, _ in STAGES]


@contextmanager
def seed_pragmas(conn: sqlite3.Connection) -> Iterator[None]:
    """Bulk-load settings for the seed, restored after it.

    The rollback journal lives in memory (the file is new: nothing to journal but the header, and a
    failed seed still rolls back), no fsync, a 256 MiB page cache for building the indexes after the
    load. Then back to WAL with synchronous=NORMAL, what the server runs with (db.Database).
    """
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    sync = conn.execute("PRAGMA synchronous").fetchone()[0]
    cache = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute("PRAGMA journal_mode=MEMORY")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_size={int(cache)}")
        conn.execute(f"PRAGMA synchronous={int(sync)}")
        conn.execute(f"PRAGMA journal_mode={mode}")


class Progress:
    """A one-line progress bar on stderr: redrawn in place on a terminal, a line per 10 % otherwise."""

    WIDTH = 30

    def __init__(self, total: int, label: str, stream: TextIO | None = None, enabled: bool = True):
        self.total = max(total, 1)
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and self.stream.isatty()
        self.t0 = time.perf_counter()
        self._shown = -1  # last shown percent (tty) or tenth (lines)

    def update(self, done: int, phase: str = "") -> None:
        """Show `done` of total (drawn only when the shown percent/tenth changes)."""
        if not self.enabled:
            return
        share = min(done / self.total, 1.0)
        step = int(share * 100) if self.tty else int(share * 10)
        if step == self._shown:
            return
        self._shown = step
        bar = "#" * int(share * self.WIDTH)
        text = (
            f"{self.label} [{bar:<{self.WIDTH}}] {share:4.0%} {done:,}/{self.total:,} {phase}"
            f" {time.perf_counter() - self.t0:5.1f}s"
        )
        self.stream.write(("\r" + text + "\x1b[K") if self.tty else text + "\n")
        self.stream.flush()

    def phase(self, text: str) -> None:
        """A named step after the rows are written (indexes, audit trail, ANALYZE)."""
        if not self.enabled:
            return
        line = f"{self.label}: {text} ({time.perf_counter() - self.t0:.1f}s)"
        self.stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the in-place line (a terminal needs the newline)."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
