"""Scale-out: master + 1 worker vs master + 2 workers (`--processes N`), total req/s against nginx.

The role users with every feature on (profile, think time 0) and, for reference, the raw Locust
users of the overhead test, same users in every run; rounds alternate 1,2 / 2,1. Each worker's
probe counts its own requests in the same window (workers start it on their first spawn message);
the total is the sum of the workers' req/s. Also reported: the CPU the workers actually got, and
requests per worker CPU-second (does a worker stay as efficient when there are two?). On a 2-CPU
machine nginx, the master and anything else running share the CPUs with the workers.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from erpbench import LOCUSTFILES, REPO
from erpbench.locust_run import bench_env, processes_args, run_locust
from erpbench.nginx import NginxTarget
from erpbench.overhead import role_counts, write_profile

GOAL = 1.8


def run_one(
    workers: int,
    target: NginxTarget,
    users: int,
    warmup_s: float,
    window_s: float,
    work: Path,
    variant: str = "erpload",
) -> dict[str, Any]:
    """One distributed run of `variant` ('erpload' or 'raw') with `workers` worker processes."""
    duration = warmup_s + window_s + 3.0
    env = bench_env(
        {
            "BENCH_PROBE_WARMUP": str(warmup_s),
            "BENCH_PROBE_WINDOW": str(window_s),
            "ERPLOAD_CREDENTIALS": str(target.credentials_file),
            "ERPLOAD_THINK_TIME": "0,0",
        }
    )
    if variant == "erpload":
        profile = write_profile(work / f"scaleout-{users}u.yaml", users, duration, name="bench-scaleout")
        files = [REPO / "locustfiles"]
        args = [
            "-H",
            target.url,
            "--load-profile",
            str(profile),
            *processes_args(workers),
            "--report-dir",
            str(work / f"reports-scaleout-{workers}"),
            "--stop-timeout",
            "2",
        ]
    else:
        env["BENCH_RAW_COUNTS"] = json.dumps({f"Raw{k}": v for k, v in role_counts(users).items()})
        files = [LOCUSTFILES / "raw_roles.py"]
        args = [
            "-H",
            target.url,
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{duration:.0f}s",
            *processes_args(workers),
            "--stop-timeout",
            "2",
        ]
    res = run_locust(f"scaleout-{variant}-{workers}", files, args, env=env, timeout_s=duration + 90)
    try:
        w = res.window()
        master = res.of_kind("master")
        master_cpu = None
        if master and "quit" in master[0] and "test_start" in master[0]:
            m = master[0]
            master_cpu = round(
                (m["quit"]["cpu_user"] + m["quit"]["cpu_system"])
                - (m["test_start"]["cpu_user"] + m["test_start"]["cpu_system"]),
                2,
            )
        return {
            "variant": variant,
            "workers": workers,
            "exit_code": res.exit_code,
            "processes_measured": w["processes"],
            "rps": round(w["rps"], 1),
            "requests": w["requests"],
            "failures": w["failures"],
            "worker_cpu_s": round(w["cpu_s"], 2),
            "wall_s": round(w["wall_s"], 2),
            "worker_cpus_used": round(w["cpu_s"] / w["wall_s"], 2) if w["wall_s"] else None,
            "req_per_worker_cpu_s": round(w["requests"] / w["cpu_s"], 1) if w["cpu_s"] else None,
            "per_worker": w["per_process"],
            "master_cpu_s_run": master_cpu,
            "host_idle_share": w["host_idle_share"],
        }
    finally:
        res.cleanup()


def _pct(x: float | None) -> str:
    """A share as a percentage, '?' when unknown."""
    return "?" if x is None else f"{x:.0%}"


def measure(
    target: NginxTarget,
    *,
    users: int,
    rounds: int,
    warmup_s: float,
    window_s: float,
    work: Path,
    variants: tuple[str, ...] = ("erpload", "raw"),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Alternate 1 and 2 workers `rounds` times per variant; the ratio is the median of the rounds' 2/1 ratios."""
    rows = []
    for r in range(rounds):
        for variant in variants:
            for workers in (1, 2) if r % 2 == 0 else (2, 1):
                row = run_one(workers, target, users, warmup_s, window_s, work, variant)
                row["round"] = r
                rows.append(row)
                log(
                    f"  scale-out {variant:7s} {workers} worker(s) round {r}: {row['rps']:8.1f} req/s "
                    f"({row['requests']} requests; workers used {row['worker_cpus_used']:.2f} CPUs, "
                    f"{row['req_per_worker_cpu_s']:.0f} req/CPU-s; machine idle {_pct(row['host_idle_share'])}; "
                    f"{row['failures']} failures, exit {row['exit_code']})"
                )
    out: dict[str, Any] = {"users": users, "rounds": rounds, "window_s": window_s, "goal": GOAL, "runs": rows}
    for variant in variants:
        mine = [x for x in rows if x["variant"] == variant]
        med = {n: statistics.median(x["rps"] for x in mine if x["workers"] == n) for n in (1, 2)}
        eff = {
            n: statistics.median(x["req_per_worker_cpu_s"] for x in mine if x["workers"] == n) for n in (1, 2)
        }
        cpus = {
            n: statistics.median(x["worker_cpus_used"] for x in mine if x["workers"] == n) for n in (1, 2)
        }
        paired = []  # the two runs of a round ran back to back, under about the same background load
        for r in range(rounds):
            by = {x["workers"]: x for x in mine if x["round"] == r}
            if by[1]["rps"]:
                paired.append(round(by[2]["rps"] / by[1]["rps"], 3))
        out[variant] = {
            "median_rps": med,
            "ratio": statistics.median(paired) if paired else 0.0,
            "ratio_per_round": paired,
            "ratio_of_medians": round(med[2] / med[1], 3) if med[1] else 0.0,
            "median_req_per_worker_cpu_s": eff,
            "median_worker_cpus_used": cpus,
            "efficiency_ratio": round(eff[2] / eff[1], 3) if eff[1] else 0.0,
        }
    main = out[variants[0]]
    out.update({"median_rps": main["median_rps"], "ratio": main["ratio"], "met": main["ratio"] >= GOAL})
    return out
