"""ErploadRun: what erpload keeps for one Environment (`environment.erpload`), and the end of a run.

On the master (or local runner) at `quitting`, after the workers' final reports arrived, `finalize`
gathers the verdict's inputs (rule results, invalid entries, live abort, interruption, baseline
regressions, failures), calls the one pure `erpload.core.verdict.decide`, and writes the reports
with the exit code and notes of that same Verdict. Nothing here picks an exit code itself.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING

from erpload.core.errors import ConfigError, ErploadError, ExitCode
from erpload.core.tallies import tallies_for
from erpload.core.verdict import Verdict, VerdictInput, decide
from erpload.locust.exchange import CumulativeTallies, Exchange
from erpload.locust.history import record_run
from erpload.locust.load import OnStartDeaths, load_section
from erpload.locust.recorder import RunRecorder
from erpload.locust.shapes import current_profile
from erpload.profile import Profile, load_profile
from erpload.report import append_step_summary, write_reports
from erpload.report.baseline import compare
from erpload.report.console import verdict_block
from erpload.report.history_pool import resolve_baseline
from erpload.report.summary import ProfileInfo, RunSummary, build_summary
from erpload.sla.evaluation import evaluate

log = logging.getLogger("erpload")
LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


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
        self.tallies = CumulativeTallies(self.read_tallies)
        # Extension points for the other subsystems (resources, distributed faults, correctness):
        self.invalid: list[dict[str, Any]] = []  # {reason, detail, at_s}: any entry -> INVALID (exit 4)
        self.interrupted: dict[str, Any] | None = None  # {reason, at_s}: the first interruption
        self.finalizers: list[Any] = []  # fn(run), called first in finalize() on the master
        self.live_resources: Any = None  # fn() -> {"processes": [...], "warnings": [...]} (web UI)
        self.deaths = OnStartDeaths()  # users whose on_start raised: under-delivery (erpload.locust.load)
        environment.events.user_error.add_listener(self.deaths.on_user_error)
        self.exchange.provide("on_start_deaths", self.deaths.payload)
        self.exchange.merge("on_start_deaths", self.deaths.on_payload)

    def read_tallies(self) -> dict[str, Any]:
        """This process's cumulative correctness counters (erpload.core.tallies)."""
        return tallies_for(self.env).snapshot()

    # -- events that decide the verdict --------------------------------------------------------
    def mark_invalid(self, reason: str, detail: str) -> None:
        """Record why this run's measurement cannot be trusted (worker lost, generator saturated, ...)."""
        entry = {"reason": reason, "detail": detail, "at_s": round(self.recorder.elapsed(), 1)}
        if entry not in self.invalid:
            self.invalid.append(entry)
            self.recorder.timeline.mark_event(self.recorder.elapsed(), f"INVALID: {reason}: {detail}")
            log.error("erpload: run INVALID: %s: %s", reason, detail)

    def mark_interrupted(self, reason: str) -> None:
        """Record that the run was cut short (SIGINT/SIGTERM, the web UI's Stop): verdict ABORTED (exit 5).

        An event, not a guess from elapsed time: a graceful stop may outlast the profile and still be
        an interruption. The first one counts; later ones (a second signal, Stop) add nothing.
        """
        if self.interrupted is not None or self.finalized:
            return
        at = self.recorder.elapsed()
        self.interrupted = {"reason": reason, "at_s": round(at, 1)}
        self.recorder.timeline.mark_event(at, f"INTERRUPTED: {reason}")
        log.warning("erpload: run interrupted at %.1fs: %s (verdict: aborted)", at, reason)

    # -- lifecycle -----------------------------------------------------------------------------
    def on_any_test_start(self, environment: Environment, **_: Any) -> None:
        """Every process: a new run starts from zero counters."""
        tallies_for(environment).reset()
        self.tallies.reset()
        self.deaths.reset()

    def on_test_start(self, environment: Environment, **_: Any) -> None:
        """Master / local: a new run (web UI runs may follow each other in one process)."""
        self.finalized = False
        self.invalid = []
        self.interrupted = None
        self.exchange.role_stats.reset_all()
        self.profile = profile_or_none(environment)
        self.recorder.start(list(self.profile.sla) if self.profile else [])

    def on_quitting(self, environment: Environment, **_: Any) -> None:
        if self.finalized or self.recorder.t0 is None:
            return
        runner = environment.runner
        if runner is not None and runner.state in (STATE_SPAWNING, STATE_RUNNING):
            # Locust quit with users still running: its own SIGTERM handler or Ctrl+C with the web UI
            # (headless signals are marked by erpload.locust.signals before the runner stops)
            self.mark_interrupted(f"quit while {runner.user_count} users were running")
        self.finalized = True
        try:
            self.finalize()
        except Exception:
            log.exception("erpload: building the verdict failed")
            environment.process_exit_code = int(ExitCode.INTERNAL_ERROR)

    def extra_metrics(self) -> dict[str, Any]:
        """The SLA "extra" metrics (resources, RBAC) as the providers see them now."""
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

    # -- the end of a run ----------------------------------------------------------------------
    def finalize(self) -> None:
        """Evaluate every rule on the merged data, gather the verdict's inputs, decide, write the reports."""
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
        load, under = load_section(self, profile)
        invalid = self.invalid + under
        info = (
            ProfileInfo(profile.name, str(profile.source_path or ""), profile.description)
            if profile
            else None
        )
        baseline, regressions, problem = self._baseline(
            lambda: build_summary(  # load: open or closed model; errors: which failures were cut off at stop
                end,
                results,
                exit_code=0,
                profile=info,
                load=load,
                errors=[e.serialize() for e in env.stats.errors.values()],
            )
        )
        if problem:  # the regression check could not be evaluated: never a pass (fail closed)
            invalid = [
                *invalid,
                {"reason": "baseline not evaluated", "detail": problem, "at_s": rec.elapsed()},
            ]
        runner = env.runner
        verdict = decide(
            VerdictInput(
                rule_results=results,
                invalid=invalid,
                live_abort=f"{rec.trip.rule.title} at {rec.trip.at_s:.0f}s" if rec.trip else "",
                interrupted=self._interruption(profile),
                regressions=regressions,
                baseline=str(getattr(env.parsed_options, "baseline", "") or ""),
                failures=env.stats.total.num_failures,
                exceptions=len(runner.exceptions) if runner is not None else 0,
            )
        )
        rec.timeline.close(rec.elapsed())
        summary = build_summary(
            end,
            results,
            exit_code=int(verdict.exit_code),
            profile=info,
            started_at=rec.started_wall,
            ended_at=time.time(),
            host=env.host or "",
            workers=rec.max_workers,
            errors=[e.serialize() for e in env.stats.errors.values()],
            exceptions=list(runner.exceptions.values()) if runner is not None else [],
            timeline=rec.timeline.to_dict(),
            baseline=baseline,
            resources=self.resources or None,
            load=load,
            invalid=invalid,
            notes=list(verdict.notes),
            correctness=getattr(self, "correctness", None),
        )
        # the console verdict block: think times, SLA lines, and every problem found, ruled on or not
        for level, line in verdict_block(summary, sla=bool(rules or profile)):
            log.log(LEVELS[level], "%s", line)
        code = self._report(summary, verdict)
        record_run(env.parsed_options, summary, int(code))  # after the reports; never changes the code
        if rules or profile or code != ExitCode.PASS:
            env.process_exit_code = int(code)

    def _interruption(self, profile: Profile | None) -> str:
        if self.interrupted is None:
            return ""
        of = f" of a {profile.duration_s:.0f}s profile" if profile is not None else ""
        return f"{self.interrupted['reason']} (at {self.interrupted['at_s']:.1f}s{of})"

    def _baseline(self, current: Callable[[], RunSummary]) -> tuple[dict[str, Any] | None, int, str]:
        """(comparison for summary.json, number of regressions, why it could not be evaluated) against --baseline.

        `current()` builds this run's endpoint table (only the endpoints are compared, not the verdict).
        """
        opts = self.env.parsed_options
        path = getattr(opts, "baseline", "") if opts is not None else ""
        if not path:
            return None, 0, ""
        try:
            profile = self.profile or current_profile(self.env)  # a history: baseline is this profile's runs
            base = resolve_baseline(path, getattr(opts, "history", ""), profile.name if profile else "")
            comparison = compare(
                current(),
                base,
                tolerance=opts.baseline_tolerance,
                compare_rps=True if getattr(opts, "baseline_rps", False) else None,  # else: open model only
                min_samples=int(getattr(opts, "baseline_min_samples", 100)),
            )
        except ConfigError as e:
            return None, 0, f"baseline {path}: {'; '.join(str(p) for p in e.problems)}"
        except ValueError as e:
            return None, 0, f"baseline {path}: {e}"
        problem = f"baseline {path}: {comparison.problem}" if comparison.problem else ""  # fail closed
        return comparison.to_dict(), len(comparison.regressions), problem

    def _report(self, summary: RunSummary, verdict: Verdict) -> ExitCode:
        """Log the notes, write the reports; the exit code (6 when the reports could not be written)."""
        for n in summary.notes:
            log.warning("erpload: %s", n)
        code = verdict.exit_code
        report_dir = getattr(self.env.parsed_options, "report_dir", "")
        if not report_dir:
            log.info("erpload: verdict %s (exit %d)", verdict.label, int(code))
            return code
        try:
            paths = write_reports(summary, report_dir)
        except ErploadError as e:  # a report that could not be written: the process must not look green
            log.error("erpload: %s", e.render())
            return e.exit_code
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            append_step_summary(paths["markdown"].read_text())
        log.info(
            "erpload: verdict %s (exit %d); reports: %s",
            verdict.label,
            int(code),
            ", ".join(str(p) for p in paths.values()),
        )
        return code


def profile_or_none(environment: Environment) -> Profile | None:
    """The profile this run follows: the shape's, else --load-profile's; None without one."""
    profile = current_profile(environment)
    if profile is not None:
        return profile
    path = getattr(environment.parsed_options, "load_profile", "")
    return load_profile(path, known_roles=[c.__name__ for c in environment.user_classes]) if path else None
