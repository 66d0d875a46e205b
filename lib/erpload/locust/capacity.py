"""Capacity search in ONE Locust run: the shape picks each next level from the last level's verdict.

Design: one run with a dynamic shape, not one run per level. `ProfileShape` hands its tick to a
`CapacityDriver` when the profile says `mode: capacity`. Each level is `settle` (ramp to it, let
queues drain or build; not measured) then `hold` (measured); at the end of the hold the driver
evaluates the profile's rules (the same `erpload.sla.evaluation.evaluate` as the final verdict) on
the hold's window (a cumulative snapshot at its end minus one at its start) and the pure
`erpload.profile.capacity_search.CapacitySearch` names the next level. Why one run:
- the users stay logged in and the ERP stays warm (caches, connection pools, sessions), so a
  level measures the ERP at that load, not a cold start, and no level pays a login storm;
- the search is adaptive (bisect needs the last verdict), which a list of separate runs could only
  do by being driven from outside, with a process start and a fresh ramp per level;
- one timeline, one report, one exit code: the levels are stage marks on the same charts.
The cost: a level inherits the queue the previous level left. `settle` is there for that: a level
broken by the backlog of a higher one would be a false break, so every level (the confirm first
of all) starts with a settle, and a confirm that breaks counts as a break (the search then goes
below it). Exit codes stay erpload.core.verdict's: 0 with a confirmed capacity (or ">= max") that
meets `required`; 3 when no level held ("< start") or the capacity is below `required`; 4 when a
level's users could not be started (the generator was the limit); 5 interrupted mid-search.

Every level's window becomes a stage mark ("settle 20 users", "level 20 users", "confirm 20
users"); at the end a finalizer points the profile's rules at the evidence window (the confirmed
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
from erpload.profile.capacity_search import CONFIRM, CapacityOutcome, CapacitySearch, RuleObservation
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
        self.level_t, self.hold_t, self.base, self.tracker = t, None, None, None
        what = f"{'confirm ' if phase == CONFIRM else ''}{self.spec.fmt(level)}"
        self._mark(f"settle {what}")
        self._targets(level, t)
        log.info("erpload: capacity %s %s: settle %.0fs, then hold %.0fs", phase, self.spec.fmt(level),
                 self.spec.settle_s, self.spec.confirm_s if phase == CONFIRM else self.spec.hold_s)  # fmt: skip

    def _maybe_hold(self, level: float, phase: str, t: float) -> None:
        assert self.level_t is not None
        waited = t - self.level_t
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
        self.hold_t, self.base = t, self._snapshot()
        self.arrivals = arrival.arrival_totals(self.env) if self.spec.is_open else {}
        self.hold_at = self._rec().elapsed()
        self.stage = f"{'confirm' if phase == CONFIRM else 'level'} {self.spec.fmt(level)}"
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
        if trip is None and held < (self.spec.confirm_s if phase == CONFIRM else self.spec.hold_s):
            return
        window = window or self._window()
        results = evaluate(self.rules, window, {"all": window, "steady": window})
        obs = [RuleObservation(r.rule.title, r.passed, r.observed, r.detail) for r in results]
        unjudged = [r for r in results if not r.passed and r.observed is None]
        if unjudged and trip is None:  # no samples is not a break: the level cannot be judged at all
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
        """A rule had no samples in a level's hold: the search ends INVALID, never with a made-up capacity."""
        reason = f"{where}: no samples for a rule in its hold"
        log.error("erpload: capacity search stopped, %s (%s)", reason, names)
        run = getattr(self.env, "erpload", None)
        if run is not None:
            run.mark_invalid(
                "capacity level not judged",
                f"{reason}: {names}. Every rule must see requests in every hold: drop rules on requests "
                "made only at login or by roles a small level does not start, or lengthen capacity.hold",
            )
        self.search.abandon(reason)
        self.level_t = None

    def _invalid(self, detail: str) -> None:
        run = getattr(self.env, "erpload", None)
        if run is not None:
            run.mark_invalid("load under-delivered", f"capacity search: {detail}")
