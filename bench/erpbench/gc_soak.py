"""GC tuning soak: a long run's RSS over time with erpload's GC tuning on and off, side by side.

erpload's GC tuning (erpload.locust.gctune, `--gc-tuning on`, the default) freezes the users after
each spawn step and raises the collector's thresholds, so cyclic garbage is collected less often.
This measures whether a long run's memory grows because of it: two Locust processes started at the
same time, headless, local runner, the same role users (locustfiles/, peak-200's role mix through a
load profile, the shipped think times: no ERPLOAD_THINK_TIME, as erpbench.users_per_core), the same
users and the same run time (`-t`), one with `--gc-tuning on`, one with `--gc-tuning off`, both
pinned to the same CPU (nginx on the other), both against the bench nginx on 127.0.0.1. The bench
samples each process's RSS from outside (psutil) every SAMPLE_S seconds: the collector's own
counters are not visible from outside, so RSS is the figure.

Per process: RSS once all users spawned (Locust's "All users spawned" log line: the tuned process
collects and freezes there), at the start and at the end of the steady window, its slope (least
squares, MB per 10 minutes, with its standard error) over the steady window, req/s and CPU share in
it (bench_probe.py's window, the same unix-time interval in both processes). The steady window
starts `settle_s` after the latest expected end of the ramp (start-up allowance + ramp) and ends
10 s before the earliest possible end of the run (launch + `-t`). Verdict: the tuned process's RSS grows clearly faster when its slope exceeds
the untuned one's by more than both 1 MB per 10 minutes and 3 standard errors of the difference
(the samples are autocorrelated: the standard error is a floor, not a confidence bound).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from erpbench import REPO
from erpbench.locust_run import LocustProcess, RunResult, bench_env
from erpbench.nginx import NginxTarget
from erpbench.users_per_core import write_profile

SAMPLE_S = 5.0
STARTUP_S = 15.0  # launch to test_start allowance (imports of two processes at once, on one core)
VARIANTS = ("on", "off")
SPAWNED = "All users spawned"
CLEAR_MB_PER_10MIN = 1.0


def fit_slope(points: list[tuple[float, float]]) -> tuple[float | None, float | None]:
    """Least-squares slope of (seconds, MB) points in MB per 10 minutes, and its standard error."""
    n = len(points)
    if n < 3:
        return None, None
    mx = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    if sxx <= 0:
        return None, None
    b = sum((t - mx) * (y - my) for t, y in points) / sxx
    resid = sum((y - my - b * (t - mx)) ** 2 for t, y in points)
    se = math.sqrt(resid / (n - 2) / sxx)
    return round(b * 600, 3), round(se * 600, 3)


def _sample(proc: psutil.Process) -> dict[str, float] | None:
    """Now: unix time, RSS (MB) and user+system CPU seconds of `proc`; None once it is gone."""
    try:
        with proc.oneshot():
            rss, cpu = proc.memory_info().rss, proc.cpu_times()
    except psutil.Error:
        return None
    return {
        "t": round(time.time(), 3),
        "rss_mb": round(rss / 2**20, 2),
        "cpu_s": round(cpu.user + cpu.system, 2),
    }


def _spawned_seen(proc: LocustProcess) -> bool:
    """Has the process logged that every user spawned?"""
    path = proc.child.log_path
    return path is not None and path.exists() and SPAWNED in path.read_text(errors="replace")


def _run_side_by_side(
    procs: dict[str, LocustProcess], timeout_s: float
) -> tuple[dict[str, list[dict[str, float]]], dict[str, dict[str, float] | None]]:
    """Sample every process every SAMPLE_S s (and once when it logs that its users spawned) until all
    exit or `timeout_s` passes."""
    handles = {v: psutil.Process(p.pid) for v, p in procs.items()}
    samples: dict[str, list[dict[str, float]]] = {v: [] for v in procs}
    spawned: dict[str, dict[str, float] | None] = dict.fromkeys(procs)
    deadline = time.monotonic() + timeout_s
    next_at = time.monotonic()
    while time.monotonic() < deadline and any(p.child.proc.poll() is None for p in procs.values()):
        for v, p in procs.items():
            if spawned[v] is None and _spawned_seen(p):
                spawned[v] = _sample(handles[v])
        if time.monotonic() >= next_at:
            for v in procs:
                s = _sample(handles[v])
                if s is not None:
                    samples[v].append(s)
            next_at += SAMPLE_S
        time.sleep(0.5)  # the sampling clock, not a readiness wait
    return samples, spawned


def analyse(
    samples: list[dict[str, float]],
    spawned: dict[str, float] | None,
    res: RunResult,
    window: tuple[float, float],
) -> dict[str, Any]:
    """One process's figures over the steady window [start, end] (unix times)."""
    steady = [s for s in samples if window[0] <= s["t"] <= window[1]]
    slope, se = fit_slope([(s["t"] - window[0], s["rss_mb"]) for s in steady])
    half = (window[0] + window[1]) / 2  # the late half alone: a rise that levels off vs steady growth
    late, late_se = fit_slope([(s["t"] - window[0], s["rss_mb"]) for s in steady if s["t"] >= half])
    probe = next((p for p in res.of_kind("local") if "window" in p), None)
    w = probe["window"] if probe else None
    span = steady[-1]["t"] - steady[0]["t"] if len(steady) >= 2 else 0.0
    problems = []
    if spawned is None:
        problems.append("never logged 'All users spawned'")
    elif spawned["t"] > window[0]:
        problems.append("its users spawned after the steady window began")
    if w is None:
        problems.append("no probe window (req/s)")
    elif w["late_s"] > 5:
        problems.append(f"probe window began {w['late_s']:.0f} s late")
    if res.exit_code != 0:
        problems.append(f"exit code {res.exit_code}")
    if slope is None or len(steady) < 5:
        problems.append(f"{len(steady)} samples in the steady window")
    return {
        "rss_spawned_mb": spawned["rss_mb"] if spawned else None,
        "rss_steady_start_mb": steady[0]["rss_mb"] if steady else None,
        "rss_end_mb": steady[-1]["rss_mb"] if steady else None,
        "rss_max_mb": max((s["rss_mb"] for s in steady), default=None),
        "slope_mb_per_10min": slope,
        "slope_se": se,
        "slope_late_half": late,
        "slope_late_half_se": late_se,
        "steady_samples": len(steady),
        "steady_s": round(span, 1),
        "cpu_share": round((steady[-1]["cpu_s"] - steady[0]["cpu_s"]) / span, 3) if span > 0 else None,
        "rps": round(w["requests"] / w["wall_s"], 1) if w and w["wall_s"] > 0 else None,
        "requests": w["requests"] if w else None,
        "failures": w["failures"] if w else None,
        "exit_code": res.exit_code,
        "valid": not problems,
        "problems": problems,
        "samples": [[round(s["t"] - window[0], 1), s["rss_mb"], s["cpu_s"]] for s in samples],
    }


def verdict(on: dict[str, Any], off: dict[str, Any]) -> dict[str, Any]:
    """Does the tuned process's RSS grow clearly faster than the untuned one's?"""
    if not (on["valid"] and off["valid"]):
        return {"status": "INVALID", "text": "INVALID: " + "; ".join(on["problems"] + off["problems"])}
    diff = on["slope_mb_per_10min"] - off["slope_mb_per_10min"]
    se = math.hypot(on["slope_se"], off["slope_se"])
    faster = diff > max(CLEAR_MB_PER_10MIN, 3 * se)
    text = (
        f"tuned RSS slope {on['slope_mb_per_10min']:+.2f} vs untuned {off['slope_mb_per_10min']:+.2f} MB/10 min "
        f"(difference {diff:+.2f}, SE {se:.2f}): "
        + (
            "the TUNED process's RSS grows clearly faster"
            if faster
            else "no clearly faster growth with the tuning"
        )
        + f"; late half {_fmt(on['slope_late_half'])} vs {_fmt(off['slope_late_half'])} MB/10 min"
    )
    return {
        "status": "TUNED_GROWS_FASTER" if faster else "NO_CLEAR_DIFFERENCE",
        "diff": round(diff, 3),
        "se": round(se, 3),
        "text": text,
    }


def _fmt(x: float | None) -> str:
    """+1.23, or - for no figure."""
    return "-" if x is None else f"{x:+.2f}"


def table(result: dict[str, Any]) -> list[str]:
    """Markdown rows: one per variant."""
    head = "| --gc-tuning | RSS all spawned | RSS steady start | RSS end | max | slope MB/10 min (SE) | late half | req/s | failures | CPU |"
    rows = [head, "|" + "---|" * 10]
    for v in VARIANTS:
        r = result["variants"][v]

        def mb(x: float | None) -> str:
            return "-" if x is None else f"{x:.1f}"

        slope = (
            "-"
            if r["slope_mb_per_10min"] is None
            else f"{r['slope_mb_per_10min']:+.2f} ({r['slope_se']:.2f})"
        )
        late = (
            "-"
            if r["slope_late_half"] is None
            else f"{r['slope_late_half']:+.2f} ({r['slope_late_half_se']:.2f})"
        )
        cpu = "-" if r["cpu_share"] is None else f"{r['cpu_share']:.0%}"
        rows.append(
            f"| {v} | {mb(r['rss_spawned_mb'])} | {mb(r['rss_steady_start_mb'])} | {mb(r['rss_end_mb'])} | "
            f"{mb(r['rss_max_mb'])} | {slope} | {late} | {r['rps'] if r['rps'] is not None else '-'} | "
            f"{r['failures'] if r['failures'] is not None else '-'} | {cpu} |"
        )
    return rows


def measure(
    target: NginxTarget,
    *,
    users: int = 2000,
    minutes: float = 12.0,
    spawn_rate: int = 500,
    cpus: str | None = "1",
    work: Path,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Both variants at once (module docstring); per-variant figures, the table and the verdict."""
    if users < 1 or minutes <= 0:
        raise ValueError(f"gc_soak: users ({users}) must be >= 1 and minutes ({minutes:g}) > 0")
    hold_s = minutes * 60.0
    stages = write_profile(work / "gc-soak.yaml", [users], spawn_rate, hold_s)
    run_s = float(stages[0]["duration"].rstrip("s"))
    ramp_s = run_s - hold_s
    settle_s = min(60.0, hold_s / 6)
    launch = time.time()
    start_at = launch + STARTUP_S + ramp_s + settle_s
    window = (start_at, launch + run_s - 10.0)  # the run ends no earlier than launch + run_s
    if window[1] - window[0] < 20:
        raise ValueError(f"gc_soak: --soak-minutes {minutes:g} leaves under 20 s of steady window; use >= 1")
    load_before = [round(x, 2) for x in os.getloadavg()]
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(launch))
    procs: dict[str, LocustProcess] = {}
    results: dict[str, RunResult] = {}
    try:
        for v in VARIANTS:
            env = bench_env(
                {
                    "ERPLOAD_CREDENTIALS": str(target.credentials_file),
                    "BENCH_PROBE_START_AT": f"{start_at:.3f}",
                    "BENCH_PROBE_WINDOW": f"{window[1] - window[0]:.1f}",
                }
            )
            args = ["-H", target.url, "--load-profile", str(work / "gc-soak.yaml"), "-t", f"{run_s:.0f}s"]
            args += ["--stop-timeout", "2", "--gc-tuning", v, "--report-dir", str(work / f"reports-soak-{v}")]
            procs[v] = LocustProcess(f"soak-{v}", [REPO / "locustfiles"], args, env=env, cpus=cpus)
        log(
            f"  gc_soak: pids {', '.join(f'{v}={p.pid}' for v, p in procs.items())}; {users} users each, "
            f"{run_s:.0f} s run, steady window {window[1] - window[0]:.0f} s; load average {load_before}"
        )
        samples, spawned = _run_side_by_side(procs, STARTUP_S + run_s + 120)
        for v, p in procs.items():
            results[v] = p.finish(60)
    finally:
        for p in procs.values():
            p.child.stop()
    try:
        rows = {v: analyse(samples[v], spawned[v], results[v], window) for v in VARIANTS}
    finally:
        for r in results.values():
            r.cleanup()
    out: dict[str, Any] = {
        "users": users,
        "minutes": minutes,
        "spawn_rate": spawn_rate,
        "settle_s": settle_s,
        "sample_s": SAMPLE_S,
        "cpus": cpus,
        "started": started,
        "ended": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "variants": rows,
    }
    out["verdict"] = verdict(rows["on"], rows["off"])
    out["table"] = table(out)
    for line in out["table"]:
        log(f"  {line}")
    log(f"  gc_soak: {out['verdict']['text']}")
    return out
