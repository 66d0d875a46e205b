"""Capacity search in ONE Locust run: the shape picks each next level from the last level's verdict.

Design: one run with a dynamic shape, not one run per level. `ProfileShape` hands its tick to a
`CapacityDriver` when the profile says `mode: capacity`. Each level is a settle (ramp to it, let
queues drain or build; not measured: at least `settle`, then until the response times are steady)
and a hold (measured: at least `hold`, on while a percentile's interval holds its threshold; both
per erpload.profile.capacity_judge); then the driver evaluates the profile's rules (the same
`evaluate` as the final verdict) on the hold's window (a cumulative snapshot at its end minus one at
its start) and the pure `erpload.profile.capacity_search.CapacitySearch` names the next level. Why one run:
- the users stay logged in and the ERP stays warm (caches, connection pools, sessions), so a
  level measures the ERP at that load, not a cold start, and no level pays a login storm;
- the search is adaptive (bisect needs the last verdict), which a list of separate runs could only
  do by being driven from outside, with a process start and a fresh ramp per level;
- one timeline, one report, one exit code: the levels are stage marks on the same charts.
The cost: a level inherits the queue the previous level left (and reaching it makes a login storm):
the settle is there for that, and both boundary levels are run twice. Exit codes stay erpload.core.verdict's: 0 with a confirmed capacity (or ">= max") that
meets `required`; 3 when no level held ("< start") or the capacity is below `required`; 4 when a
level's users could not be started (the generator was the limit); 5 interrupted mid-search.

Every level's window becomes a stage mark ("settle 20 users", "level 20 users", "confirm 20
users", "retest 24 users"); at the end a finalizer points the profile's rules at the evidence window (the confirmed
level; with no capacity, the lowest level that broke) so the run's verdict, SLA table and exit
code are the evidence's, adds the capacity section to summary.json (`resources.capacity`, until
RunSummary has its own field) and serves `capacity_users` / `capacity_rate` for `required`.
On a master, a window's edges lag by up to one worker report (3 s): hold well above that.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from locust.runners import STATE_INIT, STATE_STOPPED

from erpload.core.snapshot import Snapshot
from erpload.locust import arrival
from erpload.locust.dispatch import RoleTargets
from erpload.profile import Profile, allocate
from erpload.profile import capacity_judge as cj
from erpload.profile.capacity_search import SEARCH, CapacityOutcome, CapacitySearch, RuleObservation
from erpload.profile.capacity_spec import CAPACITY_METRICS
from erpload.report.capacity_report import console_lines
from erpload.sla.evaluation import LiveAbortTracker, evaluate
from erpload.sla.grammar import Rule

log = logging.getLogger("erpload")
SPAWN_GRACE_S = 30.0  # after `settle`, how long a level may still wait for its users to be running
NO_EVIDENCE = "stage:capacity (no level measured)"  # the window the rules point at without evidence


class CapacityDriver:
    """Runs the levels of one capacity search from the shape's ticks (master / local runner)."""

    def __init__(self, shape: Any, profile: Profile) -> None:
        self.shape, self.env, self.profile = shape, shape.environment, profile
        self.spec = profile.capacity
        self.search = CapacitySearch(self.spec)
        self.rules = [r for r in profile.sla if r.metric not in CAPACITY_METRICS.values()]
        self.early = [
            replace(self.rules[i], abort=True) for i in self.spec.early_break if i < len(self.rules)
        ]
        self.level_t: float | None = None  # shape time the current level began (its settle)
        self.hold_t: float | None = None  # shape time its hold began
        self.hold_at = 0.0  # recorder time its hold began (the timeline's clock)
        self.settle_snaps: list[tuple[float, Snapshot]] = []  # (shape time, snapshot) while settling
        self.steady_run = 0  # consecutive settle ticks whose response times held steady
        self.base: Snapshot | None = None
        self.tracker: LiveAbortTracker | None = None
        self.stage = ""
        self.index = 0
        self._tick: tuple[int, float, RoleTargets] | None = None
        self._level = 0.0
        self.outcome: CapacityOutcome | None = None
        self.arrivals: dict[str, int] = {}
        run = getattr(self.env, "erpload", None)
        if run is not None:
            run.finalizers[:] = [
                f for f in run.finalizers if not isinstance(getattr(f, "__self__", None), type(self))
            ]
            run.finalizers.append(self.finalize)  # appended now: after the subsystems' (resources first)
            run.extra_providers[self.spec.metric] = self.capacity_value

    # -- what the shape asks ---------------------------------------------------------------------
    def rate(self) -> float | None:
        """Open model: the current level's arrival rate (0 once the search is over)."""
        return self._level if self.spec.is_open and not self.search.done else 0.0

    def tick(self, t: float) -> tuple[int, float, RoleTargets] | None:
        """The current level's targets; None (the run stops) once the search is over."""
        if self.search.done:
            self._finish()
            return None
        if not self._live():  # before test_start: the recorder's marks and the stats are reset then
            return self._targets(self.search.next_level()[0], t)  # type: ignore[index]
        level, phase = self.search.next_level()  # type: ignore[misc]
        if self.level_t is None:
            self._begin(level, phase, t)
        elif self.hold_t is None:
            self._maybe_hold(level, phase, t)
        else:
            self._maybe_end(t)
            if self.search.done:
                self._finish()
                return None
        return self._tick

    # -- the levels ------------------------------------------------------------------------------
    def _begin(self, level: float, phase: str, t: float) -> None:
        self.level_t, self.hold_t, self.base, self.tracker, self.settle_snaps = t, None, None, None, []
        what = f"{'' if phase == SEARCH else phase + ' '}{self.spec.fmt(level)}"
        self._mark(f"settle {what}")
        self._targets(level, t)
        log.info("erpload: capacity %s %s: settle %.0fs or until steady, then hold %.0fs or until judged",
                 phase, self.spec.fmt(level), self.spec.settle_s, self._hold_s(phase))  # fmt: skip

    def _hold_s(self, phase: str) -> float:
        """The minimum hold: `confirm` for a level run again (either side of the boundary), else `hold`."""
        return self.spec.hold_s if phase == SEARCH else self.spec.confirm_s

    def _steady_tick(self, t: float) -> bool:
        """Sample the settle; True once the mean response time held steady STEADY_CHECKS ticks in a row."""
        now = self._snapshot()
        self.settle_snaps = [(ts, s) for ts, s in self.settle_snaps if ts >= t - 2 * cj.STEADY_WINDOW_S - 1.5]
        self.settle_snaps.append((t, now))
        mid = [s for ts, s in self.settle_snaps if ts <= t - cj.STEADY_WINDOW_S + 0.25]
        old = [s for ts, s in self.settle_snaps if ts <= t - 2 * cj.STEADY_WINDOW_S + 0.25]
        pair = (cj.mean_ms(mid[-1].minus(old[-1])), cj.mean_ms(now.minus(mid[-1]))) if mid and old else None
        self.steady_run = self.steady_run + 1 if pair is not None and cj.steady(*pair) else 0
        return self.steady_run >= cj.STEADY_CHECKS

    def _maybe_hold(self, level: float, phase: str, t: float) -> None:
        assert self.level_t is not None
        waited = t - self.level_t
        settled = self._steady_tick(t)
        if waited < self.spec.settle_s:
            return
        want = self._tick[0] if self._tick else 0
        running = int(getattr(self.env.runner, "user_count", 0) or 0)
        if running < want and waited < self.spec.settle_s + SPAWN_GRACE_S:
            return  # users still starting: a level is only measured with its users running
        if running < want:
            self._invalid(
                f"{running} of {want} users running after {waited:.0f}s at level {self.spec.fmt(level)}"
            )
        elif not settled and waited < self.spec.settle_s + max(cj.SETTLE_EXTEND_S, self.spec.settle_s):
            return  # the backlog of reaching the level still drains (or builds): not measured yet
        elif not settled:
            log.warning("erpload: capacity %s: response times still moving after a %.0fs settle; "
                        "holding anyway", self.spec.fmt(level), waited)  # fmt: skip
        self.hold_t, self.base = t, self._snapshot()
        self.arrivals = arrival.arrival_totals(self.env) if self.spec.is_open else {}
        self.hold_at = self._rec().elapsed()
        self.stage = f"{'level' if phase == SEARCH else phase} {self.spec.fmt(level)}"
        self._mark(self.stage)
        self.tracker = LiveAbortTracker(self.early) if self.early else None

    def _maybe_end(self, t: float) -> None:
        assert self.hold_t is not None and self.base is not None
        level, phase = self.search.next_level()  # type: ignore[misc]
        held = t - self.hold_t
        window: Snapshot | None = None
        trip = None
        if self.tracker is not None:
            window = self._window()
            trip = self.tracker.check(held, window, {"all": window, "steady": window})
        if trip is None and held < self._hold_s(phase):
            return
        window = window or self._window()
        windows = {"all": window, "steady": window}
        judged = [cj.judge(r, window, windows) for r in evaluate(self.rules, window, windows)]
        verdicts = {v for v, _ in judged}
        open_ = verdicts & {cj.STRADDLE, cj.FEW} and cj.BREAK not in verdicts
        if trip is None and open_ and held < self._hold_s(phase) * cj.HOLD_EXTEND:
            return  # not decided yet: hold on (more samples narrow the interval)
        obs = [RuleObservation(r.rule.title, r.passed, r.observed, r.detail) for _, r in judged]
        unjudged = [r for v, r in judged if v == cj.FEW]
        if unjudged and trip is None and cj.BREAK not in verdicts:  # too few samples: never a pass
            names = "; ".join(f"{r.rule.title}: {r.detail}" for r in unjudged)
            self._not_judged(f"{phase} level {self.spec.fmt(level)}", names)
            return
        if self.spec.is_open:
            obs.append(self._dropped())
        rec = self.search.record(obs, early=trip is not None, start_s=round(self.hold_at, 1),
                                 end_s=round(self._rec().elapsed(), 1), stage=self.stage)  # fmt: skip
        failed = rec.failed
        verdict = (
            "PASS" if rec.passed else f"BREAK ({failed[0].rule}: {failed[0].detail})" if failed else "BREAK"
        )
        if trip is not None:
            verdict += f" early, {trip.rule.title} failing since {trip.failing_since_s:.0f}s of the hold"
        log.info("erpload: capacity %s %s over %.0fs: %s", phase, self.spec.fmt(level), held, verdict)
        self.level_t = None
        if not self.search.done:
            nxt, nphase = self.search.next_level()  # type: ignore[misc]
            self._begin(nxt, nphase, t)  # its settle mark closes this hold's window now

    def _dropped(self) -> RuleObservation:
        """Open model: the level's dropped iterations within the profile's allow (else it breaks)."""
        now, allowed = arrival.arrival_totals(self.env), self.spec.dropped_allowed
        planned = now.get("planned", 0) - self.arrivals.get("planned", 0)
        dropped = now.get("dropped", 0) - self.arrivals.get("dropped", 0)
        ratio = dropped / planned if planned else None
        ok = ratio is not None and ratio <= allowed
        detail = f"observed {dropped} of {planned} planned iterations dropped" + (
            "" if ok else f", allowed {allowed:.1%}: the pool (capacity.users) cannot run this rate"
        )
        return RuleObservation(f"dropped iterations <= {allowed:.1%}", ok, ratio, detail)

    def _targets(self, level: float, t: float) -> tuple[int, float, RoleTargets]:
        """The tick for `level`: users (closed: the level; open: the pool) per class, and a spawn rate."""
        self._level = level
        users = int(self.spec.users or 0) if self.spec.is_open else int(level)
        classes = self.env.user_classes
        counts = allocate(users, {c.__name__: self.profile.roles.get(c.__name__, 0.0) for c in classes})
        previous = self._tick[0] if self._tick else 0
        rate = self.spec.spawn_rate or max(1.0, abs(users - previous) / max(self.spec.settle_s / 2, 1.0))
        self._tick = (users, rate, RoleTargets([c for c in classes if counts[c.__name__]], counts))
        return self._tick

    # -- the end ---------------------------------------------------------------------------------
    def _finish(self) -> None:
        if self.outcome is None:
            self.outcome = self.search.outcome()
            self._mark("capacity done")  # closes the last window: the confirm hold is exactly its window

    def capacity_value(self) -> float | None:
        """`capacity_users` / `capacity_rate` for the `required` rule: None (a failure) when not found."""
        outcome = self.outcome or self.search.outcome()
        return outcome.capacity

    def finalize(self, run: Any) -> None:
        """Master, first thing at the end: the evidence window for the rules, the report section."""
        outcome = self.outcome = self.outcome or self.search.outcome()
        section = outcome.to_dict(self.spec)
        run.resources = {**(run.resources or {}), "capacity": section}
        window = f"stage:{outcome.evidence.stage}" if outcome.evidence is not None else NO_EVIDENCE
        sla = tuple(
            r if r.metric in CAPACITY_METRICS.values() else replace(r, window=window)
            for r in self.profile.sla
        )
        if outcome.capacity is None and not any(r.metric == self.spec.metric for r in sla):
            # no capacity is never a pass, whatever the evidence window's rules say (fail closed)
            text = f"{self.spec.metric} >= {self.spec.start:g}" + ("/s" if self.spec.is_open else "")
            sla += (Rule(self.spec.metric, ">=", self.spec.start, name="capacity found", text=text),)
        if run.profile is not None:
            run.profile = replace(run.profile, sla=sla)
        for line in console_lines(section):
            log.info("erpload: %s", line)

    # -- helpers ---------------------------------------------------------------------------------
    def _live(self) -> bool:
        runner = self.env.runner
        return (
            runner is not None
            and runner.state not in (STATE_INIT, STATE_STOPPED)
            and self._rec().t0 is not None
        )

    def _rec(self) -> Any:
        return self.env.erpload.recorder

    def _snapshot(self) -> Snapshot:
        return self._rec().snapshot()

    def _window(self) -> Snapshot:
        assert self.base is not None
        return self._snapshot().minus(self.base)

    def _mark(self, name: str) -> None:
        hook = getattr(self.env.events, "erpload_stage", None)
        if hook is not None:
            hook.fire(
                index=self.index,
                name=name,
                start_s=self.shape.get_run_time(),
                plan=None,
                profile=self.profile,
            )
            self.index += 1

    def _not_judged(self, where: str, names: str) -> None:
        """A rule had too few samples in a level's hold: the search ends INVALID, never with a made-up capacity."""
        reason = f"{where}: too few samples for a rule in its hold"
        log.error("erpload: capacity search stopped, %s (%s)", reason, names)
        run = getattr(self.env, "erpload", None)
        if run is not None:
            run.mark_invalid(
                "capacity level not judged",
                f"{reason}: {names}. Every rule must see enough requests in every hold (a p95 at least 59): "
                "drop rules on requests made only at login or by roles a small level does not start, "
                "or lengthen capacity.hold (a hold goes on up to 3x it while undecided)",
            )
        self.search.abandon(reason)
        self.level_t = None

    def _invalid(self, detail: str) -> None:
        run = getattr(self.env, "erpload", None)
        if run is not None:
            run.mark_invalid("load under-delivered", f"capacity search: {detail}")
