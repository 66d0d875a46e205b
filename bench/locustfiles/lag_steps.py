"""Per-second samples of one generator for the users-per-core bench (erpbench.users_per_core).

Loaded next to the role users (`locust -f <role users>,lag_steps.py`); inactive unless
$BENCH_STEPS_OUT is set, and only in a process that runs users (the worker, or a local run). Once a
second it appends one JSON line: wall time, running users, this process's user+system CPU seconds
and RSS, Locust's request and failure totals, and every event-loop lag tick (ms) since the previous
line, measured by an instance of erpload's own probe class (erpload.locust.looplag.LoopLag, the
generator-health signal: a 20 ms sleep, how much later than asked it woke up; the plugin's probe is
not reachable on a worker, so this one runs beside it). The bench cuts the lines into the load
profile's steps; nothing here judges.

GC variants (erpbench.users_per_core): $BENCH_GC_FREEZE=1 freezes after each spawn step here (the
experiment with erpload's tuning off); $BENCH_GC_THRESHOLDS=A,B,C replaces the thresholds of
erpload's tuning (erpload.locust.gctune) for the run. Each of erpload's freezes is one line
({"freeze": {users, pause_ms}}), and the stop one line ({"stop": true}: the bench
leaves the seconds after it out of the last step). No gc.get_freeze_count() every second: it walks the frozen
list, ~20 ms at 4,000 users (a loop-lag spike the probe itself would make).
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
GC_THRESHOLDS = os.environ.get("BENCH_GC_THRESHOLDS", "")  # "A,B,C": erpload's tuning with these thresholds
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
            "threshold": gc.get_threshold(),
            "probe": True,
        }
        _gc["pauses"] = []
        tuning = getattr(environment, "erpload_gc", None)
        freezes = tuning.freezes if tuning is not None else []
        for f in freezes[_gc.get("freezes_seen", 0) :]:
            out.write(json.dumps({"t": line["t"], "freeze": f}) + "\n")
        _gc["freezes_seen"] = len(freezes)
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
    tuning = getattr(environment, "erpload_gc", None)
    if GC_THRESHOLDS and tuning is not None:  # before erpload's own test_start listener sets them
        tuning.thresholds = tuple(int(x) for x in GC_THRESHOLDS.split(","))
    gc.callbacks.append(_on_gc)
    probe = LoopLag(limit_ms=5.0, window_s=60.0)
    probe.start()
    out = open(OUT, "a")  # noqa: SIM115 - open for the whole run; the process ends with it
    out.write(
        json.dumps(
            {
                "t": round(time.time(), 3),
                "start": True,
                "rss": psutil.Process().memory_info().rss,
                "tuning_thresholds": list(tuning.thresholds) if tuning is not None else None,
            }
        )
        + "\n"
    )
    out.flush()
    environment._bench_steps = gevent.spawn(_sample, environment, out, probe)  # type: ignore[attr-defined]

    def _stopping(**_: Any) -> None:  # the run's stop (every user stopped at once) is no step's load
        out.write(json.dumps({"t": round(time.time(), 3), "stop": True}) + "\n")
        out.flush()

    environment.events.test_stopping.add_listener(_stopping)
