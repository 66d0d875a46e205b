"""Scale-out: master + 1 worker vs master + 2 workers (`--processes N`), role users, total req/s vs nginx.

Same profile (every feature on, think time 0) and users in both; rounds alternate 1,2 / 2,1. Each
worker's probe counts its own requests in the same window (workers start it on their first spawn
message); the total is the sum of the workers' req/s. The master's CPU is reported too.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from erpbench import REPO
from erpbench.locust_run import bench_env, run_locust
from erpbench.nginx import NginxTarget
from erpbench.overhead import write_profile

GOAL = 1.8


def run_one(workers: int, target: NginxTarget, users: int, warmup_s: float, window_s: float,
            work: Path) -> dict[str, Any]:
    """One distributed run with `workers` worker processes."""
    duration = warmup_s + window_s + 3.0
    profile = write_profile(work / f"scaleout-{users}u.yaml", users, duration, name="bench-scaleout")
    env = bench_env({"BENCH_PROBE_WARMUP": str(warmup_s), "BENCH_PROBE_WINDOW": str(window_s),
                     "ERPLOAD_CREDENTIALS": str(target.credentials_file), "ERPLOAD_THINK_TIME": "0,0"})
    args = ["-H", target.url, "--load-profile", str(profile), "--processes", str(workers),
            "--report-dir", str(work / f"reports-scaleout-{workers}"), "--stop-timeout", "2"]
    res = run_locust(f"scaleout-{workers}", [REPO / "locustfiles"], args, env=env, timeout_s=duration + 90)
    try:
        w = res.window()
        master = res.of_kind("master")
        master_cpu = None
        if master and "quit" in master[0] and "test_start" in master[0]:
            m = master[0]
            master_cpu = round((m["quit"]["cpu_user"] + m["quit"]["cpu_system"])
                               - (m["test_start"]["cpu_user"] + m["test_start"]["cpu_system"]), 2)
        return {"workers": workers, "exit_code": res.exit_code, "processes_measured": w["processes"],
                "rps": round(w["rps"], 1), "requests": w["requests"], "failures": w["failures"],
                "worker_cpu_s": round(w["cpu_s"], 2), "wall_s": round(w["wall_s"], 2),
                "per_worker": w["per_process"], "master_cpu_s_run": master_cpu}
    finally:
        res.cleanup()


def measure(target: NginxTarget, *, users: int, rounds: int, warmup_s: float, window_s: float, work: Path,
            log: Callable[[str], None] = print) -> dict[str, Any]:
    """Alternate 1 and 2 workers `rounds` times; ratio of the median total req/s."""
    rows = []
    for r in range(rounds):
        for workers in ((1, 2) if r % 2 == 0 else (2, 1)):
            row = run_one(workers, target, users, warmup_s, window_s, work)
            row["round"] = r
            rows.append(row)
            log(f"  scale-out {workers} worker(s) round {r}: {row['rps']:8.1f} req/s "
                f"({row['requests']} requests, worker CPU {row['worker_cpu_s']:.1f} s in {row['wall_s']:.1f} s, "
                f"{row['failures']} failures, exit {row['exit_code']})")
    med = {n: statistics.median(x["rps"] for x in rows if x["workers"] == n) for n in (1, 2)}
    ratio = med[2] / med[1] if med[1] else 0.0
    return {"users": users, "rounds": rounds, "window_s": window_s, "median_rps": med, "ratio": round(ratio, 3),
            "goal": GOAL, "met": ratio >= GOAL, "runs": rows}
