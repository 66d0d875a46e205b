"""Percentile truth: erpload's reported p50/p95/p99 vs the unrounded client-side latencies.

nginx sleeps 100 ms (60 %), 250 ms (37 %) or 1050 ms (3 %) before answering /bench/delay (a timer
in its event loop: server-timed, no CPU). The users record every raw `response_time`; the reported
figures come from summary.json (`--report-dir`). Goal: |reported - raw| <= max(1 ms, 1 % of raw)
for p50, p95, p99, with raw = nearest-rank percentile of the raw samples (Locust's definition). For
contrast, Locust's default bucketing (`locust.stats.bucket_response_time`, ~2 significant digits)
is applied to the same samples. Run locally and distributed (`--processes 2`: merged on the master).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import locust.stats

from erpbench import LOCUSTFILES
from erpbench.locust_run import bench_env, processes_args, run_locust
from erpbench.nginx import NginxTarget
from erpload.core.histogram import exact_percentile

PERCENTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}
NAME = "/bench/delay"
# Locust's own bucketing, captured before anything in this process could replace it
LOCUST_BUCKET = locust.stats.bucket_response_time


def within(reported: float, raw: float) -> bool:
    """The goal: within 1 ms or 1 % of the raw value."""
    return abs(reported - raw) <= max(1.0, 0.01 * raw)


def locust_default_percentile(samples: list[float], p: float) -> float:
    """What stock Locust reports for these samples (its buckets and its percentile walk)."""
    counts: dict[int, int] = {}
    for s in samples:
        key = LOCUST_BUCKET(s)
        counts[key] = counts.get(key, 0) + 1
    return float(locust.stats.calculate_response_time_percentile(counts, len(samples), p))


def run_one(
    mode: str, target: NginxTarget, users: int, duration_s: float, stop_timeout_s: float = 0
) -> dict[str, Any]:
    """One run ('local' or 'distributed'); raw vs reported vs Locust-default percentiles.

    With `stop_timeout_s` 0 (Locust's default) users are killed at the end, so an unfinished request
    is in neither set. A longer --stop-timeout lets users finish theirs, which tests whether the
    master still gets the workers' final stats (`counts_match`).
    """
    if LOCUST_BUCKET.__module__ != "locust.stats":
        raise RuntimeError("locust.stats.bucket_response_time was replaced in the bench driver")
    env = bench_env({})
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
        f"{stop_timeout_s:g}",
    ]
    if mode == "distributed":
        args += processes_args(2)
    res = None
    work_report = Path(tempfile.mkdtemp(prefix="erpload-bench-pct-reports-"))
    try:
        res = run_locust(
            f"percentiles-{mode}",
            [LOCUSTFILES / "delay_users.py"],
            [*args, "--report-dir", str(work_report)],
            env=env,
            timeout_s=duration_s + 90,
        )
        assert res.work_dir is not None
        samples: list[float] = []
        files = sorted(res.work_dir.glob("raw-*.json"))
        for path in files:
            samples.extend(json.loads(path.read_text()))
        summary_path = work_report / "summary.json"
        if not samples or not summary_path.exists():
            raise RuntimeError(
                f"percentiles {mode}: no samples or no summary.json (exit {res.exit_code})\n{res.log_tail}"
            )
        summary = json.loads(summary_path.read_text())
        entry = next(r for r in summary["requests"] if r["name"] == NAME)
        rows = {}
        for key, p in PERCENTILES.items():
            raw = exact_percentile(samples, p)
            reported = float(entry[key])
            default = locust_default_percentile(samples, p)
            rows[key] = {
                "raw": round(raw, 3),
                "erpload": reported,
                "erpload_err_ms": round(reported - raw, 3),
                "erpload_ok": within(reported, raw),
                "locust_default": default,
                "locust_default_err_ms": round(default - raw, 3),
                "locust_default_ok": within(default, raw),
            }
        return {
            "mode": mode,
            "stop_timeout_s": stop_timeout_s,
            "exit_code": res.exit_code,
            "samples": len(samples),
            "sample_files": len(files),
            "reported_count": entry["count"],
            "counts_match": entry["count"] == len(samples),
            "percentiles": rows,
            "met": all(r["erpload_ok"] for r in rows.values()),
        }
    finally:
        if res is not None:
            res.cleanup()
        shutil.rmtree(work_report, ignore_errors=True)


def measure(
    target: NginxTarget,
    *,
    users: int,
    duration_s: float,
    modes: tuple[str, ...] = ("local", "distributed"),
    tail_check: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Both modes; met when every percentile of every mode is within the goal.

    `tail_check` adds a distributed run with --stop-timeout 3 and reports whether summary.json
    counted every request the workers made (informational: it does not decide `met`).
    """
    out = []
    for mode in modes:
        row = run_one(mode, target, users, duration_s)
        out.append(row)
        parts = ", ".join(
            f"{k} raw {v['raw']:.2f} / erpload {v['erpload']:.0f} ({v['erpload_err_ms']:+.2f} ms) / "
            f"locust {v['locust_default']:.0f} ({v['locust_default_err_ms']:+.1f} ms)"
            for k, v in row["percentiles"].items()
        )
        log(f"  percentiles {mode:11s} n={row['samples']} (reported {row['reported_count']}): {parts}")
    result: dict[str, Any] = {
        "users": users,
        "duration_s": duration_s,
        "goal": "within max(1 ms, 1 %) of raw",
        "runs": out,
        "met": all(r["met"] for r in out),
    }
    if tail_check:
        tail = run_one("distributed", target, users, duration_s, stop_timeout_s=3)
        lost = tail["samples"] - tail["reported_count"]
        result["tail_check"] = {
            "stop_timeout_s": 3,
            "samples": tail["samples"],
            "reported": tail["reported_count"],
            "lost": lost,
            "lost_share": round(lost / tail["samples"], 4) if tail["samples"] else 0,
        }
        log(
            f"  percentiles tail check (distributed, --stop-timeout 3): {tail['samples']} made, "
            f"{tail['reported_count']} in summary.json ({lost} lost)"
        )
    return result
