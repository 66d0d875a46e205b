"""Per-second samples of one generator for the users-per-core bench (erpbench.users_per_core).

Loaded next to the role users (`locust -f <role users>,lag_steps.py`); inactive unless
$BENCH_STEPS_OUT is set, and only in a process that runs users (the worker, or a local run). Once a
second it appends one JSON line: wall time, running users, this process's user+system CPU seconds
and RSS, Locust's request and failure totals, and every event-loop lag tick (ms) since the previous
line, measured by an instance of erpload's own probe class (erpload.locust.looplag.LoopLag, the
generator-health signal: a 20 ms sleep, how much later than asked it woke up; the plugin's probe is
not reachable on a worker, so this one runs beside it). The bench cuts the lines into the load
profile's steps; nothing here judges.
"""

from __future__ import annotations

import gc
import json
import os
import time
from typing import Any

import gevent
import psutil
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner

from erpload.locust.looplag import LoopLag

OUT = os.environ.get("BENCH_STEPS_OUT", "")
GC_FREEZE = os.environ.get("BENCH_GC_FREEZE", "") == "1"  # experiment: gc.freeze() after each spawn step
_done = [0, 0]  # requests, failures in this process (a worker's own stats reset at every report)
_gc: dict[str, Any] = {
    "t0": 0.0,
    "pauses": [],
}  # garbage-collector pauses (ms, generation) since the last line


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    """gc.callbacks: time every collection (a full one walks every object the users hold)."""
    if phase == "start":
        _gc["t0"] = time.perf_counter()
    else:
        _gc["pauses"].append([round((time.perf_counter() - _gc["t0"]) * 1000, 2), info.get("generation")])


def _sample(environment: Environment, out: Any, probe: LoopLag) -> None:
    proc = psutil.Process()
    last_t = -1.0
    while True:
        gevent.sleep(1.0)
        ticks = [(t, lag) for t, lag in list(probe.window) if t > last_t]
        if ticks:
            last_t = ticks[-1][0]
        cpu = proc.cpu_times()
        line = {
            "t": round(time.time(), 3),
            "users": environment.runner.user_count if environment.runner else 0,
            "cpu_s": round(cpu.user + cpu.system, 3),
            "rss": proc.memory_info().rss,
            "requests": _done[0],
            "failures": _done[1],
            "lags_ms": [round(lag, 3) for _, lag in ticks],
            "gc_ms": [p for p in _gc["pauses"] if p[0] >= 1.0],  # collections of 1 ms or more
            "probe": True,
        }
        _gc["pauses"] = []
        out.write(json.dumps(line) + "\n")
        out.flush()


def _count(exception: Any = None, **_: Any) -> None:
    _done[0] += 1
    if exception is not None:
        _done[1] += 1


def _freeze(**_: Any) -> None:
    """Move every object alive now (the users, their sessions) out of the collector's reach: a full
    collection then walks only what was allocated since (Locust does this once, before any user)."""
    gc.collect()
    gc.freeze()


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    if not OUT or isinstance(environment.runner, MasterRunner) or getattr(environment, "_bench_steps", None):
        return
    environment.events.request.add_listener(_count)
    if GC_FREEZE:
        environment.events.spawning_complete.add_listener(_freeze)
    gc.callbacks.append(_on_gc)
    probe = LoopLag(limit_ms=5.0, window_s=60.0)
    probe.start()
    out = open(OUT, "a")  # noqa: SIM115 - open for the whole run; the process ends with it
    out.write(
        json.dumps({"t": round(time.time(), 3), "start": True, "rss": psutil.Process().memory_info().rss})
        + "\n"
    )
    out.flush()
    environment._bench_steps = gevent.spawn(_sample, environment, out, probe)  # type: ignore[attr-defined]
