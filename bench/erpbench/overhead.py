"""Overhead: requests per generator CPU-second, raw Locust vs the role users with every erpload feature on.

Variants, each one Locust process pinned to the same CPU (nginx on another), same users, same
duration, think time 0; by default the variants of a round run side by side (at the same time, on
the same CPU, measuring the same wall-clock window), rounds alternate the start order:

    raw          bench/locustfiles/raw_roles.py: FastHttpUsers doing the same requests, no erpload
    raw_checked  the same, each request checked as a careful hand-written test does: catch_response,
                 json.loads of the body, success/failure by status (on by default, --no-overhead-checked)
    erpload      locustfiles/ (ErpUser role users) + --load-profile (ProfileShape, exact role mix),
                 SLA rules incl. live `abort: true` rules, per-role stats, --report-dir

Requests per CPU-second = requests in the probe's window / user+system CPU seconds of the process in
that window. The headline is the median over rounds of the paired ratio erpload/raw (goal >= 0.90;
>= 1.0 against raw_checked).
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from erpbench import LOCUSTFILES, REPO
from erpbench.locust_run import LocustProcess, RunResult, bench_env, run_locust
from erpbench.nginx import NginxTarget
from erpbench.procs import Child

GOAL = 0.90  # issue 17: >= 0.90x raw FastHttpUser (was 0.95)
GOAL_CHECKED = 1.0  # ... and >= 1.0x raw users that parse every body
# peak-200's role mix (profiles/peak-200.yaml)
PEAK_MIX = {
    "CuttingOperator": 50,
    "SewingOperator": 60,
    "FinishingOperator": 30,
    "QcInspector": 30,
    "PpicPlanner": 15,
    "WarehouseClerk": 10,
    "Admin": 5,
}
SLA_RULES: list[Any] = [
    'p95 of "POST /auth/login" < 500ms',
    'p95 of "GET /dashboard" < 1000ms',
    'p95 of "GET /ppic/manufacturing-orders" < 300ms',
    'p95 of "POST /warehouse/stock/[sku]/adjust" < 200ms',
    "p99 of role CuttingOperator < 2s",
    "error_rate < 1%",
    {"rule": "p99 < 2s", "window": "stage:steady"},
    # live rules: evaluated every second on the merged stats while the run goes on
    {
        "rule": "error_rate < 50%",
        "abort": True,
        "after": "1s",
        "for": "5s",
        "name": "bench live abort (errors)",
    },
    {"rule": "p95 < 30s", "abort": True, "after": "1s", "for": "5s", "name": "bench live abort (latency)"},
]


def role_counts(users: int, mix: dict[str, int] | None = None) -> dict[str, int]:
    """Split `users` over the roles in `mix` proportions (largest remainder; every role at least 1)."""
    mix = mix or PEAK_MIX
    total = sum(mix.values())
    exact = {k: users * v / total for k, v in mix.items()}
    counts = {k: max(1, int(v)) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - int(exact[k]), reverse=True):
        if sum(counts.values()) >= users:
            break
        counts[k] += 1
    while sum(counts.values()) > users:  # only when users < number of roles forced 1 each
        k = max(counts, key=lambda k: counts[k])
        counts[k] -= 1
    return counts


def write_profile(path: Path, users: int, duration_s: float, name: str = "bench-overhead") -> Path:
    """A load profile: ramp to `users` in ~1 s, hold until `duration_s`; SLA rules incl. live aborts."""
    ramp = 2
    profile = {
        "name": name,
        "description": "erpload bench: every feature on (shape, role mix, SLA incl. live aborts, reports)",
        "roles": role_counts(users),
        "stages": [
            {"name": "ramp-up", "duration": f"{ramp}s", "users": users, "spawn_rate": max(users, 1)},
            {"name": "steady", "duration": f"{max(1, round(duration_s - ramp))}s", "users": users},
        ],
        "sla": SLA_RULES,
    }
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    return path


def _spec(
    variant: str, target: NginxTarget, users: int, duration_s: float, work: Path, probe_env: dict[str, str]
) -> tuple[list[Path], list[str], dict[str, str]]:
    """(locustfiles, args, env) of one variant."""
    probe_env = {**probe_env, "ERPLOAD_CREDENTIALS": str(target.credentials_file)}
    if variant in ("raw", "raw_checked"):
        counts = {f"Raw{k}": v for k, v in role_counts(users).items()}
        env = bench_env(
            {
                **probe_env,
                "BENCH_RAW_COUNTS": json.dumps(counts),
                "BENCH_RAW_CHECKED": "1" if variant == "raw_checked" else "0",
            }
        )
        args = [
            "-H",
            target.url,
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{duration_s:.0f}s",
            "--stop-timeout",
            "2",
        ]
        return [LOCUSTFILES / "raw_roles.py"], args, env
    if variant == "erpload":
        profile = write_profile(work / f"overhead-{users}u-{duration_s:.0f}s.yaml", users, duration_s)
        env = bench_env({**probe_env, "ERPLOAD_THINK_TIME": "0,0"})
        report_dir = work / f"reports-overhead-{time.monotonic_ns()}"
        args = [
            "-H",
            target.url,
            "--load-profile",
            str(profile),
            "--report-dir",
            str(report_dir),
            "--stop-timeout",
            "2",
        ]
        return [REPO / "locustfiles"], args, env
    raise ValueError(f"unknown variant {variant!r}")


def run_variant(
    variant: str,
    target: NginxTarget,
    users: int,
    warmup_s: float,
    window_s: float,
    cpus: str | None,
    work: Path,
    attach: Callable[[int, Path], Child | None] | None = None,
) -> RunResult:
    """One run of `variant` ('raw', 'raw_checked' or 'erpload') alone against `target`."""
    duration = warmup_s + window_s + 2.0
    files, args, env = _spec(
        variant,
        target,
        users,
        duration,
        work,
        {"BENCH_PROBE_WARMUP": str(warmup_s), "BENCH_PROBE_WINDOW": str(window_s)},
    )
    return run_locust(variant, files, args, env=env, timeout_s=duration + 60, cpus=cpus, attach=attach)


def run_side_by_side(
    variants: list[str],
    target: NginxTarget,
    users: int,
    window_s: float,
    cpus: str | None,
    work: Path,
    startup_s: float = 10.0,
) -> list[RunResult]:
    """Start every variant at once (same CPU set), all measuring the same wall-clock window.

    The window opens `startup_s` after launch (imports, spawning and ramp-up are done by then) and
    lasts `window_s`; the processes are started in the given order and run a little longer.
    """
    start_at = time.time() + startup_s
    duration = startup_s + window_s + 3.0
    probe_env = {"BENCH_PROBE_START_AT": f"{start_at:.3f}", "BENCH_PROBE_WINDOW": str(window_s)}
    procs: list[LocustProcess] = []
    try:
        for variant in variants:
            files, args, env = _spec(variant, target, users, duration, work, probe_env)
            procs.append(LocustProcess(variant, files, args, env=env, cpus=cpus))
    finally:
        results = [p.finish(duration + 90) for p in procs]  # bounded; each stopped by PID
    return results


def mix_distance(a: dict[str, int], b: dict[str, int]) -> float:
    """Total variation distance between two request mixes (0 = identical proportions, 1 = disjoint)."""
    ta, tb = sum(a.values()) or 1, sum(b.values()) or 1
    return 0.5 * sum(abs(a.get(k, 0) / ta - b.get(k, 0) / tb) for k in set(a) | set(b))


def measure(
    target: NginxTarget,
    *,
    users: int,
    rounds: int,
    warmup_s: float,
    window_s: float,
    locust_cpus: str | None,
    work: Path,
    checked_variant: bool = False,
    mode: str = "side-by-side",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """`rounds` rounds of every variant, order alternating; per-run figures, medians and the ratios.

    mode "side-by-side": the variants of a round run at the same time on the same CPU(s), measuring
    the same window, so background load and CPU frequency hit them alike (the robust default);
    "sequential": one after the other, each with the CPU(s) to itself.
    """
    variants = ["raw", "erpload"] + (["raw_checked"] if checked_variant else [])
    runs: list[dict[str, Any]] = []
    for r in range(rounds):
        order = variants if r % 2 == 0 else list(reversed(variants))
        if mode == "side-by-side":
            results = run_side_by_side(order, target, users, window_s, locust_cpus, work)
        else:
            results = [run_variant(v, target, users, warmup_s, window_s, locust_cpus, work) for v in order]
        for variant, res in zip(order, results, strict=True):
            try:
                w = res.window()
                quit_cpu = _whole_cpu(res)
            finally:
                res.cleanup()
            per_cpu = w["requests"] / w["cpu_s"] if w["cpu_s"] > 0 else 0.0
            row = {
                "variant": variant,
                "round": r,
                "exit_code": res.exit_code,
                "requests": w["requests"],
                "failures": w["failures"],
                "cpu_s": round(w["cpu_s"], 3),
                "wall_s": round(w["wall_s"], 3),
                "rps": round(w["rps"], 1),
                "req_per_cpu_s": round(per_cpu, 1),
                "cpu_util": round(w["cpu_s"] / w["wall_s"], 3) if w["wall_s"] else None,
                "late_s": round(max(p["window"].get("late_s", 0.0) for p in res.of_kind("local")), 3),
                "process_cpu_s": quit_cpu,
                "counts": w["counts"],
            }
            runs.append(row)
            if row["failures"]:
                log(
                    f"  WARNING: {variant} had {row['failures']} failed requests: the bench target's bodies no longer "
                    "satisfy the role users' checks (docs/erp-api.md changed?); failures cost extra CPU"
                )
            log(
                f"  overhead {variant:11s} round {r}: {row['requests']:7d} req in {row['cpu_s']:6.2f} CPU-s "
                f"-> {per_cpu:7.1f} req/CPU-s ({row['rps']:.0f} req/s, CPU {row['cpu_util']:.0%}, "
                f"{row['failures']} failures, exit {res.exit_code})"
            )
    med = {v: statistics.median(x["req_per_cpu_s"] for x in runs if x["variant"] == v) for v in variants}

    def paired(a: str, b: str) -> list[float]:
        """Per round: req/CPU-s of variant `a` / that of `b` (same round, same conditions)."""
        out = []
        for r in range(rounds):
            by = {x["variant"]: x for x in runs if x["round"] == r}
            out.append(by[a]["req_per_cpu_s"] / by[b]["req_per_cpu_s"])
        return out

    pairs = paired("erpload", "raw")
    ratio = statistics.median(pairs)
    mix_a = _sum_counts(x["counts"] for x in runs if x["variant"] == "raw")
    mix_b = _sum_counts(x["counts"] for x in runs if x["variant"] == "erpload")
    out: dict[str, Any] = {
        "mode": mode,
        "users": users,
        "rounds": rounds,
        "window_s": window_s,
        "locust_cpus": locust_cpus,
        "median_req_per_cpu_s": {k: round(v, 1) for k, v in med.items()},
        "ratio": round(ratio, 4),
        "ratio_per_round": [round(p, 4) for p in pairs],
        "ratio_of_medians": round(med["erpload"] / med["raw"], 4),
        "goal": GOAL,
        "met": ratio >= GOAL,
        "mix_distance": round(mix_distance(mix_a, mix_b), 4),
        "mix": {"raw": _shares(mix_a), "erpload": _shares(mix_b)},
        "runs": [{k: v for k, v in x.items() if k != "counts"} for x in runs],
    }
    if checked_variant:
        checked = paired("erpload", "raw_checked")
        out["ratio_vs_raw_checked"] = round(statistics.median(checked), 4)
        out["ratio_vs_raw_checked_per_round"] = [round(p, 4) for p in checked]
        out["goal_checked"] = GOAL_CHECKED
        out["raw_checked_vs_raw"] = round(statistics.median(paired("raw_checked", "raw")), 4)
    return out


def _whole_cpu(res: RunResult) -> float | None:
    """CPU seconds of the whole process (start-up, run, reports) up to `quitting`."""
    for p in res.of_kind("local"):
        if "quit" in p:
            return round(p["quit"]["cpu_user"] + p["quit"]["cpu_system"], 2)
    return None


def _sum_counts(items: Any) -> dict[str, int]:
    """Add request-count dicts."""
    total: dict[str, int] = {}
    for counts in items:
        for k, v in counts.items():
            total[k] = total.get(k, 0) + v
    return total


def _shares(counts: dict[str, int]) -> dict[str, float]:
    """Counts -> shares of the total, largest first."""
    n = sum(counts.values()) or 1
    return {k: round(v / n, 4) for k, v in sorted(counts.items(), key=lambda kv: -kv[1])}
