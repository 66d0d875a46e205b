"""Users per core: how many role users one generator process holds at the shipped think times.

One Locust worker (erpload's role users, every erpload feature on, the shipped think times: no
ERPLOAD_THINK_TIME) pinned to one CPU (`taskset`), its master and nginx on the other CPU, runs a
load profile that steps the users up (peak-200's role mix at every step). A worker, not a local
process: the 1 Hz master duties (live SLA evaluation, timeline, resource outputs) are not a
generator's. `lag_steps.py` writes one line a second from the worker: running users, CPU seconds,
RSS, requests, and every event-loop lag tick of erpload's probe (erpload.locust.looplag.LoopLag: a
20 ms sleep, how late it woke up).

Per step, over its hold (after `settle_s`, once every user of the step runs): loop-lag p99, CPU
share of the core, req/s, and KB per user (RSS over the RSS before any user, per user). A step is
sustained when its lag p99 is under `LAG_LIMIT_MS` (5 ms); the figure is the largest sustained step,
and the first step over the limit bounds it from above. Goal: >= 10,000 users per core.

Variants (`measure_variants`, one after the other in one invocation, so the comparison is side by
side): "off" (`--gc-tuning off`: Python's collector as is), "on" (erpload's default,
erpload.locust.gctune), "on:A/B/C" (the tuning with the thresholds A, B, C instead of gctune's:
the experiments that chose them), "freeze" (tuning off, the bench's own `gc.freeze()` after each
spawn step: the 2026-11-29 experiment). The top-level figures are the "on" variant's.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from erpbench import LOCUSTFILES, REPO, RESULTS_DIR
from erpbench.locust_run import LocustProcess, bench_env
from erpbench.nginx import NginxTarget
from erpbench.overhead import role_counts
from erpbench.procs import free_port
from erpload.core.histogram import nearest_rank as _rank

GOAL = 10_000
LAG_LIMIT_MS = 5.0
STEPS = (1000, 2000, 4000, 6000, 8000, 10000, 12000, 15000)


def nearest_rank(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (erpload's definition, erpload.core.histogram); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[_rank(len(ordered), q) - 1]


def write_profile(path: Path, steps: list[int], spawn_rate: int, hold_s: float) -> list[dict[str, Any]]:
    """A profile stepping the users: ramp to each step at `spawn_rate`, then hold; returns the stages."""
    stages = []
    prev = 0
    for users in steps:
        ramp = max(1.0, (users - prev) / spawn_rate)
        stages.append(
            {
                "name": f"u{users}",
                "duration": f"{ramp + hold_s:.0f}s",
                "users": users,
                "spawn_rate": spawn_rate,
            }
        )
        prev = users
    profile = {
        "name": "bench-users-per-core",
        "description": "erpload bench: role users stepped up at the shipped think times (peak-200's mix)",
        "roles": role_counts(steps[-1]),
        "stages": stages,
        "sla": ["error_rate < 50%"],
    }
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return stages


def analyse(lines: list[dict[str, Any]], steps: list[int], settle_s: float) -> list[dict[str, Any]]:
    """Cut the per-second lines into steps: each step's hold starts `settle_s` after all its users run."""
    start = next((x for x in lines if x.get("start")), None)
    stop = next((x["t"] for x in lines if x.get("stop")), None)
    # a line written after the stop covers the stop itself (thousands of users stopped at once)
    samples = [x for x in lines if "users" in x and (stop is None or x["t"] <= stop)]
    base_rss = start["rss"] if start else (samples[0]["rss"] if samples else 0)
    out = []
    for users in steps:
        at = [x for x in samples if x["users"] == users]
        if not at:
            out.append({"users": users, "reached": False})
            continue
        t0 = at[0]["t"] + settle_s
        hold = [x for x in at if x["t"] >= t0]
        if len(hold) < 3:
            out.append({"users": users, "reached": True, "hold_s": 0})
            continue
        lags = [lag for x in hold[1:] for lag in x["lags_ms"]]
        span = hold[-1]["t"] - hold[0]["t"]
        cpu = (hold[-1]["cpu_s"] - hold[0]["cpu_s"]) / span if span > 0 else None
        rps = (hold[-1]["requests"] - hold[0]["requests"]) / span if span > 0 else None
        rss = statistics.median(x["rss"] for x in hold)
        p99 = nearest_rank(lags, 0.99)
        pauses = [p for x in hold[1:] for p in x.get("gc_ms", [])]  # garbage-collector pauses >= 1 ms
        out.append(
            {
                "users": users,
                "reached": True,
                "hold_s": round(span, 1),
                "loop_lag_ticks": len(lags),
                "loop_lag_p50_ms": nearest_rank(lags, 0.5),
                "loop_lag_p99_ms": p99,
                "loop_lag_max_ms": max(lags) if lags else None,
                "cpu_share": round(cpu, 3) if cpu is not None else None,
                "rps": round(rps, 1) if rps is not None else None,
                "failures": hold[-1]["failures"] - hold[0]["failures"],
                "kb_per_user": round((rss - base_rss) / users / 1024, 1),
                "gc_pause_max_ms": max((p[0] for p in pauses), default=0.0),
                "gc_ms_per_s": round(sum(p[0] for p in pauses) / span, 2) if span > 0 else None,
                "sustained": p99 is not None and p99 < LAG_LIMIT_MS,
            }
        )
    return out


def measure(
    target: NginxTarget,
    *,
    steps: list[int] | None = None,
    spawn_rate: int = 500,
    hold_s: float = 30.0,
    settle_s: float = 10.0,
    cpus: str | None = "1",
    master_cpus: str | None = "0",
    work: Path,
    variant: str = "on",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the stepped profile once with one GC variant (module docstring); per-step figures and the
    users one core sustains."""
    tuning, freeze, thresholds = parse_variant(variant)
    steps = sorted(steps or STEPS)
    profile = work / "users-per-core.yaml"
    stages = write_profile(profile, steps, spawn_rate, hold_s)
    out_file = work / f"steps-{time.monotonic_ns()}.jsonl"
    env = bench_env(
        {
            "ERPLOAD_CREDENTIALS": str(target.credentials_file),
            "BENCH_STEPS_OUT": str(out_file),
            "BENCH_GC_FREEZE": "1" if freeze else "0",
            "BENCH_GC_THRESHOLDS": ",".join(str(x) for x in thresholds) if thresholds else "",
            "ERPLOAD_GC_TUNING": tuning,
        }
    )
    port = free_port()
    files = [REPO / "locustfiles", LOCUSTFILES / "lag_steps.py"]
    args = ["-H", target.url, "--load-profile", str(profile), "--stop-timeout", "2", "--expect-workers", "1"]
    args += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
    args += ["--report-dir", str(work / f"reports-upc-{time.monotonic_ns()}"), "--gc-tuning", tuning]
    duration = sum(float(s["duration"].rstrip("s")) for s in stages)
    # the master (SLA evaluation, reports, resource sampling) beside nginx; the one worker alone on its core
    master = LocustProcess("upc-master", files, args, env=env, cpus=master_cpus)
    worker_args = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    worker = LocustProcess("upc-worker", files, worker_args, env=env, cpus=cpus)
    started = time.strftime("%H:%M:%S UTC", time.gmtime())
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        res = master.finish(duration + 120)
    finally:
        wres = worker.finish(30)
        wres.cleanup()
    try:
        lines = (
            [json.loads(x) for x in out_file.read_text().splitlines() if x.strip()]
            if out_file.exists()
            else []
        )
    finally:
        res.cleanup()
    if not lines:
        raise RuntimeError(f"users_per_core: no samples (exit {res.exit_code}):\n{res.log_tail}")
    if not any(x.get("probe") for x in lines):
        raise RuntimeError("users_per_core: erpload's loop-lag probe was not found in the generator")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    name = variant.replace(":", "-").replace("/", "_")
    kept = shutil.copy(out_file, RESULTS_DIR / f"users-per-core-steps-{name}.jsonl")  # the raw seconds, kept
    rows = analyse(lines, steps, settle_s)
    for r in rows:
        if r.get("hold_s"):
            log(
                f"  [{variant}] {r['users']:6d} users: loop lag p50 {r['loop_lag_p50_ms']:.2f} / p99 "
                f"{r['loop_lag_p99_ms']:.2f} / max {r['loop_lag_max_ms']:.1f} ms, CPU {r['cpu_share']:.0%}, "
                f"{r['rps']:.0f} req/s, {r['failures']} failures, {r['kb_per_user']:.1f} KB/user, "
                f"GC pauses max {r['gc_pause_max_ms']:.0f} ms ({r['gc_ms_per_s']} ms/s)"
                f"{'' if r['sustained'] else '  <- over ' + str(LAG_LIMIT_MS) + ' ms'}"
            )
        else:
            log(f"  [{variant}] {r['users']:6d} users: not reached/held (spawning could not keep up)")
    ok = [r for r in rows if r.get("sustained")]
    first_bad = next((r for r in rows if r.get("hold_s") and not r.get("sustained")), None)
    best = max((r["users"] for r in ok), default=0)
    return {
        "steps": rows,
        "spawn_rate": spawn_rate,
        "hold_s": hold_s,
        "settle_s": settle_s,
        "cpus": cpus,
        "master_cpus": master_cpus,
        "variant": variant,
        "started": started,
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "freezes": [x["freeze"] for x in lines if x.get("freeze")],
        "lag_limit_ms": LAG_LIMIT_MS,
        "users_per_core": best,
        "first_over_limit": first_bad["users"] if first_bad else None,
        "kb_per_user": next((r["kb_per_user"] for r in ok if r["users"] == best), None),
        "goal": GOAL,
        "met": best >= GOAL,
        "steps_file": str(kept),
        "exit_code": res.exit_code,
        "worker_exit_code": wres.exit_code,
    }


def parse_variant(variant: str) -> tuple[str, bool, tuple[int, ...] | None]:
    """'off' | 'on' | 'on:A/B/C' | 'freeze' -> (--gc-tuning value, bench freeze, thresholds or None)."""
    name, _, rest = variant.partition(":")
    if name == "off" and not rest:
        return "off", False, None
    if name == "freeze" and not rest:
        return "off", True, None
    if name == "on":
        if not rest:
            return "on", False, None
        parts = rest.split("/")
        if len(parts) == 3 and all(p.strip().isdigit() for p in parts):
            return "on", False, tuple(int(p) for p in parts)
    raise ValueError(
        f"users_per_core: unknown variant {variant!r}: use off, on, on:A/B/C (thresholds) or freeze"
    )


def measure_variants(target: NginxTarget, variants: list[str], **kwargs: Any) -> dict[str, Any]:
    """`measure` once per variant, one after the other; the top-level figures are the "on" variant's
    (else the last one's), every variant's under "variants"."""
    for v in variants:
        parse_variant(v)  # every name checked before the first run
    runs = {v: measure(target, variant=v, **kwargs) for v in variants}
    head = runs.get("on") or runs[variants[-1]]
    return {**head, "variants": runs}
