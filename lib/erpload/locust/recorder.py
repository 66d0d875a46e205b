"""The master's (or local runner's) view of one run: timeline, stage marks, live SLA aborts, final snapshot.

Runs only where the merged stats live (master / local runner): a greenlet samples the merged
Locust stats once per `interval` seconds into a bounded `Timeline`, keeps a cumulative snapshot at
every stage start (for `window: steady` / `stage:NAME` rules) and checks `abort: true` rules live.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import MasterRunner
from locust.stats import RequestStats as LocustStats

from erpload.core.histogram import Histogram
from erpload.core.snapshot import RequestStats, Snapshot, stage_windows
from erpload.core.stagebook import view_windows
from erpload.core.timeline import Timeline
from erpload.locust.signals import quit_headless_run
from erpload.sla.evaluation import LiveAbortTracker, Trip
from erpload.sla.grammar import Rule

log = logging.getLogger("erpload")


def snapshot_of(
    stats: LocustStats, role_stats: LocustStats, duration_s: float, extra: dict[str, Any] | None = None
) -> Snapshot:
    """A cumulative, independent copy of Locust's merged stats (+ per-role aggregates)."""
    snap = Snapshot(duration_s=duration_s, extra=dict(extra or {}))
    for entry in list(stats.entries.values()):
        if entry.num_requests or entry.num_failures:
            snap.add(RequestStats.from_locust(entry.serialize()))
    for (role, _method), entry in list(role_stats.entries.items()):
        if entry.num_requests or entry.num_failures:
            rs = RequestStats.from_locust(entry.serialize())
            rs.method, rs.name = "ROLE", role
            snap.roles[role] = rs
    snap.total = RequestStats.from_locust(stats.total.serialize())
    return snap


PRUNE_EVERY_S = 60.0  # how often the master drops old per-second counters
KEEP_S = 20  # Locust reads only the last ~12 s of them (current_rps); keep a margin


def prune_per_second_counters(stats: LocustStats, now: float, keep_s: int = KEEP_S) -> int:
    """Drop Locust's per-second request/failure counters older than `keep_s`; return how many went.

    `StatsEntry.num_reqs_per_sec` / `num_fail_per_sec` gain one key per second per endpoint on the
    master and are never trimmed: +15 MB per hour at 40 endpoints (bench, docs/performance.md), so
    a 24-hour soak's master would grow without bound. Only their last ~12 s are ever read.
    """
    cutoff = int(now) - keep_s
    dropped = 0
    for entry in [*list(stats.entries.values()), stats.total]:
        for counter in (entry.num_reqs_per_sec, entry.num_fail_per_sec):
            old = [t for t in counter if t < cutoff]
            for t in old:
                del counter[t]
            dropped += len(old)
    return dropped


class RunRecorder:
    """Samples the run on the master; owns the timeline, the stage marks and the live-abort tracker."""

    def __init__(self, environment: Environment, role_stats: LocustStats, interval: float = 1.0) -> None:
        self.env = environment
        self.role_stats = role_stats
        self.interval = interval
        self.timeline = Timeline()
        self.marks: list[tuple[str, Snapshot]] = []
        self.steady: set[str] = set()
        self.tracker: LiveAbortTracker | None = None
        self.trip: Trip | None = None
        self.t0: float | None = None
        self.started_wall: float | None = None
        self.max_workers = 0
        self.user_seconds = 0.0  # running users integrated over time (the closed model's progress check)
        self._prev: tuple[float, int, int, Histogram] | None = None
        self._glet: gevent.Greenlet | None = None
        self._last_prune = 0.0
        self.views: dict[str, Any] = {}  # name -> fn() -> Snapshot: other views of the run (Snapshot.views)
        self.stage_views: Any = None  # fn() -> {"stage:NAME": Snapshot} (erpload.locust.stage_stats)

    def elapsed(self) -> float:
        return 0.0 if self.t0 is None else time.monotonic() - self.t0

    def start(self, rules: list[Rule]) -> None:
        """Begin a run: reset the timeline and marks, arm the live-abort rules, start sampling."""
        self.stop()
        self.timeline, self.marks, self.trip = Timeline(), [], None
        self.t0, self.started_wall = time.monotonic(), time.time()
        self.tracker = LiveAbortTracker(rules) if any(r.abort for r in rules) else None
        self._prev, self.user_seconds = None, 0.0
        self._glet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self._glet is not None:
            self._glet.kill(block=False)
            self._glet = None

    def snapshot(self, extra: dict[str, Any] | None = None) -> Snapshot:
        snap = snapshot_of(self.env.stats, self.role_stats, self.elapsed(), extra)
        snap.views = {name: fn() for name, fn in self.views.items()}  # e.g. erpload.locust.intended
        if self.stage_views is not None:
            snap.views.update(self.stage_views())
        return snap

    def on_stage(self, index: int, name: str, start_s: float, plan: Any = None, **_: Any) -> None:
        """Stage boundary from ProfileShape: mark it, keep a cumulative snapshot, print progress."""
        t = self.elapsed()
        self.timeline.mark_stage(index, name, t)
        self.marks.append((name, self.snapshot()))
        if plan is not None and getattr(plan, "steady", False):
            self.steady.add(name)

    def windows(self, end: Snapshot) -> dict[str, Snapshot]:
        """SLA windows: from the per-stage numbers when `end` carries them (exact in a distributed
        run too), else from the boundary snapshots (a boundary lags up to one worker report)."""
        if not self.marks:
            return {"all": end}
        return view_windows(end, self.steady) or stage_windows(self.marks, end, self.steady)

    def _loop(self) -> None:
        while True:
            gevent.sleep(self.interval)
            try:
                self.sample()
            except Exception:  # sampling must never kill the run
                log.exception("erpload: timeline sample failed")

    def sample(self) -> None:
        """Append one timeline point; check live-abort rules."""
        runner = self.env.runner
        if isinstance(runner, MasterRunner):
            self.max_workers = max(self.max_workers, len(runner.clients))
        now = self.elapsed()
        total = self.env.stats.total
        hist = Histogram.from_locust(total.response_times)
        count, fails = total.num_requests, total.num_failures
        if self._prev is None:
            prev_t, prev_count, prev_fails, prev_hist = 0.0, 0, 0, Histogram()
        else:
            prev_t, prev_count, prev_fails, prev_hist = self._prev
        self._prev = (now, count, fails, hist)
        dt = max(now - prev_t, 1e-6)
        dn = count - prev_count
        window = hist.minus(prev_hist) if dn > 0 else Histogram()
        pct = [window.percentile(p) if window.count else None for p in (0.5, 0.95, 0.99)]
        users = runner.user_count if runner else 0
        self.user_seconds += users * dt
        self.timeline.append(
            now,
            dt,
            users,
            dn / dt,
            (fails - prev_fails) / dn if dn > 0 else 0.0,
            *pct,
        )
        if now - self._last_prune >= PRUNE_EVERY_S:
            self._last_prune = now
            wall = time.time()
            prune_per_second_counters(self.env.stats, wall)
            prune_per_second_counters(self.role_stats, wall)
        if self.tracker is not None and self.trip is None:
            end = self.snapshot()
            trip = self.tracker.check(now, end, self.windows(end))
            if trip is not None:
                self._abort(trip)

    def _abort(self, trip: Trip) -> None:
        self.trip = trip
        text = (
            f"SLA ABORT {trip.rule.title}: observed {trip.result.detail} "
            f"(failing since {trip.failing_since_s:.0f}s) -> stopping the run"
        )
        log.error("erpload: %s", text)
        self.timeline.mark_event(trip.at_s, text)
        if getattr(self.env.parsed_options, "headless", True):
            quit_headless_run(self.env)
        else:
            gevent.spawn(self.env.runner.stop)
