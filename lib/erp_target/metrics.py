"""Prometheus metrics on a dedicated registry: per-endpoint counts/latency, process, DB rows and transactions, faults."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map

from .faults import AbortConnection, Faults, WsgiApp

UNMATCHED = "<unmatched>"  # path label of requests no route matched (404/405): raw paths never become labels
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
TABLES = (
    "manufacturing_orders",
    "work_orders",
    "qc_tests",
    "receipts",
    "stock_items",
    "users",
    "stock_adjustments",
    "audit_log",
)


class _DbRows(Collector):
    """`erp_db_rows{table}`: max(rowid) per table — O(1), unlike count(*) on 50k rows every scrape."""

    def __init__(self, conn: Callable[[], sqlite3.Connection | None]):
        self._conn = conn

    def collect(self) -> Iterator[GaugeMetricFamily]:
        fam = GaugeMetricFamily(
            "erp_db_rows", "Rows per table (highest rowid; rows are never deleted)", labels=["table"]
        )
        conn = self._conn()
        if conn is not None:
            for table in TABLES:
                expr = "count(*)" if table == "users" else "COALESCE(max(rowid), 0)"  # users: WITHOUT ROWID
                value = conn.execute(f"SELECT {expr} FROM {table}").fetchone()[0]
                fam.add_metric([table], float(value))
        yield fam


class _DbTransactions(Collector):
    """`erp_db_transactions_total{kind}`: write transactions committed, reads run (erp_target.db)."""

    def __init__(self, conn: Callable[[], sqlite3.Connection | None]):
        self._conn = conn

    def collect(self) -> Iterator[CounterMetricFamily]:
        fam = CounterMetricFamily(
            "erp_db_transactions", "Database transactions: writes committed, reads run", labels=["kind"]
        )
        counts = getattr(self._conn(), "transactions", None)  # erp_target.db.CountingConnection
        for kind, value in (counts or {}).items():
            fam.add_metric([kind], float(value))
        yield fam


class _FaultGauge(Collector):
    """`erp_fault_setting{key}`: the numeric value of each fault switch (booleans as 0/1)."""

    def __init__(self, faults: Faults):
        self._faults = faults

    def collect(self) -> Iterator[GaugeMetricFamily]:
        fam = GaugeMetricFamily("erp_fault_setting", "Current fault switches", labels=["key"])
        for key, value in self._faults.state.to_json().items():
            if isinstance(value, bool | int | float):
                fam.add_metric([key], float(value))
        yield fam


class Metrics:
    """The registry plus the WSGI middleware that feeds it."""

    def __init__(self, faults: Faults, conn: Callable[[], sqlite3.Connection | None]):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "erp_http_requests",
            "HTTP requests by method, path template and status",
            ["method", "path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "erp_http_request_duration_seconds",
            "Time to produce the response",
            ["method", "path"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.injected = Counter(
            "erp_faults_injected", "Faults injected by kind", ["kind"], registry=self.registry
        )
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, process_resident_memory_bytes
        self.registry.register(_DbRows(conn))
        self.registry.register(_DbTransactions(conn))
        self.registry.register(_FaultGauge(faults))
        faults.on_inject = lambda kind: self.injected.labels(kind).inc()

    def exposition(self) -> bytes:
        """The text format for GET /metrics."""
        return generate_latest(self.registry)

    def middleware(self, app: WsgiApp, url_map: Map, templates: Callable[[str], str | None]) -> WsgiApp:
        """Count and time every request except GET /metrics (so counters prove what arrived)."""

        def label(environ: dict[str, Any]) -> str:
            try:
                endpoint, _ = url_map.bind_to_environ(environ).match()
            except HTTPException:
                return UNMATCHED
            return templates(str(endpoint)) or UNMATCHED

        def measured(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if environ.get("PATH_INFO") == "/metrics":
                return app(environ, start_response)
            t0 = time.perf_counter()
            method = environ.get("REQUEST_METHOD", "GET")
            method = method if method in METHODS else "OTHER"  # clients must not mint label values
            path = label(environ)
            status = ["000"]

            def capture(st: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                status[0] = st.split(" ", 1)[0]
                return start_response(st, headers, exc_info) if exc_info else start_response(st, headers)

            try:
                return app(environ, capture)
            except AbortConnection as e:
                status[0] = e.label  # no HTTP status reached the client ("reset", "hang"; "101": a WebSocket)
                raise
            finally:
                self.requests.labels(method, path, status[0]).inc()
                self.latency.labels(method, path).observe(time.perf_counter() - t0)

        return measured
