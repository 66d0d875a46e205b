"""erpload's command-line options on Locust's parser: one place for every flag and its ERPLOAD_* variable.

Locust forwards custom options to workers in the spawn message, shows them in the web UI's start
form unless `include_in_web_ui=False`, and reads them from locust.conf / pyproject.toml too.
Locust's extra kwargs (include_in_web_ui, is_secret, ...) only work on the parser itself, never on
an argument group, so everything is added to `parser` directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def add_options(parser: Any, profile_choices: Sequence[str] | None = None) -> None:
    """Add every erpload option; `profile_choices` fills the web UI's --load-profile dropdown."""
    _run_options(parser, profile_choices)
    _resource_options(parser)
    _distributed_options(parser)


def _run_options(parser: Any, profile_choices: Sequence[str] | None) -> None:
    parser.add_argument(
        "--load-profile",
        default="",
        env_var="ERPLOAD_LOAD_PROFILE",
        metavar="PATH",
        choices=profile_choices,  # web UI dropdown; any path is accepted (see erpload.web.form)
        help="load profile YAML (stages, role mix, SLA rules; see docs/profiles.md). A profile run "
        "sets users, ramp and role mix per stage: the users / ramp up fields are ignored",
    )
    parser.add_argument(
        "--report-dir",
        default="",
        env_var="ERPLOAD_REPORT_DIR",
        help="write summary.json, junit.xml, summary.md and report.html here (atomically)",
    )
    parser.add_argument(
        "--baseline",
        default="",
        env_var="ERPLOAD_BASELINE",
        help="summary.json of a baseline run: per-endpoint p95/p99/rps/error-rate regressions fail the verdict",
    )
    parser.add_argument(
        "--baseline-tolerance",
        type=float,
        default=0.10,
        env_var="ERPLOAD_BASELINE_TOLERANCE",
        help="relative regression tolerance against --baseline (default 0.10 = 10%%)",
    )
    parser.add_argument(
        "--sample-interval",
        type=float,
        default=1.0,
        include_in_web_ui=False,
        help="seconds between timeline samples on the master (default 1)",
    )


def _resource_options(parser: Any) -> None:
    """--resource-interval, --target-pid, --target-metrics, --worker-cpu-limit (erpload.locust.resources)."""
    parser.add_argument(
        "--resource-interval",
        type=float,
        default=1.0,
        env_var="ERPLOAD_RESOURCE_INTERVAL",
        include_in_web_ui=False,
        help="seconds between resource samples in every process (default 1)",
    )
    parser.add_argument(
        "--target-pid",
        type=int,
        default=0,
        env_var="ERPLOAD_TARGET_PID",
        help="PID of a local target process to monitor (CPU, RSS, leaks; children included)",
    )
    parser.add_argument(
        "--target-metrics",
        default="",
        env_var="ERPLOAD_TARGET_METRICS",
        help="Prometheus /metrics URL of the target (process_cpu_seconds_total, process_resident_memory_bytes)",
    )
    parser.add_argument(
        "--worker-cpu-limit",
        type=float,
        default=90.0,
        env_var="ERPLOAD_WORKER_CPU_LIMIT",
        help="a load generator above this CPU %% for 10 s makes the run INVALID (default 90)",
    )


def _distributed_options(parser: Any) -> None:
    """--master-timeout, --worker-lost-timeout (erpload.locust.health; every process reads its own)."""
    parser.add_argument(
        "--master-timeout",
        type=float,
        default=15.0,
        env_var="ERPLOAD_MASTER_TIMEOUT",
        include_in_web_ui=False,
        help="worker: exit (code 4) after N s without a heartbeat from the master (default 15; "
        "Locust alone waits 60)",
    )
    parser.add_argument(
        "--worker-lost-timeout",
        type=float,
        default=3.0,
        env_var="ERPLOAD_WORKER_LOST_TIMEOUT",
        include_in_web_ui=False,
        help="master: a worker silent for N s mid-run is lost and the run INVALID (default 3)",
    )
