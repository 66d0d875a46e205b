"""erpload's command-line options on Locust's parser: one place for every flag and its ERPLOAD_* variable.

Locust forwards custom options to workers in the spawn message, shows them in the web UI's start
form unless `include_in_web_ui=False`, and reads them from locust.conf / pyproject.toml too.
They form one "erpload options" group of the parser (`OptionGroup` keeps Locust's extra kwargs
working there); `erpload run --help` shows the same group, built by this same `add_options`.
Locust 2.47 prints `locust --help` before it imports any locustfile, so no plugin's options
appear there; `erpload run --help` is where they are listed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

GROUP_TITLE = "erpload options"
GROUP_DESCRIPTION = (
    "Added by erpload: load profiles, SLA verdicts and reports, resources, distributed-run health."
)
LOCUST_EXTRAS = {"include_in_web_ui": True, "is_secret": False, "is_required": False, "is_multiple": False}


class OptionGroup:
    """An argument group that takes Locust's extra add_argument kwargs (include_in_web_ui, ...).

    `LocustArgumentParser.add_argument` pops them and stores them on the action; a group's
    add_argument (argparse's, which configargparse extends with env_var) would reject them, so this
    does what the parser does. The web UI reads them from `parser._actions`, which a group shares.
    """

    def __init__(self, group: Any) -> None:
        self._group = group

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        extras = {key: kwargs.pop(key, default) for key, default in LOCUST_EXTRAS.items()}
        action = self._group.add_argument(*args, **kwargs)
        for key, value in extras.items():
            setattr(action, key, value)
        return action


def add_options(parser: Any, profile_choices: Sequence[str] | None = None) -> None:
    """Add every erpload option as one group of `parser`; `profile_choices` fills the web UI's
    --load-profile dropdown."""
    group = OptionGroup(parser.add_argument_group(GROUP_TITLE, GROUP_DESCRIPTION))
    _run_options(group, profile_choices)
    _resource_options(group)
    _distributed_options(group)
    _metrics_options(group)


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
        "--api-map",
        default="",
        env_var="ERPLOAD_API_MAP",
        metavar="PATH",
        help="API map YAML: how your ERP speaks (base path, login, list envelope, renamed operations and "
        "fields, role pools; see docs/your-erp.md). Which map a run uses: --api-map / ERPLOAD_API_MAP, "
        "else the load profile's `api:`, else the built-in reference map. The master sends it to the "
        "workers; checked against the target before any load (login plus one list call: exit 2 if it "
        "does not fit)",
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
        help="summary.json of a baseline run: per-endpoint p95/p99/error-rate regressions (95%% CI beyond the "
        "tolerance; rps in open-model runs) fail the verdict; "
        "or history:BRANCH[:N], the last N (default 5) passing runs of this profile on BRANCH in --history, pooled",
    )
    parser.add_argument(
        "--history",
        default="",
        env_var="ERPLOAD_HISTORY",
        is_secret=True,  # a postgresql:// URL may carry a password: masked in the web UI form
        help="record every finished run in this run history: an SQLite file (created if missing) or a "
        "postgresql:// URL; list and chart it with `erpload history DB` (see docs/sla-and-reports.md)",
    )
    parser.add_argument(
        "--baseline-tolerance",
        type=float,
        default=0.10,
        env_var="ERPLOAD_BASELINE_TOLERANCE",
        help="relative regression tolerance against --baseline (default 0.10 = 10%%)",
    )
    parser.add_argument(
        "--baseline-rps",
        action="store_true",
        default=False,
        env_var="ERPLOAD_BASELINE_RPS",
        help="compare per-endpoint rps with --baseline in a closed-model run too (open-model runs always)",
    )
    parser.add_argument(
        "--baseline-min-samples",
        type=int,
        default=100,
        env_var="ERPLOAD_BASELINE_MIN_SAMPLES",
        help="fewest requests per side for a p95 verdict against --baseline (default 100, at least 20; "
        "p99 needs 5x): fewer is 'inconclusive'",
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
    parser.add_argument(
        "--max-loop-lag",
        type=float,
        default=50.0,
        env_var="ERPLOAD_MAX_LOOP_LAG",
        metavar="MS",
        help="a load generator whose event-loop lag p99 over 30 s exceeds this many ms makes the run "
        "INVALID (default 50; erpload.locust.looplag)",
    )
    parser.add_argument(
        "--gc-tuning",
        default="on",
        choices=("on", "off"),
        env_var="ERPLOAD_GC_TUNING",
        include_in_web_ui=False,
        help="on (default): every process that runs users freezes what is alive after each spawn step "
        "(gc.freeze) and raises the collector's thresholds, so garbage-collector pauses stop growing "
        "with the users (more users per core under a low loop lag); off: Python's collector as is "
        "(erpload.locust.gctune)",
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


def _metrics_options(parser: Any) -> None:
    """--metrics-port, --metrics-host, --metrics-linger (erpload.locust.metrics_server; master only)."""
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=0,
        env_var="ERPLOAD_METRICS_PORT",
        include_in_web_ui=False,
        help="serve Prometheus metrics at http://HOST:PORT/metrics from the master (for headless runs; "
        "the web UI serves /metrics on its own port). 0 (default): no extra port. See docs/observability.md",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        env_var="ERPLOAD_METRICS_HOST",
        include_in_web_ui=False,
        help="interface for --metrics-port (default 127.0.0.1; the port has no login: 0.0.0.0 only on a "
        "trusted network, e.g. a compose network)",
    )
    parser.add_argument(
        "--metrics-linger",
        type=float,
        default=0.0,
        env_var="ERPLOAD_METRICS_LINGER",
        include_in_web_ui=False,
        help="after the verdict, keep the master up until one scrape has read the final metrics, at most "
        "this many seconds (default 0: exit at once; set it above your scrape interval)",
    )
