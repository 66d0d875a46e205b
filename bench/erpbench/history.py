"""Master memory and end-of-run report time for a synthetic long run, without running it for hours.

Run as its own process (`python -m erpbench.history`, PYTHONPATH=bench) so its RSS is the master's:
the real master-side code is driven with a synthetic clock:

- workers: per worker a Locust `RequestStats` (as on a worker: no response-times cache) and an
  erpload `Exchange`; requests are logged with `StatsEntry.log` at synthetic timestamps (Locust's
  `time.time()` in `locust.stats` is replaced by the synthetic clock), bucketed with erpload's
  `fine_bucket`, and every 3 synthetic seconds each worker's report (`serialize_stats`, the erpload
  payload with per-role stats) is fired as `worker_report` on the master environment;
- master: Locust's own report merging (`setup_distributed_stats_event_listeners`), erpload's
  `Exchange.on_worker_report`, and an `erpload.plugin.ErploadRun` whose `RunRecorder` samples once
  per synthetic second into the bounded `Timeline`, keeps stage-start snapshots and evaluates the
  live `abort: true` rules (every `live_every` samples; timed);
- end: `ErploadRun.finalize()` (final snapshot, every rule, build_summary, write_reports), timed.

Latencies are lognormal per endpoint (a few slow endpoints), 0.2 % failures with a handful of
distinct messages, traffic skewed across endpoints. RSS is sampled every simulated hour.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import shutil
import sys
import tempfile
import time
import types
from dataclasses import replace
from pathlib import Path
from typing import Any

import locust.stats
import psutil
from locust.env import Environment
from locust.stats import RequestStats, setup_distributed_stats_event_listeners

from erpload.core.histogram import fine_bucket
from erpload.locust.exchange import ROLE_METHOD, Exchange
from erpload.locust.recorder import prune_per_second_counters
from erpload.plugin import ErploadRun
from erpload.profile import load_profile
from erpload.sla.grammar import parse_rules

REPO = Path(__file__).resolve().parents[2]
ROLES = (
    "CuttingOperator",
    "SewingOperator",
    "FinishingOperator",
    "QcInspector",
    "PpicPlanner",
    "WarehouseClerk",
    "Admin",
)
# the request names the role users produce (see the overhead run's mix), padded to `endpoints`
REAL_NAMES = [
    ("POST", "/auth/login"),
    ("GET", "/auth/me"),
    ("GET", "/dashboard"),
    ("GET", "/ppic/manufacturing-orders"),
    ("POST", "/ppic/manufacturing-orders"),
    ("GET", "/ppic/manufacturing-orders/[id]"),
    ("GET", "/production/work-orders"),
    ("POST", "/production/work-orders/[id]/claim"),
    ("PATCH", "/production/work-orders/[id]"),
    ("POST", "/production/cutting"),
    ("POST", "/production/sewing"),
    ("POST", "/production/finishing"),
    ("GET", "/qc/tests"),
    ("POST", "/qc/tests/[id]/result"),
    ("GET", "/warehouse/receipts"),
    ("POST", "/warehouse/receipts/[id]/receive"),
    ("GET", "/warehouse/stock"),
    ("GET", "/warehouse/stock/[sku]"),
    ("POST", "/warehouse/stock/[sku]/adjust"),
    ("POST", "/reports/production"),
    ("GET", "/admin/users"),
    ("GET", "/admin/audit-log"),
    ("GET", "/admin/rbac"),
    ("GET", "/admin/users [rbac-probe]"),
    ("GET", "/ppic/manufacturing-orders [rbac-probe]"),
    ("GET", "/production/work-orders [rbac-probe]"),
    ("POST", "/production/cutting [rbac-probe]"),
    ("POST", "/production/sewing [rbac-probe]"),
    ("POST", "/production/finishing [rbac-probe]"),
    ("POST", "/warehouse/receipts/[id]/receive [rbac-probe]"),
    ("GET", "/admin/audit-log [rbac-probe]"),
    ("GET", "/warehouse/receipts [rbac-probe]"),
    ("POST", "/qc/tests/[id]/result [rbac-probe]"),
    ("GET", "/qc/tests [rbac-probe]"),
    ("GET", "/admin/rbac [rbac-probe]"),
    ("POST", "/production/work-orders/[id]/claim [rbac-probe]"),
]
ERRORS = (
    'HTTP 500 (expected 200): {"error":"internal"}',
    "no valid response: ConnectionResetError",
    "no valid response: timeout",
    "HTTP 409 (expected 200): conflict",
)


class Clock:
    """The synthetic wall clock (unix seconds) that `locust.stats` reads via `time.time()`."""

    def __init__(self, start: float) -> None:
        """Start the clock at unix time `start`."""
        self.now = start

    def time(self) -> float:
        """The synthetic `time.time()`."""
        return self.now


def rss_mb() -> float:
    """This process's RSS in MB after a full collection."""
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def endpoint_names(n: int) -> list[tuple[str, str]]:
    """`n` request names: the real ones first, then synthetic extra endpoints."""
    names = list(REAL_NAMES[:n])
    i = 0
    while len(names) < n:
        names.append(("GET", f"/extra/endpoint-{i:03d}"))
        i += 1
    return names


def simulate(
    hours: float = 8.0,
    endpoints: int = 40,
    rps: float = 200.0,
    workers: int = 2,
    live_every: int = 60,
    prune_per_sec: bool = False,
    seed: int = 1,
    report_dir: Path | None = None,
) -> dict[str, Any]:
    """Drive the master with `hours` of synthetic 1 Hz history; return RSS, timings and sizes."""
    rnd = random.Random(seed)
    locust.stats.bucket_response_time = fine_bucket  # what erpload.plugin.install does in every process
    clock = Clock(1_767_225_600.0)  # 2026-01-01T00:00:00Z
    locust.stats.time = types.SimpleNamespace(time=clock.time)  # type: ignore[attr-defined]

    names = endpoint_names(endpoints)
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(names))]  # skewed: a few hot endpoints
    wsum = sum(weights)
    shares = [w / wsum for w in weights]
    medians = [rnd.choice((12, 25, 40, 60, 90, 150)) * (8 if "reports" in n[1] else 1) for n in names]
    sigmas = [rnd.uniform(0.35, 0.8) for _ in names]
    role_of = [ROLES[i % len(ROLES)] for i in range(len(names))]

    # -- master: Locust's merge + erpload's run object (what plugin.install does on a master)
    master = Environment(user_classes=[], events=None)
    setup_distributed_stats_event_listeners(master.events, master.stats)
    master.parsed_options = argparse.Namespace(
        load_profile="",
        report_dir=str(report_dir or ""),
        baseline="",
        baseline_tolerance=0.1,
        sample_interval=1.0,
        headless=True,
    )
    run = ErploadRun(master)
    master.events.worker_report.add_listener(run.exchange.on_worker_report)
    profile = load_profile(REPO / "profiles" / "endurance-8h.yaml")
    live_rules, problems = parse_rules(
        [
            {"rule": "error_rate < 50%", "abort": True, "after": "1m", "for": "30s"},
            {"rule": "p95 < 30s", "abort": True, "after": "1m", "for": "30s"},
        ]
    )
    assert not problems, problems
    total_s = int(hours * 3600)
    scale = total_s / profile.duration_s  # endurance-8h's stages, stretched to `hours`
    profile = replace(
        profile,
        sla=tuple(profile.sla) + tuple(live_rules),
        stages=tuple(replace(st, duration_s=st.duration_s * scale) for st in profile.stages),
    )
    stages = [
        (st.name, round(sum(x.duration_s for x in profile.stages[:i]))) for i, st in enumerate(profile.stages)
    ]
    # -- workers
    w_stats = [RequestStats(use_response_times_cache=False) for _ in range(workers)]
    w_ex = [Exchange() for _ in range(workers)]

    baseline_mb = rss_mb()
    t_start = time.perf_counter()
    run.on_test_start(master)  # finds no --load-profile: set the profile and arm its rules ourselves
    run.profile = profile
    rec = run.recorder
    rec.start(list(profile.sla))
    rec.stop()  # no sampling greenlet: we drive sample() ourselves, on the synthetic clock
    t0 = clock.now
    rec.elapsed = lambda: clock.now - t0  # type: ignore[method-assign]
    tracker = rec.tracker
    hourly: list[dict[str, float]] = []
    live_ms: list[tuple[float, float]] = []  # (hour, ms) of samples that evaluated the live rules
    plain_ms: list[float] = []
    stage_iter = iter(stages)
    next_stage = next(stage_iter, None)
    requests = 0
    for sec in range(total_s):
        while next_stage is not None and sec >= next_stage[1]:
            idx = [s[0] for s in stages].index(next_stage[0])
            rec.on_stage(idx, next_stage[0], sec, types.SimpleNamespace(steady=next_stage[0] == "shift"))
            next_stage = next(stage_iter, None)
        # this second's requests, spread over the workers
        n = _poisson(rnd, rps)
        requests += n
        for _ in range(n):
            i = _pick(rnd, shares)
            clock.now = t0 + sec + rnd.random()
            rt = math.exp(rnd.gauss(math.log(medians[i]), sigmas[i]))
            k = rnd.randrange(workers)
            method, name = names[i]
            entry = w_stats[k].get(name, method)
            entry.log(rt, 900)
            role_entry = w_ex[k].role_stats.entries[(role_of[i], ROLE_METHOD)]
            role_entry.log(rt, 900)
            if rnd.random() < 0.002:
                err = rnd.choice(ERRORS)
                w_stats[k].log_error(method, name, err)
                role_entry.log_error(err)
        clock.now = t0 + sec + 1
        if (sec + 1) % 3 == 0:  # WORKER_REPORT_INTERVAL
            for k in range(workers):
                data: dict[str, Any] = {
                    "stats": w_stats[k].serialize_stats(),
                    "stats_total": w_stats[k].total.get_stripped_report(),
                    "errors": w_stats[k].serialize_errors(),
                }
                w_stats[k].errors = {}
                w_ex[k].on_report_to_master(f"worker-{k}", data)
                master.events.worker_report.fire(client_id=f"worker-{k}", data=data)
        evaluate_live = tracker is not None and live_every > 0 and sec % live_every == 0
        rec.tracker = tracker if evaluate_live else None
        s0 = time.perf_counter()
        rec.sample()
        dt_ms = (time.perf_counter() - s0) * 1000
        (live_ms.append((sec / 3600, dt_ms)) if evaluate_live else plain_ms.append(dt_ms))
        if prune_per_sec and sec % 60 == 0:  # what RunRecorder.sample does every 60 s, on the synthetic clock
            prune_per_second_counters(master.stats, clock.now)
            prune_per_second_counters(run.exchange.role_stats, clock.now)
        if (sec + 1) % 3600 == 0 or sec + 1 == total_s:
            hourly.append(
                {
                    "hour": round((sec + 1) / 3600, 2),
                    "rss_mb": round(rss_mb(), 1),
                    "per_sec_entries": _per_sec_entries(master.stats, run.exchange.role_stats),
                    "timeline_points": len(rec.timeline.t),
                }
            )
    rec.tracker = tracker
    drive_s = time.perf_counter() - t_start
    before_report_mb = rss_mb()
    buckets = {f"{e.method} {e.name}": len(e.response_times) for e in master.stats.entries.values()}

    work = report_dir or Path(tempfile.mkdtemp(prefix="erpload-bench-history-"))
    master.parsed_options.report_dir = str(work)
    r0 = time.perf_counter()
    run.finalize()
    report_s = time.perf_counter() - r0
    sizes = {p.name: p.stat().st_size for p in sorted(work.iterdir()) if p.is_file()}
    after_report_mb = rss_mb()
    if report_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    live_by_hour: dict[int, list[float]] = {}
    for h, ms in live_ms:
        live_by_hour.setdefault(int(h), []).append(ms)
    return {
        "hours": hours,
        "endpoints": len(names),
        "roles": len(ROLES),
        "workers": workers,
        "rps": rps,
        "requests": requests,
        "samples": total_s,
        "live_every": live_every,
        "prune_per_sec": prune_per_sec,
        "baseline_rss_mb": round(baseline_mb, 1),
        "rss_growth_mb": round(before_report_mb - baseline_mb, 1),
        "rss_growth_after_report_mb": round(after_report_mb - baseline_mb, 1),
        "report_s": round(report_s, 3),
        "report_files_bytes": sizes,
        "drive_s": round(drive_s, 1),
        "hourly": hourly,
        "sample_ms_plain_median": round(_median(plain_ms), 3) if plain_ms else None,
        "sample_ms_live_by_hour": {
            str(h): {"median": round(_median(v), 2), "max": round(max(v), 2)}
            for h, v in sorted(live_by_hour.items())
        },
        "histogram_buckets": {
            "max": max(buckets.values()),
            "mean": round(sum(buckets.values()) / len(buckets), 1),
        },
        "timeline_points": len(rec.timeline.t),
        "exit_code": master.process_exit_code,
    }


def _poisson(rnd: random.Random, lam: float) -> int:
    """A Poisson count (normal approximation; lam is large)."""
    return max(0, round(rnd.gauss(lam, math.sqrt(lam))))


def _pick(rnd: random.Random, shares: list[float]) -> int:
    """Index drawn with probabilities `shares`."""
    x, acc = rnd.random(), 0.0
    for i, s in enumerate(shares):
        acc += s
        if x < acc:
            return i
    return len(shares) - 1


def _median(values: list[float]) -> float:
    """Upper median (no interpolation)."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _per_sec_entries(*all_stats: RequestStats) -> int:
    """Entries in Locust's per-second counters (num_reqs_per_sec, num_fail_per_sec) on the master."""
    n = 0
    for stats in all_stats:
        for e in [*stats.entries.values(), stats.total]:
            n += len(e.num_reqs_per_sec) + len(e.num_fail_per_sec)
    return n


def main(argv: list[str] | None = None) -> int:
    """CLI: print the simulation's JSON result."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--endpoints", type=int, default=40)
    ap.add_argument("--rps", type=float, default=200.0, help="requests per synthetic second, all workers")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--live-every", type=int, default=60, help="evaluate live abort rules every N samples")
    ap.add_argument(
        "--prune-per-sec", action="store_true", help="simulate pruning Locust's per-second counters"
    )
    ap.add_argument("--out", default="", help="write the JSON here (default: stdout)")
    args = ap.parse_args(argv)
    result = simulate(args.hours, args.endpoints, args.rps, args.workers, args.live_every, args.prune_per_sec)
    text = json.dumps(result, indent=1)
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
