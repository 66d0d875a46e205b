"""Event-loop lag on every load generator: a generator health signal, INVALID when sustained, like CPU.

A gevent generator times every request on one event loop. When something blocks that loop (a CPU-bound
task, a blocking call that gevent did not patch, too many users per process), every greenlet waits:
requests are sent late and their answers are read late, so the generator's own queueing lands in the
latencies it reports (and in the open model, iterations start late). CPU alone does not show it: a
blocking call can hold the loop while the process sits at 0 % CPU.

Every process that runs users (the workers, or the local process) runs one greenlet that sleeps
INTERVAL_S and records how much later than asked it woke up (the lag, ms) into a fine histogram for
the run, and into a sliding window of WINDOW_S. When the window's p99 exceeds `--max-loop-lag`
(default 50 ms) the generator is lagging; reported once per generator per run, it makes the run
INVALID ("generator loop lag", exit 4) exactly like the CPU rule (erpload.locust.resources), or a
warning when the profile says `allow: {generator_saturation: true}`.

Why these defaults: a 20 ms tick is far cheaper than any request (20 wake-ups a second) and short
enough to catch a 50 ms stall; 30 s of ticks is ~1,500 samples, so p99 > 50 ms means ~15 ticks (more
than 0.3 s of the window) woke over 50 ms late: sustained, not one GC pause or one resource sample.
50 ms is 1/6 of the tightest shipped p95 rule (300 ms): lag above it distorts those verdicts; a
healthy generator stays far below it (tests/e2e/test_coordinated_omission.py's worker: p99 ~2 ms).

Workers ship their run histogram (cumulative: a lost report costs nothing) and, once, the episode,
under data["erpload"]["looplag"] (erpload.locust.exchange); the master keeps each worker's latest.
summary.json `resources.loop_lag` has every generator's distribution; `loop_lag_p99_max` is an SLA metric.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from erpload.core.histogram import Histogram, exact_percentile, nearest_rank

log = logging.getLogger("erpload")

KEY = "looplag"
INTERVAL_S = 0.02
WINDOW_S = 30.0
DEFAULT_LIMIT_MS = 50.0
PCTS = {"p50": 0.5, "p90": 0.9, "p99": 0.99, "p99_9": 0.999}


class LoopLag:
    """One process's loop-lag probe: run histogram, sliding window, the first sustained episode."""

    def __init__(self, limit_ms: float, interval_s: float = INTERVAL_S, window_s: float = WINDOW_S) -> None:
        self.limit_ms, self.interval_s, self.window_s = limit_ms, interval_s, window_s
        self.hist = Histogram()
        self.window: deque[tuple[float, float]] = deque()
        self.episode: dict[str, Any] | None = None
        self.over = 0  # ticks in the window over the limit
        self.t0 = time.monotonic()
        self._glet: gevent.Greenlet | None = None

    def reset(self) -> None:
        self.hist, self.window, self.episode, self.t0 = Histogram(), deque(), None, time.monotonic()
        self.over = 0

    def start(self, **_: Any) -> None:
        self.reset()
        if self._glet is None or self._glet.dead:
            self._glet = gevent.spawn(self._loop)

    def stop(self, **_: Any) -> None:
        if self._glet is not None:
            self._glet.kill(block=False)
            self._glet = None

    def _loop(self) -> None:
        while True:
            asked = time.perf_counter()
            gevent.sleep(self.interval_s)
            self.feed(time.monotonic() - self.t0, (time.perf_counter() - asked - self.interval_s) * 1000.0)

    def feed(self, t: float, lag_ms: float) -> dict[str, Any] | None:
        """Record one tick's lag at `t` s; the episode the first time the window's p99 is over the limit."""
        lag_ms = max(0.0, lag_ms)
        self.hist.add(lag_ms)
        win = self.window
        win.append((t, lag_ms))
        self.over += lag_ms > self.limit_ms
        while win and win[0][0] <= t - self.window_s:
            self.over -= win.popleft()[1] > self.limit_ms
        # judge a full window only (the first ticks of a run are no window yet); O(1) per tick:
        # p99 > limit exactly when more ticks are over the limit than the ranks above the p99's
        n = len(win)
        if self.episode is not None or t < self.window_s or self.over < n - nearest_rank(n, 0.99) + 1:
            return None
        p99 = exact_percentile([lag for _, lag in win], 0.99)
        if p99 > self.limit_ms:
            peak = max(lag for _, lag in win)
            self.episode = {
                "start_s": round(win[0][0], 1),
                "end_s": round(t, 1),
                "p99_ms": round(p99, 1),
                "max_ms": round(peak, 1),
                "samples": len(win),
            }
            return self.episode
        return None

    def summary(self) -> dict[str, Any]:
        h = self.hist
        out: dict[str, Any] = {"samples": h.count, "max_ms": None if h.max is None else round(h.max, 1)}
        out.update({f"{k}_ms": h.percentile(p) for k, p in PCTS.items()})
        out["histogram"] = h.to_dict()
        out["episode"] = self.episode
        return out

    def payload(self) -> dict[str, Any]:
        """Worker: the run's histogram so far and the episode (if any)."""
        return {"hist": [self.hist.to_dict(), self.hist.min, self.hist.max], "episode": self.episode}


class LoopLagWatch:
    """Master / local: every generator's latest loop-lag data; marks the run INVALID on an episode."""

    def __init__(self, environment: Environment, run: Any, probe: LoopLag | None) -> None:
        self.env, self.run, self.probe = environment, run, probe
        self.limit_ms = probe.limit_ms if probe is not None else limit_of(environment)
        self.workers: dict[str, dict[str, Any]] = {}  # "worker:<index>" -> latest summary
        self.flagged: set[str] = set()

    def reset(self, **_: Any) -> None:
        self.workers, self.flagged = {}, set()
        self.limit_ms = limit_of(self.env)

    def on_payload(self, client_id: str, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        runner = self.env.runner
        idx = runner.get_worker_index(client_id) if isinstance(runner, MasterRunner) else client_id
        key = f"worker:{idx}"
        counts, lo, hi = payload.get("hist") or ({}, None, None)
        probe = LoopLag(self.limit_ms)
        probe.hist, probe.episode = Histogram.from_dict(counts or {}, lo, hi), payload.get("episode")
        self.workers[key] = probe.summary()
        if probe.episode:
            self.flag(key, probe.episode)

    def on_local_episode(self, episode: dict[str, Any]) -> None:
        self.flag("local", episode)

    def flag(self, key: str, ep: dict[str, Any]) -> None:
        if key in self.flagged:
            return
        self.flagged.add(key)
        detail = (
            f"{key} event-loop lag p99 {ep['p99_ms']:.0f} ms (max {ep['max_ms']:.0f} ms) from {ep['start_s']:.0f}s "
            f"to {ep['end_s']:.0f}s (limit {self.limit_ms:g} ms over {WINDOW_S:.0f}s, --max-loop-lag): requests "
            f"waited for the generator itself; find the blocking call, or run fewer users per worker"
        )
        allow = getattr(getattr(self.run.profile, "allow", None), "generator_saturation", False)
        if allow:
            log.warning("erpload: generator loop lag (allowed by the profile): %s", detail)
        else:
            self.run.mark_invalid("generator loop lag", detail)

    def generators(self) -> dict[str, dict[str, Any]]:
        if self.probe is not None and isinstance(self.env.runner, LocalRunner):
            return {"local": self.probe.summary()}
        return dict(sorted(self.workers.items()))

    def section(self) -> dict[str, Any]:
        return {
            "limit_ms": self.limit_ms,
            "window_s": WINDOW_S,
            "interval_s": INTERVAL_S,
            "generators": self.generators(),
        }

    def worst_p99(self) -> float | None:
        values = [g["p99_ms"] for g in self.generators().values() if g.get("p99_ms") is not None]
        return max(values) if values else None

    def finalize(self, run: Any) -> None:
        """Master / local, after the resources section exists: add resources.loop_lag."""
        run.resources = {**(run.resources or {}), "loop_lag": self.section()}


def limit_of(environment: Environment) -> float:
    opts = environment.parsed_options
    value = getattr(opts, "max_loop_lag", None) if opts is not None else None
    return float(value) if value not in (None, "") else DEFAULT_LIMIT_MS


def install_looplag(environment: Environment, run: Any) -> None:
    """A probe on every process that runs users; the watch on the master / local process."""
    runner = environment.runner
    probe = None if isinstance(runner, MasterRunner) else LoopLag(limit_of(environment))
    if probe is not None:
        environment.events.test_start.add_listener(
            lambda **_: setattr(probe, "limit_ms", limit_of(environment))
        )
        environment.events.test_start.add_listener(probe.start)
        environment.events.test_stop.add_listener(probe.stop)
    if isinstance(runner, WorkerRunner):
        run.exchange.provide(KEY, probe.payload)  # type: ignore[union-attr]
        return
    watch = LoopLagWatch(environment, run, probe)
    run.loop_lag = watch
    environment.events.test_start.add_listener(watch.reset)
    if isinstance(runner, MasterRunner):
        run.exchange.merge(KEY, watch.on_payload)
    elif probe is not None:
        _wrap_feed(probe, watch)
    run.finalizers.append(watch.finalize)
    run.extra_providers["loop_lag_p99_max"] = watch.worst_p99


def _wrap_feed(probe: LoopLag, watch: LoopLagWatch) -> None:
    """Local process: the probe's episode marks the run at once (no exchange in between)."""
    feed = probe.feed

    def fed(t: float, lag_ms: float) -> dict[str, Any] | None:
        ep = feed(t, lag_ms)
        if ep is not None:
            watch.on_local_episode(ep)
        return ep

    probe.feed = fed  # type: ignore[method-assign]
