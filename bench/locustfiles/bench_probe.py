"""Measurement probe loaded into every bench Locust process (raw and erpload alike; no erpload import).

Inactive unless $BENCH_PROBE_DIR is set. It writes `probe-<kind>-<pid>.json` there:

- throughput mode (default): counts requests with one `request` listener (identical cost in every
  run), and samples this process's user+system CPU time (psutil) and the request count at
  test_start + $BENCH_PROBE_WARMUP (or at the unix time $BENCH_PROBE_START_AT, so processes
  running side by side measure the same interval) and again $BENCH_PROBE_WINDOW seconds later. The window excludes
  start-up (imports, spawning) and shutdown (reports), so requests per CPU-second compares the
  steady per-request cost. Totals since test start are added at `quitting`.
- memory mode ($BENCH_PROBE_MODE=memory): RSS after `gc.collect()` at test_start (no users yet)
  and again once spawning completed and the users' on_start requests settled; then quits the run.
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
import psutil
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

OUT_DIR = os.environ.get("BENCH_PROBE_DIR", "")
MODE = os.environ.get("BENCH_PROBE_MODE", "throughput")
WARMUP_S = float(os.environ.get("BENCH_PROBE_WARMUP", "3"))
WINDOW_S = float(os.environ.get("BENCH_PROBE_WINDOW", "15"))
SETTLE_S = float(os.environ.get("BENCH_PROBE_SETTLE", "2"))
START_AT = float(os.environ.get("BENCH_PROBE_START_AT", "0") or 0)  # unix time: a window shared by processes
EXPECT_REQUESTS = int(os.environ.get("BENCH_PROBE_EXPECT_REQUESTS", "0"))

_procs: dict[int, psutil.Process] = {}
_counts: Counter[str] = Counter()
_state: dict[str, Any] = {"requests": 0, "failures": 0}
_result: dict[str, Any] = {"mode": MODE}


def _kind(environment: Environment) -> str:
    """'master', 'worker' or 'local'."""
    if isinstance(environment.runner, MasterRunner):
        return "master"
    return "worker" if isinstance(environment.runner, WorkerRunner) else "local"


def _me() -> psutil.Process:
    """This process (looked up per PID: `--processes` forks workers after this module was imported)."""
    pid = os.getpid()
    if pid not in _procs:
        _procs[pid] = psutil.Process(pid)
    return _procs[pid]


def _sample() -> dict[str, float]:
    """Now: wall clock, this process's CPU times and RSS, the request counters."""
    me = _me()
    cpu = me.cpu_times()
    return {
        "t": time.perf_counter(),
        "cpu_user": cpu.user,
        "cpu_system": cpu.system,
        "requests": _state["requests"],
        "failures": _state["failures"],
        "rss": me.memory_info().rss,
    }


def _write() -> None:
    """Write this process's record atomically (probe-<kind>-<pid>.json)."""
    _result["pid"] = os.getpid()
    path = Path(OUT_DIR) / f"probe-{_result.get('kind', 'x')}-{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(_result))
    os.replace(tmp, path)


def _on_request(request_type: str, name: str, exception: BaseException | None = None, **_: Any) -> None:
    """Count every request (the only per-request work the probe adds, identical in every run)."""
    _state["requests"] += 1
    if exception is not None:
        _state["failures"] += 1
    _counts[f"{request_type} {name}"] += 1


def _throughput_window() -> None:
    """Sample at the window's start and end; record requests, CPU, request mix and host idle share."""
    late = 0.0
    if START_AT:
        wait = START_AT - time.time()
        late = max(0.0, -wait)
        gevent.sleep(max(0.0, wait))
    else:
        gevent.sleep(WARMUP_S)
    start, host0 = _sample(), psutil.cpu_times()
    counts0 = Counter(_counts)
    gevent.sleep(WINDOW_S)
    end, host1 = _sample(), psutil.cpu_times()
    host_total = sum(host1) - sum(host0)
    window_counts = Counter(_counts)
    window_counts.subtract(counts0)
    _result["window"] = {
        "late_s": late,  # > 0: this process started its window after the shared START_AT
        "wall_s": end["t"] - start["t"],
        "cpu_s": (end["cpu_user"] - start["cpu_user"]) + (end["cpu_system"] - start["cpu_system"]),
        "cpu_user_s": end["cpu_user"] - start["cpu_user"],
        "cpu_system_s": end["cpu_system"] - start["cpu_system"],
        "requests": end["requests"] - start["requests"],
        "failures": end["failures"] - start["failures"],
        "rss_end": end["rss"],
        # the whole machine in the window: idle CPU share (all CPUs) - context for throughput figures
        "host_idle_share": round((host1.idle - host0.idle) / host_total, 4) if host_total > 0 else None,
        "counts": {k: v for k, v in window_counts.items() if v},
    }
    _write()


def _memory_window(environment: Environment) -> None:
    """Wait until spawning and on_start requests settled, record RSS, then quit the run."""
    gevent.sleep(SETTLE_S)
    deadline = time.monotonic() + 120
    last, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:  # wait for the users' on_start requests to finish
        n = _state["requests"]
        if n != last:
            last, stable_since = n, time.monotonic()
        if n >= EXPECT_REQUESTS and time.monotonic() - stable_since >= 1.0:
            break
        gevent.sleep(0.25)
    gc.collect()
    runner = environment.runner
    _result["after"] = {**_sample(), "users": runner.user_count if runner else 0}
    # what one `net_connections()` call (erpload's resource sampler counts inet connections with it)
    # costs in a process holding this many connections
    c0 = time.process_time()
    n_conns = len(_me().net_connections(kind="inet"))
    _result["net_connections"] = {"count": n_conns, "cpu_ms": round((time.process_time() - c0) * 1000, 2)}
    _result["requests"] = _state["requests"]
    _result["failures"] = _state["failures"]
    _write()
    if runner is not None:
        runner.quit()


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    """Every process: count requests; hook test start, spawning complete and quitting."""
    if not OUT_DIR:
        return
    _result["kind"] = _kind(environment)
    _result["init"] = _sample()
    environment.events.request.add_listener(_on_request)

    def on_test_start(**_: Any) -> None:
        """Baseline RSS (memory mode) or start the measurement window (throughput mode)."""
        if MODE == "memory":
            gc.collect()
            _result["before"] = _sample()
        elif "test_start" not in _result:  # test_start fires again on a re-spawn; one window per run
            _result["test_start"] = _sample()
            gevent.spawn(_throughput_window)

    def on_spawning_complete(**_: Any) -> None:
        """Memory mode: measure once all users exist."""
        if MODE == "memory" and "after" not in _result:
            gevent.spawn(_memory_window, environment)

    def on_quitting(**_: Any) -> None:
        """Add whole-run totals and write the record."""
        _result["quit"] = _sample()
        _result["total_requests"] = _state["requests"]
        _result["total_failures"] = _state["failures"]
        _result["total_counts"] = dict(_counts)
        _write()

    environment.events.test_start.add_listener(on_test_start)
    environment.events.spawning_complete.add_listener(on_spawning_complete)
    environment.events.quitting.add_listener(on_quitting)
