"""Composition root: erpload's Locust CLI options and `install(environment)`.

The only module with module-level Locust hooks. Importing it (directly, or through
`locustfiles/harness.py`) adds the options, installs everything on `init` in every process, and
re-exports `ProfileShape`, so a user's own locustfile needs one line::

    from erpload.plugin import ProfileShape  # noqa: F401
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import locust.stats
from locust import events
from locust.env import Environment
from locust.runners import WorkerRunner

from erpload.core.errors import ConfigError, ExitCode
from erpload.core.histogram import fine_bucket
from erpload.locust import arrival, health
from erpload.locust.correctness import install_correctness
from erpload.locust.exchange import CumulativeTallies, Exchange, drain_workers_before_quit, tag_roles
from erpload.locust.recorder import RunRecorder
from erpload.locust.resources import add_resource_options, install_resources
from erpload.locust.shapes import ProfileShape, current_profile, install_shape_support
from erpload.profile.model import Profile, load_profile
from erpload.report import append_step_summary, write_reports
from erpload.report.baseline import compare
from erpload.report.markdown import render_markdown
from erpload.report.summary import ProfileInfo, build_summary
from erpload.sla.evaluation import evaluate, verdict_lines
from erpload.users import base as erp_users
from erpload.users import credentials
from erpload.web.ui import install_webui, load_profile_choices

__all__ = ["ProfileShape", "install", "add_options"]

log = logging.getLogger("erpload")
PROFILES_DIR = Path(os.environ.get("ERPLOAD_PROFILES", Path(__file__).resolve().parents[2] / "profiles"))


def add_options(parser: Any) -> None:
    """erpload's options on Locust's parser (also shown in the web UI start form)."""
    g = parser  # Locust's extra kwargs (include_in_web_ui, ...) only work on the parser itself, not on groups
    g.add_argument(
        "--load-profile",
        default="",
        env_var="ERPLOAD_LOAD_PROFILE",
        metavar="PATH",
        choices=load_profile_choices(PROFILES_DIR),  # web UI dropdown; any path is accepted
        help="load profile YAML (stages, role mix, SLA rules; see docs/profiles.md). A profile run "
        "sets users, ramp and role mix per stage: the users / ramp up fields are ignored",
    )
    g.add_argument(
        "--report-dir",
        default="",
        env_var="ERPLOAD_REPORT_DIR",
        help="write summary.json, junit.xml, summary.md and report.html here (atomically)",
    )
    g.add_argument(
        "--baseline",
        default="",
        env_var="ERPLOAD_BASELINE",
        help="summary.json of a baseline run: per-endpoint p95/p99/rps/error-rate regressions fail the verdict",
    )
    g.add_argument(
        "--baseline-tolerance",
        type=float,
        default=0.10,
        env_var="ERPLOAD_BASELINE_TOLERANCE",
        help="relative regression tolerance against --baseline (default 0.10 = 10%%)",
    )
    g.add_argument(
        "--sample-interval",
        type=float,
        default=1.0,
        include_in_web_ui=False,
        help="seconds between timeline samples on the master (default 1)",
    )
    add_resource_options(g)
    health.add_options(g)


class ErploadRun:
    """Everything erpload keeps for one Environment; attached as `environment.erpload`."""

    def __init__(self, environment: Environment) -> None:
        self.env = environment
        self.exchange = Exchange()
        self.recorder = RunRecorder(
            environment,
            self.exchange.role_stats,
            interval=float(getattr(environment.parsed_options, "sample_interval", 1.0) or 1.0),
        )
        self.profile: Profile | None = None
        self.finalized = False
        self.extra_providers: dict[str, Any] = {}  # name -> fn() -> value for SLA "extra" metrics
        self.resources: dict[str, Any] = {}
        self.tallies = CumulativeTallies(_read_tallies)
        # Extension points for the other subsystems (resources, distributed faults, correctness):
        self.invalid: list[
            dict[str, Any]
        ] = []  # {reason, detail, at_s}: any entry makes the run INVALID (exit 4)
        self.finalizers: list[
            Any
        ] = []  # fn(run) called first in finalize(), on the master, before the verdict
        self.live_resources: Any = (
            None  # fn() -> {"processes": [...], "warnings": [...]} for the web UI (resources)
        )

    # -- lifecycle ---------------------------------------------------------------------------
    def on_any_test_start(self, environment: Environment, **_: Any) -> None:
        """Every process: a new run starts from zero counters."""
        erp_users.reset_tallies()
        self.tallies.reset()

    def mark_invalid(self, reason: str, detail: str) -> None:
        """Record why this run's measurement cannot be trusted (worker lost, generator saturated, ...)."""
        entry = {"reason": reason, "detail": detail, "at_s": round(self.recorder.elapsed(), 1)}
        if entry not in self.invalid:
            self.invalid.append(entry)
            self.recorder.timeline.mark_event(self.recorder.elapsed(), f"INVALID: {reason}: {detail}")
            log.error("erpload: run INVALID: %s: %s", reason, detail)

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        self.finalized = False
        self.invalid = []
        self.exchange.role_stats.reset_all()
        self.profile = _profile_or_none(environment)
        self.recorder.start(list(self.profile.sla) if self.profile else [])

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        if self.finalized or self.recorder.t0 is None:
            return
        self.finalized = True
        try:
            self.finalize()
        except Exception:
            log.exception("erpload: building the verdict failed")
            environment.process_exit_code = int(ExitCode.INTERNAL_ERROR)

    # -- verdict -----------------------------------------------------------------------------
    def extra_metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, fn in self.extra_providers.items():
            try:
                value = fn()
            except Exception:
                log.exception("erpload: metric %s failed", name)
                continue
            if value is not None:
                out[name] = value
        return out

    def finalize(self) -> None:
        """Evaluate every rule on the merged data, decide the exit code, write the reports."""
        env, rec = self.env, self.recorder
        rec.stop()
        for fn in self.finalizers:
            try:
                fn(self)
            except Exception:
                log.exception("erpload: finalizer %r failed", fn)
        rec.sample()  # last point, after the workers' final reports arrived
        end = rec.snapshot(self.extra_metrics())
        profile = self.profile or current_profile(env)
        rules = list(profile.sla) if profile else []
        results = evaluate(rules, end, rec.windows(end))
        notes: list[str] = []
        load, invalid = self._load_section(profile)
        invalid = self.invalid + invalid
        code = self._exit_code(results, profile, notes, invalid)

        baseline = None
        opts = env.parsed_options
        if getattr(opts, "baseline", ""):
            try:
                base = json.loads(Path(opts.baseline).read_text())
                pre = build_summary(end, results, exit_code=int(code), host=env.host or "")
                comparison = compare(pre.to_dict(), base, tolerance=opts.baseline_tolerance)
                baseline = comparison.to_dict()
                if comparison.regressions and code in (ExitCode.PASS, ExitCode.REQUEST_FAILURES):
                    code = ExitCode.SLA_BREACHED
                    notes.append(
                        f"{len(comparison.regressions)} regression(s) against baseline {opts.baseline}"
                    )
            except (OSError, ValueError) as e:
                notes.append(f"baseline {opts.baseline} not used: {e}")

        rec.timeline.close(rec.elapsed())
        summary = build_summary(
            end,
            results,
            exit_code=int(code),
            profile=ProfileInfo(profile.name, str(profile.source_path or ""), profile.description)
            if profile
            else None,
            started_at=rec.started_wall,
            ended_at=time.time(),
            host=env.host or "",
            workers=rec.max_workers,
            errors=[e.serialize() for e in env.stats.errors.values()],
            timeline=rec.timeline.to_dict(),
            baseline=baseline,
            resources=self.resources or None,
            load=load,
            invalid=invalid,
            notes=notes,
            correctness=getattr(self, "correctness", None),
        )
        if rules or profile:
            for line in verdict_lines(results):
                log.info("%s", line)
        for n in notes:
            log.warning("erpload: %s", n)
        for i in invalid:
            log.error("erpload: INVALID run: %s at %ss: %s", i["reason"], i.get("at_s"), i["detail"])
        if getattr(opts, "report_dir", ""):
            paths = write_reports(summary, opts.report_dir)
            if os.environ.get("GITHUB_STEP_SUMMARY"):
                append_step_summary(render_markdown(summary))
            log.info(
                "erpload: verdict %s (exit %d); reports: %s",
                summary.verdict,
                int(code),
                ", ".join(str(p) for p in paths.values()),
            )
        if rules or profile or code != ExitCode.PASS:
            env.process_exit_code = int(code)

    def _load_section(self, profile: Profile | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """What load was delivered (users per role, open-model iterations) and whether it was enough."""
        invalid: list[dict[str, Any]] = []
        tallies = self.tallies.totals(self.env)
        load: dict[str, Any] = {
            "model": "open" if profile is not None and profile.is_open else "closed",
            "final_users": self.exchange.role_counts(self.env),
            "rbac_violations": tallies.get("rbac_violations", {}),
            "conflicts": tallies.get("conflicts", {}),
            "sessions": tallies.get("sessions", {}),
        }
        if profile is not None and profile.is_open:
            totals = arrival.arrival_totals(self.env)
            planned = totals.get("planned", 0)
            ratio = totals.get("dropped", 0) / planned if planned else 0.0
            load.update(
                planned_iterations=planned,
                started_iterations=totals.get("started", 0),
                dropped_iterations=totals.get("dropped", 0),
                dropped_ratio=round(ratio, 6),
                allowed_dropped_ratio=profile.allow.dropped_iterations,
            )
            if ratio > profile.allow.dropped_iterations:
                invalid.append(
                    {
                        "reason": "load under-delivered",
                        "at_s": round(self.recorder.elapsed(), 1),
                        "detail": f"{totals.get('dropped', 0)} of {planned} planned iterations dropped "
                        f"({ratio:.1%} > allowed {profile.allow.dropped_iterations:.1%}): "
                        f"add users to the arrival stages or more workers",
                    }
                )
        return load, invalid

    def _exit_code(
        self, results: list, profile: Profile | None, notes: list[str], invalid: list[dict[str, Any]]
    ) -> ExitCode:
        env, rec = self.env, self.recorder
        if rec.trip is not None:
            notes.append(f"stopped early at {rec.trip.at_s:.0f}s by live SLA rule: {rec.trip.rule.title}")
            return ExitCode.SLA_BREACHED
        run_time = getattr(env.parsed_options, "run_time", None) or 0
        capped = bool(run_time) and rec.elapsed() >= run_time - 1.0  # -t cut the profile short on purpose
        if profile is not None and rec.elapsed() < profile.duration_s - 1.0 and not capped:
            notes.append(f"interrupted at {rec.elapsed():.0f}s of a {profile.duration_s:.0f}s profile")
            return ExitCode.ABORTED
        if invalid:
            return ExitCode.RUN_INVALID
        if env.runner is not None and env.runner.exceptions:
            notes.append(f"{len(env.runner.exceptions)} distinct unhandled exception(s) in user code")
        if results:
            return ExitCode.PASS if all(r.passed for r in results) else ExitCode.SLA_BREACHED
        if env.stats.total.num_failures or (env.runner is not None and env.runner.exceptions):
            return ExitCode.REQUEST_FAILURES
        return ExitCode.PASS


def _profile_or_none(environment: Environment) -> Profile | None:
    profile = current_profile(environment)
    if profile is not None:
        return profile
    path = getattr(environment.parsed_options, "load_profile", "")
    return load_profile(path, known_roles=[c.__name__ for c in environment.user_classes]) if path else None


def _validate_early(environment: Environment) -> None:
    """Fail before any user spawns (headless): exit 2 with every problem listed."""
    path = getattr(environment.parsed_options, "load_profile", "")
    if not path:
        return
    try:
        load_profile(path, known_roles=[c.__name__ for c in environment.user_classes])
    except ConfigError as e:
        sys.stderr.write(e.render() + "\n")
        sys.stderr.flush()
        logging.shutdown()
        os._exit(int(ExitCode.CONFIG_INVALID))  # nothing started yet; skip Locust's shutdown path


def install(environment: Environment) -> ErploadRun:
    """Install erpload on an Environment (every process); idempotent."""
    existing = getattr(environment, "erpload", None)
    if isinstance(existing, ErploadRun):
        return existing
    # Locust's 2-significant-digit buckets are up to 5 % off; bucketing happens where requests are
    # made, so every process (workers included) must use the fine buckets.
    locust.stats.bucket_response_time = fine_bucket
    run = ErploadRun(environment)
    environment.erpload = run  # type: ignore[attr-defined]
    _check_credentials()
    tag_roles(list(environment.user_classes))
    run.exchange.install(environment)
    drain_workers_before_quit(environment)
    environment.events.test_start.add_listener(run.on_any_test_start)
    run.exchange.provide("tallies", _read_tallies)
    run.exchange.merge("tallies", run.tallies.on_payload)
    install_shape_support(environment)
    arrival.install_arrival(environment, run.exchange)
    health.install_health(environment, run)
    if not isinstance(environment.runner, WorkerRunner):
        if environment.parsed_options is not None:
            _validate_early(environment)
            _graceful_signals(environment)
        environment.events.test_start.add_listener(run.on_test_start)
        environment.events.quitting.add_listener(run.on_quitting)
        environment.events.erpload_stage.add_listener(run.recorder.on_stage)
        run.extra_providers["rbac_violations"] = lambda: sum(
            run.tallies.totals(environment).get("rbac_violations", {}).values()
        )
    install_resources(environment, run)  # after run.on_test_start: its test_start needs the run clock
    install_correctness(environment, run)  # after run.on_test_start: reads run.profile at test start
    if getattr(environment, "web_ui", None) is not None:
        install_webui(environment, run)
    return run


def _read_tallies() -> dict[str, Any]:
    """This process's cumulative correctness counters (see erpload.users.base)."""
    return {
        "rbac_violations": erp_users.rbac_violations(),
        "conflicts": erp_users.conflicts(),
        "sessions": erp_users.session_counts(),
        "ledger": erp_users.stock_ledger(),
    }


def _graceful_signals(environment: Environment) -> None:
    """SIGINT/SIGTERM stop a headless run cleanly: every report written, exit "aborted"; a second one exits at once.

    Locust installs its SIGTERM handler only after `start_automatic_run()`, which blocks for a whole
    shape run: until then SIGTERM (how Docker/Kubernetes stop a container) kills the process with no
    report at all, and afterwards Locust's handler skips --html. Ctrl+C raises KeyboardInterrupt in
    whichever greenlet happens to run (a traceback from the middle of a log call). gevent's loop-level
    watchers run between greenlets instead; we quit the runner from a fresh greenlet and Locust's
    normal end-of-run path does the rest (--html, `quitting` -> our reports, exit code).
    """
    if not getattr(environment.parsed_options, "headless", False):
        return
    seen: list[int] = []

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if seen:
            sys.stderr.write(f"erpload: second {name}: exiting at once (exit {int(ExitCode.ABORTED)})\n")
            sys.stderr.flush()
            os._exit(int(ExitCode.ABORTED))
        seen.append(signum)
        log.warning(
            "erpload: got %s: stopping the run and writing reports (send it again to exit at once)", name
        )
        if environment.runner is not None:
            gevent.spawn(environment.runner.quit)

    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, on_signal, signum)


def _check_credentials() -> None:
    """A bad credentials file is a configuration error: exit 2 before any user logs in."""
    try:
        credentials.pool()
    except ConfigError as e:
        sys.stderr.write(e.render() + "\n")
        sys.stderr.flush()
        logging.shutdown()
        os._exit(int(ExitCode.CONFIG_INVALID))


@events.init_command_line_parser.add_listener
def _on_parser(parser: Any, **_: Any) -> None:
    add_options(parser)


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    if environment.runner is not None:
        install(environment)
