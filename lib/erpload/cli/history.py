"""`erpload history DB`: list the runs `--history DB` recorded, or render their trend report.

    erpload history history.db                                   # the last 20 runs, newest first
    erpload history history.db --profile smoke --branch main --limit 50
    erpload history history.db --report trend.html               # p95 / error rate / rps / RSS slope charts
    erpload history postgresql://perf@db.internal/erp            # a team's PostgreSQL store

DB defaults to $ERPLOAD_HISTORY. Exit 0; 2 when the DB cannot be read (no such file, corrupt, locked,
not an erpload history) or an option is wrong; 6 when the report cannot be written.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from erpload.core.errors import ConfigError, ExitCode, Problem
from erpload.core.units import fmt_num, fmt_value
from erpload.report.history import RunRow, open_history
from erpload.report.history_db import display_name
from erpload.report.history_html import render_trend
from erpload.report.writer import ReportWriteError, write_atomic

__all__ = ["add_parser", "cmd_history", "runs_table"]

DEFAULT_LIMIT = 20
_HEADER = ("run", "started (UTC)", "profile", "branch", "commit", "verdict", "exit", "requests", "errors")
_HEADER += ("p95", "rps", "RSS slope", "host")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `history` to the `erpload` subcommands."""
    h = subparsers.add_parser(
        "history",
        help="list the runs --history DB recorded, or render their trend report (--report)",
        description="List recorded runs (newest first) or render an HTML trend report of them.",
    )
    h.add_argument(
        "db",
        nargs="?",
        default=os.environ.get("ERPLOAD_HISTORY", ""),
        help="SQLite file or postgresql:// URL the runs were recorded into (default: $ERPLOAD_HISTORY)",
    )
    h.add_argument("--profile", help="only runs of this profile (its name, e.g. smoke)")
    h.add_argument("--branch", help="only runs of this git branch")
    h.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help=f"newest N runs (default {DEFAULT_LIMIT}; 0 = all)"
    )
    h.add_argument("--report", metavar="HTML", help="write the trend report (HTML) to this file")
    return h


def _cell(value: float | None, kind: str) -> str:
    return "-" if value is None else fmt_value(kind, value)


def runs_table(runs: list[RunRow]) -> str:
    """An aligned text table of `runs` (in the given order)."""
    rows = [
        (
            f"#{r.id}",
            r.started_at.replace("T", " ").rstrip("Z"),
            r.profile or "-",
            r.branch,
            r.commit[:10],
            r.verdict,
            str(r.exit_code),
            "-" if r.requests is None else str(r.requests),
            _cell(r.error_rate, "rate"),
            _cell(r.p95, "latency"),
            _cell(r.rps, "rps"),
            "-" if r.rss_slope_mb_per_min is None else f"{fmt_num(r.rss_slope_mb_per_min)} MB/min",
            r.host,
        )
        for r in runs
    ]
    widths = [max(len(row[i]) for row in [_HEADER, *rows]) for i in range(len(_HEADER))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [_HEADER, *rows]
    )


def cmd_history(ns: argparse.Namespace) -> int:
    """List runs or write the trend report; the exit code."""
    db = str(ns.db or "").strip()
    if not db:
        raise ConfigError(
            "erpload history",
            [Problem("DB", "missing", "Give the SQLite file or postgresql:// URL, or set ERPLOAD_HISTORY")],
        )
    if ns.limit < 0:
        raise ConfigError(
            "--limit", [Problem("--limit", f"must be >= 0 (got {ns.limit})", "0 lists every run")]
        )
    with open_history(db, create=False) as store:
        runs = store.runs(profile=ns.profile, branch=ns.branch, limit=ns.limit)
        endpoints = store.endpoints(r.id for r in runs) if ns.report else {}
    filters = ", ".join(f"{k} {v}" for k, v in (("profile", ns.profile), ("branch", ns.branch)) if v)
    where = display_name(db) + (f" ({filters})" if filters else "")
    if runs:
        print(runs_table(runs))
        print(f"{len(runs)} run(s) in {where}, newest first" + (f" (--limit {ns.limit})" if ns.limit else ""))
    else:
        print(f"No run in {where}.")
    if ns.report:
        html = render_trend(runs, endpoints, source=display_name(db), filters=filters)
        try:
            path = write_atomic(ns.report, html)
        except OSError as e:
            raise ReportWriteError({Path(ns.report): e.strerror or str(e)}) from None
        print(f"trend report: {path}")
    return int(ExitCode.PASS)
