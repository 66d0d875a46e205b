"""Composition root: the module-level Locust hooks and `install(environment)`, which wires erpload together.

The only module with module-level Locust hooks. Importing it (directly, or through
`locustfiles/harness.py`) adds the options, installs everything on `init` in every process, and
re-exports `ProfileShape`, so a user's own locustfile needs one line::

    from erpload.plugin import ProfileShape  # noqa: F401

Everything else registers on `environment.events` inside `install`, so a test can build an
Environment, install, and throw it away. What lives where:

    erpload.locust.options     the command-line options
    erpload.locust.run         ErploadRun (environment.erpload): run state, mark_invalid /
                               mark_interrupted, finalize -> erpload.core.verdict.decide -> reports
    erpload.locust.checks      exit 2 before any load: profile, ERPLOAD_* settings, credentials, report dir
    erpload.locust.apimap      the API map: --api-map > the profile's api: > the reference map, shipped
                               to workers in the spawn message; the preflight (login + one list call)
    erpload.locust.signals     SIGINT/SIGTERM -> an interrupted (ABORTED) run, reports written
    erpload.locust.exchange    THE worker -> master merge path (data["erpload"][key])
    erpload.locust.redaction   secrets out of every error, log line and artifact
    erpload.locust.inflight    requests cut off at stop counted as failures
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import locust.stats
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from erpload.core.histogram import fine_bucket
from erpload.locust import apimap, arrival, checks, health, options
from erpload.locust.correctness import install_correctness
from erpload.locust.exchange import drain_workers_before_quit, tag_roles
from erpload.locust.gctune import install_gctune
from erpload.locust.inflight import install_inflight
from erpload.locust.intended import install_intended
from erpload.locust.looplag import install_looplag
from erpload.locust.metrics_server import install_metrics
from erpload.locust.redaction import install_redaction
from erpload.locust.resources import install_resources
from erpload.locust.run import ErploadRun
from erpload.locust.shapes import ProfileShape, install_shape_support
from erpload.locust.signals import install_graceful_signals
from erpload.locust.stage_stats import install_stage_stats
from erpload.locust.throughput import install_throughput
from erpload.locust.wsorder import install_ws_order
from erpload.web.ui import install_webui, load_profile_choices

__all__ = ["ErploadRun", "ProfileShape", "add_options", "install"]

PROFILES_DIR = Path(os.environ.get("ERPLOAD_PROFILES", Path(__file__).resolve().parent / "profiles"))


def add_options(parser: Any) -> None:
    """erpload's options on Locust's parser (also shown in the web UI start form)."""
    options.add_options(parser, profile_choices=load_profile_choices(PROFILES_DIR))


def install(environment: Environment) -> ErploadRun:
    """Install erpload on an Environment (every process); idempotent."""
    existing = getattr(environment, "erpload", None)
    if isinstance(existing, ErploadRun):
        return existing
    # Locust's 2-significant-digit buckets are up to 5 % off; bucketing happens where requests are
    # made, so every process (workers included) must use the fine buckets.
    locust.stats.bucket_response_time = fine_bucket
    # Configuration read in every process; a bad value exits 2 here, before any user starts.
    checks.configure_settings()  # ERPLOAD_THINK_TIME / _REQUEST_TIMEOUT / _INSECURE_TLS (users.settings)
    checks.check_credentials()  # ERPLOAD_CREDENTIALS parses
    checks.configure_api_map(environment)  # --api-map / ERPLOAD_API_MAP loads (the master may replace it)
    install_redaction(environment)  # secrets redacted once, where errors are recorded: every sink inherits it
    install_inflight(environment)  # requests still in flight at stop become failures
    run = ErploadRun(environment)
    environment.erpload = run  # type: ignore[attr-defined]
    tag_roles(list(environment.user_classes))
    run.exchange.install(environment)  # both halves of the worker -> master path, registered together
    drain_workers_before_quit(environment)
    environment.events.test_start.add_listener(run.on_any_test_start)
    run.exchange.provide("tallies", run.read_tallies)
    run.exchange.merge("tallies", run.tallies.on_payload)
    install_shape_support(environment)
    install_stage_stats(environment, run)  # per-stage numbers: filed where made, through the Exchange
    arrival.install_arrival(environment, run.exchange)
    install_throughput(environment, run)  # per-operation rates (profile `rates:`), target_rate(...) metrics
    health.install_health(environment, run)
    if not isinstance(environment.runner, WorkerRunner):
        if environment.parsed_options is not None:
            checks.validate_early(environment)  # headless: profile, credentials for its roles, report dir
            install_graceful_signals(environment, run)
        checks.install_worker_count_check(environment)
        environment.events.test_start.add_listener(run.on_test_start)
        environment.events.quitting.add_listener(run.on_quitting)
        environment.events.erpload_stage.add_listener(run.recorder.on_stage)
        run.extra_providers["rbac_violations"] = lambda: sum(
            run.tallies.totals(environment).get("rbac_violations", {}).values()
        )
    apimap.install_api_map(environment, run)  # test_start: master ships the map, a worker takes it
    install_resources(environment, run)  # after run.on_test_start: its test_start needs the run clock
    install_looplag(environment, run)  # after install_resources: its finalizer adds resources.loop_lag
    install_gctune(environment)  # workers / local: gc.freeze() after each spawn step, higher thresholds
    install_intended(environment, run)  # open model: requests timed from their intended start too
    install_correctness(environment, run)  # after run.on_test_start: reads run.profile at test start
    install_ws_order(environment, run)  # after install_correctness: adds correctness.websocket
    install_metrics(environment, run)  # Prometheus /metrics; after the others: its finalizer runs last
    if getattr(environment, "web_ui", None) is not None:
        install_webui(environment, run)
    return run


@events.init_command_line_parser.add_listener
def _on_parser(parser: Any, **_: Any) -> None:
    add_options(parser)


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    if environment.runner is not None:
        install(environment)
