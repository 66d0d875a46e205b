"""Garbage-collector tuning on every process that runs users: more users per core under a 5 ms loop lag.

Python's cyclic garbage collector pauses the whole process, so every pause is event-loop lag on a
gevent generator (erpload.locust.looplag). Its full (generation 2) collection walks every tracked
object alive: the users themselves, their sessions, connections, greenlets and state. At the
shipped think times that pause grows with the users (docs/performance.md, "Users per core": ~0.2 s
at 5,000 role users, ~1.7 s at 8,000) and fires again and again while the users run.

What this does, on a worker or a local process, from test_start to test_stop (`--gc-tuning on`,
the default; `off` leaves the collector exactly as Python and Locust set it):

1. after every spawn step (Locust's `spawning_complete`: each ramp of a load profile's stages, on
   the master's word on a worker) one `gc.collect()` then `gc.freeze()`: the objects alive then
   (the users and everything they hold) move to the permanent generation that no collection walks.
   The collect before the freeze keeps cyclic garbage out of it; after the first step it walks only
   what was allocated since the previous freeze. When the step lowered the users (a ramp down),
   the permanent generation is released first (`gc.unfreeze()`), so stopped users can be freed.
2. the collection thresholds are raised (THRESHOLDS, against Python's (700, 10, 10)): freezing
   alone left young-generation pauses of 18-30 ms at 2,000-8,000 users; with these, no collection
   of 1 ms or more was left in the bench's measured windows, and RSS per user did not change.

What it costs: one pause per spawn step (the collect + freeze, 20-230 ms at 1,000-10,000 users),
and cyclic garbage is collected less often (a soak of hours was not measured yet: `--gc-tuning off`
is the way back). At test_stop the thresholds go back and the permanent generation is released (a
later run, in the web UI, starts from a collector that can free this run's users; with Locust's
`--processes`, its fork-time freeze is released too). The figures that chose these settings:
docs/performance.md, "Update 2026-11-29, late night: users per core with GC tuning".
"""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

from locust.env import Environment
from locust.runners import MasterRunner

log = logging.getLogger("erpload")

CHOICES = ("on", "off")
DEFAULT = "on"
THRESHOLDS = (50_000, 20, 100)  # gen0 allocations, gen0 runs per gen1 run, gen1 runs per gen2 run


def enabled(environment: Environment) -> bool:
    """--gc-tuning (ERPLOAD_GC_TUNING): on unless set to off; a worker reads the master's value."""
    opts = environment.parsed_options
    value = getattr(opts, "gc_tuning", DEFAULT) if opts is not None else DEFAULT
    return str(value or DEFAULT).strip().lower() != "off"


class GcTuning:
    """One process's tuning: thresholds while a test runs, a freeze after every spawn step."""

    def __init__(self, environment: Environment, thresholds: tuple[int, int, int] = THRESHOLDS) -> None:
        self.env, self.thresholds = environment, thresholds
        self.active = False
        self.saved: tuple[int, int, int] | None = None
        self.frozen_users = 0  # the users alive at the last freeze
        self.freezes: list[dict[str, Any]] = []  # per freeze: users, pause ms (collect + freeze)

    def start(self, **_: Any) -> None:
        if self.active or not enabled(self.env):
            return
        self.active = True
        self.saved = gc.get_threshold()  # type: ignore[assignment]
        gc.set_threshold(*self.thresholds)
        self.frozen_users, self.freezes = 0, []

    def on_spawned(self, **_: Any) -> None:
        """spawning_complete: collect what is garbage now, then freeze what is alive."""
        if not self.active:
            return
        runner = self.env.runner
        users = runner.user_count if runner is not None else 0
        t0 = time.perf_counter()
        if users < self.frozen_users:
            gc.unfreeze()  # stopped users may sit in the permanent generation: let the collect free them
        gc.collect()
        gc.freeze()
        # no gc.get_freeze_count() here: it walks the frozen list (~20 ms at 4,000 users)
        pause_ms = (time.perf_counter() - t0) * 1000.0
        self.frozen_users = users
        self.freezes.append({"users": users, "pause_ms": round(pause_ms, 1)})
        log.debug("erpload: gc collected and froze at %d users (%.0f ms)", users, pause_ms)

    def stop(self, **_: Any) -> None:
        if not self.active:
            return
        self.active = False
        gc.unfreeze()
        if self.saved is not None:
            gc.set_threshold(*self.saved)
        self.saved = None


def install_gctune(environment: Environment) -> GcTuning | None:
    """Tune the collector on every process that runs users (not the master); returns the tuning."""
    if isinstance(environment.runner, MasterRunner):
        return None
    tuning = GcTuning(environment)
    environment.events.test_start.add_listener(tuning.start)
    environment.events.spawning_complete.add_listener(tuning.on_spawned)
    environment.events.test_stop.add_listener(tuning.stop)
    environment.erpload_gc = tuning  # type: ignore[attr-defined]
    return tuning
