"""Serving the run's Prometheus metrics: `--metrics-port` (headless) and the exposition the web UI serves.

`install_metrics(environment, run)` (master / local runner) builds the `RunCollector` once and keeps
it as `run.metrics`; `exposition(run)` renders it (the web UI's `/metrics` calls that). With
`--metrics-port N` a gevent WSGI server in a greenlet of the master answers `GET /metrics` on
`--metrics-host` (default 127.0.0.1; 0.0.0.0 only on a trusted network such as a compose network:
this port has no login). `--metrics-port 0` (the default) serves nothing extra.

The last numbers reach Prometheus: with `--metrics-linger S` the master, after the verdict and
Locust's own end of run (its `quit` event, exit code known), waits until one scrape has read the
final state, at most S seconds, then exits. Without it a scraper may miss the last interval.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import gevent
from gevent.pywsgi import WSGIServer
from locust.env import Environment
from locust.runners import WorkerRunner
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from erpload.core.errors import ConfigError
from erpload.locust.checks import exit_invalid_config
from erpload.locust.otel import fold_probe_names
from erpload.locust.prometheus import RunCollector, registry_for

__all__ = ["MetricsEndpoint", "exposition", "install_metrics"]
log = logging.getLogger("erpload")

POLL_S = 0.05


class MetricsEndpoint:
    """The collector, its registry and the scrape bookkeeping the linger needs."""

    def __init__(self, environment: Environment, run: Any) -> None:
        self.collector = RunCollector(environment, run)
        self.registry = registry_for(self.collector)
        self.scrapes = 0  # scrapes served (any transport)
        self.final_at: float | None = None  # monotonic time the final state was reached (quit event)
        self.final_scrapes = 0  # scrapes that began after that
        self.server: WSGIServer | None = None

    def render(self) -> tuple[bytes, str]:
        """(body, content type) of one scrape."""
        began = time.monotonic()
        body = generate_latest(self.registry)
        self.scrapes += 1
        if self.final_at is not None and began >= self.final_at:
            self.final_scrapes += 1
        return body, CONTENT_TYPE_LATEST

    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """GET /metrics; anything else 404 (a dedicated port serves nothing else)."""
        if environ.get("PATH_INFO", "") not in ("/metrics", "/metrics/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"erpload: only /metrics is served on this port\n"]
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            start_response("405 Method Not Allowed", [("Content-Type", "text/plain"), ("Allow", "GET, HEAD")])
            return [b"erpload: /metrics is read-only\n"]
        body, ctype = self.render()
        start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]

    def on_quit(self, exit_code: int, linger_s: float, **_: Any) -> None:
        """Locust's last event: the numbers and exit code are final; keep serving until one scrape read them."""
        self.collector.on_quit(exit_code)
        self.final_at = time.monotonic()
        if self.server is None or linger_s <= 0:
            return
        deadline = self.final_at + linger_s
        while self.final_scrapes == 0 and time.monotonic() < deadline:
            gevent.sleep(POLL_S)
        if self.final_scrapes:
            log.info("erpload: the final metrics were scraped; exiting")
        else:
            log.warning("erpload: no scrape of the final metrics within --metrics-linger %gs", linger_s)
        self.server.stop(timeout=1)


def exposition(run: Any) -> tuple[bytes, str] | None:
    """(body, content type) of /metrics for this run, or None when metrics are not installed here."""
    endpoint = getattr(run, "metrics", None)
    return endpoint.render() if isinstance(endpoint, MetricsEndpoint) else None


def _opt(environment: Environment, name: str, default: Any) -> Any:
    opts = environment.parsed_options
    value = getattr(opts, name, None) if opts is not None else None
    return default if value in (None, "") else value


def install_metrics(environment: Environment, run: Any) -> MetricsEndpoint | None:
    """Master / local runner: the collector (always), the --metrics-port server when asked; idempotent.

    Every process (workers too): Locust's `--otel` request listener sees RBAC probes under one name.
    """
    fold_probe_names(environment)
    if isinstance(environment.runner, WorkerRunner):
        return None
    existing = getattr(run, "metrics", None)
    if isinstance(existing, MetricsEndpoint):
        return existing
    endpoint = run.metrics = MetricsEndpoint(environment, run)
    col = endpoint.collector
    environment.events.test_start.add_listener(col.on_test_start)
    environment.events.test_stop.add_listener(col.on_test_stop)
    run.finalizers.append(col.on_finalize)  # installed after the other subsystems: the last finalizer
    linger = float(_opt(environment, "metrics_linger", 0.0))
    environment.events.quit.add_listener(lambda exit_code, **_: endpoint.on_quit(exit_code, linger))
    port = int(_opt(environment, "metrics_port", 0))
    if port:
        endpoint.server = _serve(endpoint, str(_opt(environment, "metrics_host", "127.0.0.1")), port)
    return endpoint


def _serve(endpoint: MetricsEndpoint, host: str, port: int) -> WSGIServer:
    """Bind now (a busy port is exit 2 before any load), then serve from a greenlet."""
    server = WSGIServer((host, port), endpoint.wsgi, log=None, error_log=log)
    try:
        server.init_socket()
    except OSError as e:
        exit_invalid_config(
            ConfigError(
                f"--metrics-host {host} --metrics-port {port}",
                [f"cannot listen there: {e.strerror or e}; pick a free port (or 0 to serve no metrics port)"],
            )
        )
    server.start()
    log.info("erpload: Prometheus metrics at http://%s:%d/metrics", host, server.server_port)
    return server
