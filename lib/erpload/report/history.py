"""Run history: every finished run in one SQL store, SQLite by default, PostgreSQL for a team (pure).

    store = open_history("history.db")                # or "postgresql://erp@db/perf"; ConfigError (exit 2)
    run_id = store.record(summary, detect_key())      # summary.json as a dict; key: history_key
    rows = store.runs(profile="smoke", branch="main", limit=20)   # newest first
    table = store.endpoints([r.id for r in rows])     # {run id: [EndpointRow, ...]}
    store.close()

A run is keyed by profile, git commit and branch (`history_key.detect_key`), host and start time,
with its verdict and exit code; it keeps per endpoint (and "Aggregated") count, failures,
p50/p95/p99, rps and error rate, the target's RSS slope when it was monitored, and the whole
summary.json. Why plain DB-API, and how concurrent writers and broken DBs are handled:
`history_db`. Every method raises ConfigError, never a driver exception.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from erpload.report.history_db import (
    SCHEMA_LOCK,
    SCHEMA_VERSION,
    connect,
    ddl,
    display_name,
    explain,
    history_error,
    timeout_from_env,
)
from erpload.report.history_key import RunKey, target_rss_slope

__all__ = ["EndpointRow", "HistoryStore", "RunRow", "display_name", "open_history"]

_RUN_COLUMNS = (
    "profile, branch, git_commit, source, host, started_at, ended_at, duration_s, verdict, exit_code, "
    "requests, failures, p50, p95, p99, rps, error_rate, rss_slope_mb_per_min"
)
_EP_COLUMNS = "run_id, label, method, name, count, failures, p50, p95, p99, rps, error_rate"


@dataclass(frozen=True)
class RunRow:
    """One recorded run: its key, outcome and aggregate numbers (times in ms, rates as fractions)."""

    id: int
    profile: str
    branch: str
    commit: str
    source: str
    host: str
    started_at: str
    ended_at: str
    duration_s: float | None
    verdict: str
    exit_code: int
    requests: int | None
    failures: int | None
    p50: float | None
    p95: float | None
    p99: float | None
    rps: float | None
    error_rate: float | None
    rss_slope_mb_per_min: float | None


@dataclass(frozen=True)
class EndpointRow:
    """One endpoint of one run ('Aggregated' is the total)."""

    label: str
    count: int
    failures: int
    p50: float | None
    p95: float | None
    p99: float | None
    rps: float | None
    error_rate: float | None


class HistoryStore:
    """An open history DB (see `open_history`)."""

    def __init__(
        self, target: str, conn: Any, dialect: str, errors: tuple[type[BaseException], ...], timeout: float
    ) -> None:
        self.target, self.conn, self.dialect, self.errors, self.timeout = (
            target,
            conn,
            dialect,
            errors,
            timeout,
        )

    # -- plumbing ------------------------------------------------------------------------------
    def _execute(self, sql: str, params: Iterable[Any] = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s") if self.dialect == "postgres" else sql, tuple(params))

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except self.errors as e:
            raise explain(self.target, e, self.timeout) from None

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One write transaction: BEGIN IMMEDIATE on SQLite (waits the busy timeout), a transaction on PG."""
        with self._guard():
            if self.dialect == "postgres":
                with self.conn.transaction():
                    yield
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (a broken one may fail to close: nothing to do about it)."""
        try:
            self.conn.close()
        except Exception:  # noqa: S110
            pass

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- schema --------------------------------------------------------------------------------
    def create_schema(self) -> None:
        """Create the tables if missing; ConfigError for a DB written by a newer erpload."""
        with self._write():
            if self.dialect == "postgres":  # concurrent CREATE TABLE IF NOT EXISTS can collide on PG
                self._execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
            for stmt in ddl(self.dialect):
                self._execute(stmt)
            self._execute(
                "INSERT INTO erpload_meta (key, value) SELECT 'schema_version', CAST(? AS TEXT) "
                "WHERE NOT EXISTS (SELECT 1 FROM erpload_meta WHERE key = 'schema_version')",
                (str(SCHEMA_VERSION),),
            )
            self._check_version()

    def check_readable(self) -> None:
        """An existing erpload history (tables present, schema not newer); ConfigError otherwise."""
        with self._guard():
            self._check_version()

    def _check_version(self) -> None:
        try:
            row = self._execute("SELECT value FROM erpload_meta WHERE key = 'schema_version'").fetchone()
        except self.errors as e:
            if "no such table" not in str(e) and "does not exist" not in str(e):
                raise
            raise history_error(
                self.target,
                "holds no erpload run history (no erpload_meta table)",
                "Record runs into it first: locust ... --history DB (or erpload run ... --history DB)",
            ) from None
        version = int(row[0]) if row and str(row[0]).isdigit() else 0
        if version > SCHEMA_VERSION:
            raise history_error(
                self.target,
                f"was written by a newer erpload (history schema {version}; this one reads {SCHEMA_VERSION})",
                "Upgrade erpload, or give --history another DB",
            )

    # -- writing -------------------------------------------------------------------------------
    def record(self, summary: Mapping[str, Any], key: RunKey) -> int:
        """Store one finished run (summary.json as a dict) in one transaction; its id."""
        total = _endpoint(summary.get("total") or {}, "Aggregated")
        text = json.dumps(summary, ensure_ascii=False, allow_nan=False)
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        run = (
            str((summary.get("profile") or {}).get("name") or ""),
            key.branch,
            key.commit,
            key.source,
            str(summary.get("host") or ""),
            str(summary.get("started_at") or now),
            str(summary.get("ended_at") or now),
            summary.get("duration_s"),
            str(summary.get("verdict") or "error"),
            int(summary.get("exit_code", 6)),
            *total[3:],  # requests, failures, p50, p95, p99, rps, error_rate
            target_rss_slope(summary),
            now,
            text,
        )
        rows = [_endpoint(r) for r in summary.get("requests") or []] + [total]
        columns = f"{_RUN_COLUMNS}, recorded_at, summary"
        with self._write():
            cur = self._execute(
                f"INSERT INTO erpload_runs ({columns}) VALUES ({', '.join('?' * len(run))}) RETURNING id", run
            )
            run_id = int(cur.fetchone()[0])
            for row in rows:
                self._execute(
                    f"INSERT INTO erpload_endpoints ({_EP_COLUMNS}) VALUES (?{', ?' * 10})", (run_id, *row)
                )
        return run_id

    # -- reading -------------------------------------------------------------------------------
    def runs(
        self, profile: str | None = None, branch: str | None = None, limit: int = 0, passing: bool = False
    ) -> list[RunRow]:
        """Recorded runs, newest first; `passing`: verdict pass and exit code 0 only; limit 0 = all."""
        where, params = _filters(profile=profile, branch=branch)
        if passing:
            where.append("verdict = 'pass' AND exit_code = 0")
        sql = f"SELECT id, {_RUN_COLUMNS} FROM erpload_runs"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY started_at DESC, id DESC"
        if limit > 0:
            sql += f" LIMIT {int(limit)}"
        with self._guard():
            return [RunRow(*r) for r in self._execute(sql, params).fetchall()]

    def endpoints(self, run_ids: Iterable[int]) -> dict[int, list[EndpointRow]]:
        """{run id: its endpoint rows, 'Aggregated' included}."""
        ids = [int(i) for i in run_ids]
        out: dict[int, list[EndpointRow]] = {i: [] for i in ids}
        if not ids:
            return out
        sql = "SELECT run_id, label, count, failures, p50, p95, p99, rps, error_rate FROM erpload_endpoints"
        sql += f" WHERE run_id IN ({', '.join('?' * len(ids))}) ORDER BY run_id, label"
        with self._guard():
            for r in self._execute(sql, ids).fetchall():
                out[int(r[0])].append(EndpointRow(*r[1:]))
        return out

    def summary(self, run_id: int) -> dict[str, Any]:
        """The full summary.json of a recorded run."""
        with self._guard():
            row = self._execute("SELECT summary FROM erpload_runs WHERE id = ?", (int(run_id),)).fetchone()
        if row is None:
            raise history_error(self.target, f"has no run {run_id}", "List the runs with: erpload history DB")
        try:
            return dict(json.loads(row[0]))
        except (TypeError, ValueError) as e:
            raise history_error(
                self.target, f"run {run_id}: its stored summary is not valid JSON ({e})", ""
            ) from None

    def distinct(self, column: str, profile: str | None = None) -> list[str]:
        """The distinct values of `profile` or `branch` (for "did you mean")."""
        if column not in ("profile", "branch"):
            raise ValueError(f"unknown column {column!r}")
        where, params = _filters(profile=profile)
        sql = f"SELECT DISTINCT {column} FROM erpload_runs" + (
            " WHERE " + " AND ".join(where) if where else ""
        )
        with self._guard():
            return sorted(str(r[0]) for r in self._execute(sql, params).fetchall())


def _filters(**values: str | None) -> tuple[list[str], list[Any]]:
    pairs = [(k, v) for k, v in values.items() if v is not None]
    return [f"{k} = ?" for k, _ in pairs], [v for _, v in pairs]


def _endpoint(row: Mapping[str, Any], label: str = "") -> tuple[Any, ...]:
    """(label, method, name, count, failures, p50, p95, p99, rps, error_rate) of a summary endpoint."""
    method, name = str(row.get("method") or ""), str(row.get("name") or label)
    count, failures = int(row.get("count") or 0), int(row.get("failures") or 0)
    return (
        label or (f"{method} {name}" if method else name),
        method,
        name,
        count,
        failures,
        *(row.get(k) for k in ("p50", "p95", "p99")),
        row.get("rps"),
        failures / count if count else None,
    )


def open_history(target: str, *, create: bool = True, timeout: float | None = None) -> HistoryStore:
    """Open a history DB (an SQLite path or a postgresql:// URL); `create`: make it and its tables if
    missing, else it must already hold a history. Timeout: $ERPLOAD_HISTORY_TIMEOUT. ConfigError."""
    target = str(target or "").strip()
    if not target:
        raise history_error(target, "is empty", "Give --history an SQLite file path or a postgresql:// URL")
    timeout = timeout_from_env() if timeout is None else timeout
    store = HistoryStore(target, *connect(target, timeout, create), timeout)
    try:
        store.create_schema() if create else store.check_readable()
    except BaseException:
        store.close()
        raise
    return store
