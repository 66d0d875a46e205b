"""erpload's benchmark, end to end: `make bench` or `.venv/bin/python bench/run.py [--only ...]`.

Starts nginx on 127.0.0.1 (Debian's nginx-light: static ERP-shaped JSON, ~no CPU per request) and
measures, each run bounded, every child process stopped by PID:

    overhead     requests per generator CPU-second, raw Locust vs the role users with every feature
                 on, same process/core/users/duration, alternating order      goal >= 0.90x
                 (and >= 1.0x of raw users that parse every body)
    memory       KB RSS per idle user at 1,000 / 5,000 / 10,000 users          goal <= 25 KB
    scaleout     total req/s, master + 2 workers vs master + 1                 goal >= 1.8x
    percentiles  reported p50/p95/p99 vs raw client-side latencies            goal 1 ms or 1 %
    history      master RSS growth and report time, synthetic 8 h history     goal < 50 MB, < 5 s
    users_per_core  role users one generator core holds at the shipped think times with loop-lag
                 p99 < 5 ms, users stepped up (only with --only users_per_core)   goal >= 10,000
    master       master CPU per worker report (40 endpoints x 9 roles, every erpload payload),
                 workers at 50 % of one core (only with --only master)         goal >= 100
    growth       p95 per endpoint of the reference ERP at 10k/100k/1M orders x 10/100/1,000 users,
                 fitted growth per endpoint (only with --only growth: it seeds up to 1M orders)
    gc_soak      RSS over a long run, --gc-tuning on vs off side by side (two processes at once),
                 MB per 10 min (only with --only gc_soak)

Prints a table of figures and ratios and writes bench/results/bench-<time>.json (and latest.json).
See docs/performance.md for what each figure means and the last measured values.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from erpbench import (  # noqa: E402
    BENCH_DIR,
    RESULTS_DIR,
    gc_soak,
    growth,
    memory,
    overhead,
    percentiles,
    profiling,
    scaleout,
    users_per_core,
)
from erpbench.nginx import NginxMissing, NginxTarget, ensure_installed  # noqa: E402
from erpbench.procs import cpu_count  # noqa: E402
from erpbench.report import machine, now_iso, print_table, write_results  # noqa: E402

SECTIONS = ("overhead", "memory", "scaleout", "percentiles", "history")
EXTRA_SECTIONS = ("growth", "users_per_core", "master", "gc_soak")  # run only when named in --only


def log(text: str) -> None:
    """Progress line (flushed: runs take minutes)."""
    print(text, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see --help); --quick shortens every section."""
    ap = argparse.ArgumentParser(
        prog="bench/run.py", description="erpload benchmarks (see docs/performance.md)"
    )
    ap.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})",
    )
    ap.add_argument(
        "--quick",
        action="store_true",
        help="short smoke run: 1 round, 8 s windows, 1,000/2,000 users, 1 h history",
    )
    ap.add_argument("--users", type=int, default=50, help="overhead: users per process (default 50)")
    ap.add_argument(
        "--rounds", type=int, default=3, help="overhead: rounds, start order alternating (default 3)"
    )
    ap.add_argument("--scaleout-rounds", type=int, default=2, help="scaleout: alternating rounds (default 2)")
    ap.add_argument(
        "--warmup", type=float, default=4.0, help="seconds from test start to the window (default 4)"
    )
    ap.add_argument("--window", type=float, default=20.0, help="measurement window in seconds (default 20)")
    ap.add_argument(
        "--overhead-mode",
        choices=("side-by-side", "sequential"),
        default="side-by-side",
        help="overhead: run a round's variants at the same time on one CPU (default), or one by one",
    )
    ap.add_argument(
        "--overhead-checked",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="overhead: also run raw users that check every response (catch_response + json.loads; default on)",
    )
    ap.add_argument(
        "--memory-users", default="1000,5000,10000", help="memory: user counts (default 1000,5000,10000)"
    )
    ap.add_argument("--scaleout-users", type=int, default=100, help="scaleout: users (default 100)")
    ap.add_argument("--pct-users", type=int, default=20, help="percentiles: users (default 20)")
    ap.add_argument(
        "--pct-duration", type=float, default=30.0, help="percentiles: seconds per run (default 30)"
    )
    ap.add_argument("--history-hours", type=float, default=8.0, help="history: synthetic hours (default 8)")
    ap.add_argument("--history-endpoints", type=int, default=40, help="history: endpoints (default 40)")
    ap.add_argument("--history-rps", type=float, default=200.0, help="history: requests per synthetic second")
    ap.add_argument(
        "--growth-sizes", default="10k,100k,1M", help="growth: orders seeded per size (default 10k,100k,1M)"
    )
    ap.add_argument(
        "--growth-users", default="10,100,1000", help="growth: users per point (default 10,100,1000)"
    )
    ap.add_argument("--growth-ramp", type=int, default=15, help="growth: ramp seconds per point (default 15)")
    ap.add_argument(
        "--growth-steady", type=int, default=45, help="growth: steady seconds per point (default 45)"
    )
    ap.add_argument(
        "--growth-think", default="2,6", help="growth: ERPLOAD_THINK_TIME of every role (default 2,6)"
    )
    ap.add_argument(
        "--growth-exclude",
        default="",
        help="growth: comma-separated role classes left out of the smoke mix, e.g. Admin (default none)",
    )
    ap.add_argument(
        "--growth-cache",
        default=str(Path(tempfile.gettempdir()) / "erpload-growth-dbs"),
        help="growth: directory of the seeded databases, reused across runs (default $TMPDIR/erpload-growth-dbs)",
    )
    ap.add_argument(
        "--upc-steps",
        default="1000,2000,4000,6000,8000,10000,12000,15000",
        help="users_per_core: user counts stepped through (default 1000,...,15000)",
    )
    ap.add_argument(
        "--upc-hold", type=float, default=30.0, help="users_per_core: seconds per step (default 30)"
    )
    ap.add_argument("--upc-spawn-rate", type=int, default=500, help="users_per_core: users/s (default 500)")
    ap.add_argument(
        "--upc-variants",
        default="off,on",
        help="users_per_core: GC variants run one after the other, side by side (default off,on): off "
        "(--gc-tuning off), on (erpload's default tuning), on:A/B/C (the tuning with thresholds A, B, C), "
        "freeze (tuning off, the bench's gc.freeze() after each spawn step)",
    )
    ap.add_argument(
        "--upc-gc-freeze",
        action="store_true",
        help="users_per_core: also run the 'freeze' variant (same as adding freeze to --upc-variants)",
    )
    ap.add_argument("--soak-users", type=int, default=2000, help="gc_soak: users per process (default 2000)")
    ap.add_argument(
        "--soak-minutes", type=float, default=12.0, help="gc_soak: minutes the users run (default 12)"
    )
    ap.add_argument("--soak-spawn-rate", type=int, default=500, help="gc_soak: users/s (default 500)")
    ap.add_argument("--master-workers", type=int, default=100, help="master: simulated workers (default 100)")
    ap.add_argument("--master-reports", type=int, default=10, help="master: reports per worker (default 10)")
    ap.add_argument("--master-rps", type=float, default=300.0, help="master: req/s per worker (default 300)")
    ap.add_argument("--no-pin", action="store_true", help="do not pin nginx and the overhead runs to CPUs")
    ap.add_argument("--profile", action="store_true", help="overhead: also profile each variant with py-spy")
    ap.add_argument("--py-spy", default="", help="path of the py-spy executable (default: from PATH)")
    ap.add_argument(
        "--install-nginx",
        action="store_true",
        help="install nginx-light with apt-get if it is missing (needs root)",
    )
    ap.add_argument(
        "--out", default="", help="results JSON path (default bench/results/bench-<UTC time>.json)"
    )
    args = ap.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in args.sections if s not in SECTIONS + EXTRA_SECTIONS]
    if unknown:
        ap.error(
            f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS + EXTRA_SECTIONS)}"
        )
    args.growth_sizes = _counts(ap, "--growth-sizes", args.growth_sizes)
    args.growth_users = _counts(ap, "--growth-users", args.growth_users)
    if args.soak_users < 1 or args.soak_minutes < 1 or args.soak_spawn_rate < 1:
        ap.error(
            f"gc_soak: --soak-users {args.soak_users}, --soak-minutes {args.soak_minutes:g}, "
            f"--soak-spawn-rate {args.soak_spawn_rate}: each must be >= 1 (e.g. --soak-users 300 --soak-minutes 1)"
        )
    for role in (r.strip() for r in args.growth_exclude.split(",") if r.strip()):
        if role not in growth.SMOKE_MIX:
            near = difflib.get_close_matches(role, growth.SMOKE_MIX, n=1)
            hint = f"; did you mean {near[0]}?" if near else f"; choose from {', '.join(growth.SMOKE_MIX)}"
            ap.error(f"--growth-exclude: unknown role class {role!r}{hint}")
    if args.quick:
        args.rounds, args.scaleout_rounds, args.window, args.warmup = 1, 1, 8.0, 3.0
        args.memory_users = "1000,2000"
        args.pct_duration, args.history_hours = 12.0, 1.0
    args.memory_counts = [int(x) for x in args.memory_users.split(",") if x.strip()]
    return args


def _counts(ap: argparse.ArgumentParser, flag: str, text: str) -> list[int]:
    """'10k,100k,1M' -> [10000, 100000, 1000000]; a bad item is a usage error naming the flag."""
    out = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        m = re.fullmatch(r"(\d+)([kKmM]?)", item)
        if m is None:
            ap.error(f"{flag}: {item!r} is not a count like 100, 10k or 1M")
        out.append(int(m.group(1)) * {"": 1, "k": 1000, "m": 1_000_000}[m.group(2).lower()])
    if len(out) < 3:
        ap.error(f"{flag}: needs >= 3 values to fit growth, got {text!r}")
    return sorted(out)


def run_history(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The synthetic-history simulation in fresh processes (their RSS is the master's): as is, and pruned."""
    out: dict[str, Any] = {}
    env = {**os.environ, "PYTHONPATH": str(BENCH_DIR) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for key, extra in (("as_is", []), ("pruned", ["--prune-per-sec"])):
        path = work / f"history-{key}.json"
        argv = [
            sys.executable,
            "-m",
            "erpbench.history",
            "--hours",
            f"{args.history_hours:g}",
            "--endpoints",
            str(args.history_endpoints),
            "--rps",
            f"{args.history_rps:g}",
            "--out",
            str(path),
            *extra,
        ]
        t0 = time.perf_counter()
        proc = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=600 + 120 * args.history_hours
        )
        if proc.returncode != 0 or not path.exists():
            raise RuntimeError(f"history simulation failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        out[key] = json.loads(path.read_text())
        r = out[key]
        last = r["hourly"][-1]
        log(
            f"  history {key:6s}: {r['hours']:g} h x {r['endpoints']} endpoints, {r['requests']:,} requests: "
            f"RSS +{r['rss_growth_mb']:.1f} MB ({last['per_sec_entries']:,} per-second counters), "
            f"report {r['report_s']:.2f} s, live SLA sample {_last_live(r)} ms "
            f"[{time.perf_counter() - t0:.0f} s]"
        )
    return out


def run_master_scale(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The master-scale simulation in a fresh process (its CPU is the master's)."""
    path = work / "master-scale.json"
    argv = [sys.executable, "-m", "erpbench.master_scale", "--out", str(path)]
    argv += ["--workers", str(args.master_workers), "--reports", str(args.master_reports)]
    argv += ["--rps", f"{args.master_rps:g}"]
    env = {**os.environ, "PYTHONPATH": str(BENCH_DIR) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 or not path.exists():
        raise RuntimeError(f"master-scale simulation failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    r = json.loads(path.read_text())
    log(
        f"  master: {r['workers']} workers x {r['reports'] // r['workers']} reports ({r['endpoints']} endpoints, "
        f"{r['roles']} roles, ~{max(r['report_bytes']) // 1024} KB each): {r['cpu_ms_per_report']:.2f} ms CPU per "
        f"report, {r['cpu_ms_per_heartbeat']:.3f} ms per heartbeat -> {r['workers_at_50pct_core']} workers at 50 % of a core"
    )
    return r


def _last_live(r: dict[str, Any]) -> str:
    """Median live-SLA sample time of the last simulated hour, for the progress line."""
    live = r.get("sample_ms_live_by_hour") or {}
    return f"{live[max(live, key=int)]['median']:.1f}" if live else "-"


def main(argv: list[str] | None = None) -> int:
    """Run the selected sections, print the table, write the JSON; exit 0, 1 (a section failed) or 2."""
    args = parse_args(argv)
    results: dict[str, Any] = {"started_at": now_iso(), "argv": sys.argv[1:], "machine": machine()}
    two_cpus = cpu_count() >= 2 and not args.no_pin
    nginx_cpu, locust_cpu = ("0", "1") if two_cpus else (None, None)
    log(
        f"erpload bench: sections {', '.join(args.sections)} on {results['machine']['cpus']} CPU(s) "
        f"({results['machine']['cpu_model'] or 'unknown CPU'}); load average {results['machine']['loadavg_start']}"
    )
    work = Path(tempfile.mkdtemp(prefix="erpload-bench-"))
    needs_nginx = any(
        s in args.sections
        for s in ("overhead", "memory", "scaleout", "percentiles", "users_per_core", "gc_soak")
    )
    target: NginxTarget | None = None
    code = 0
    try:
        if needs_nginx:
            try:
                ensure_installed(args.install_nginx)
            except NginxMissing as e:
                log(f"bench: {e}")
                return 2
            target = NginxTarget().start()
            log(
                f"nginx {target.url} (pid {target.child.pid if target.child else '?'}), prefix {target.prefix}"
            )
        if "overhead" in args.sections and target is not None:
            log(
                f"overhead: {args.users} users per process, think time 0, {args.rounds} round(s) {args.overhead_mode}, "
                f"{args.window:g} s windows; nginx on CPU {nginx_cpu}, Locust on CPU {locust_cpu}"
            )
            target.pin(nginx_cpu)
            results["overhead"] = overhead.measure(
                target,
                users=args.users,
                rounds=args.rounds,
                warmup_s=args.warmup,
                window_s=args.window,
                locust_cpus=locust_cpu,
                work=work,
                checked_variant=args.overhead_checked,
                mode=args.overhead_mode,
                log=log,
            )
            if args.profile:
                py_spy = profiling.find_py_spy(args.py_spy)
                if py_spy is None:
                    log(
                        "  profile: py-spy not found; install it with `pip install py-spy` (any venv) "
                        "and pass --py-spy PATH"
                    )
                else:
                    results["overhead"]["profiles"] = [
                        profiling.profile_variant(
                            v,
                            target,
                            py_spy,
                            users=args.users,
                            warmup_s=args.warmup,
                            window_s=min(args.window, 15.0),
                            cpus=locust_cpu,
                            work=work,
                            log=log,
                        )
                        for v in ("erpload", "raw")
                    ]
            target.pin(None)
        if "users_per_core" in args.sections and target is not None:
            steps = [int(x) for x in args.upc_steps.split(",") if x.strip()]
            log(
                f"users_per_core: role users stepped {steps} at the shipped think times, one process "
                f"on CPU {locust_cpu}, nginx on CPU {nginx_cpu}; loop-lag p99 limit 5 ms"
            )
            target.pin(nginx_cpu)
            variants = [v.strip() for v in args.upc_variants.split(",") if v.strip()]
            variants += ["freeze"] if args.upc_gc_freeze and "freeze" not in variants else []
            results["users_per_core"] = users_per_core.measure_variants(
                target,
                variants,
                steps=steps,
                spawn_rate=args.upc_spawn_rate,
                hold_s=args.upc_hold,
                cpus=locust_cpu,
                work=work,
                log=log,
            )
            target.pin(None)
        if "gc_soak" in args.sections and target is not None:
            log(
                f"gc_soak: {args.soak_users} role users x 2 processes at once (--gc-tuning on / off) on CPU "
                f"{locust_cpu}, nginx on CPU {nginx_cpu}, {args.soak_minutes:g} min at the shipped think times"
            )
            target.pin(nginx_cpu)
            results["gc_soak"] = gc_soak.measure(
                target,
                users=args.soak_users,
                minutes=args.soak_minutes,
                spawn_rate=args.soak_spawn_rate,
                cpus=locust_cpu,
                work=work,
                log=log,
            )
            target.pin(None)
            code = 1 if results["gc_soak"]["verdict"]["status"] == "INVALID" else code
        if "master" in args.sections:
            results["master"] = run_master_scale(args, work)
        if "memory" in args.sections and target is not None:
            log(f"memory: idle users {args.memory_counts}, one process each, with and without a login")
            results["memory"] = memory.measure(target, user_counts=args.memory_counts, log=log)
        if "scaleout" in args.sections and target is not None:
            log(
                f"scaleout: {args.scaleout_users} users, --processes 1 vs 2, erpload and raw, "
                f"{args.scaleout_rounds} alternating round(s)"
            )
            results["scaleout"] = scaleout.measure(
                target,
                users=args.scaleout_users,
                rounds=args.scaleout_rounds,
                warmup_s=args.warmup + 1,
                window_s=args.window,
                work=work,
                log=log,
            )
        if "percentiles" in args.sections and target is not None:
            log(
                f"percentiles: {args.pct_users} users on /bench/delay, {args.pct_duration:g} s, local and distributed"
            )
            results["percentiles"] = percentiles.measure(
                target, users=args.pct_users, duration_s=args.pct_duration, log=log
            )
    except Exception as e:  # report what we have, then fail
        log(f"bench: {type(e).__name__}: {e}")
        results["error"] = f"{type(e).__name__}: {e}"
        code = 1
    finally:
        if target is not None:
            target.stop()
    try:
        if "history" in args.sections and code == 0:
            log(
                f"history: {args.history_hours:g} h synthetic, {args.history_endpoints} endpoints, "
                f"{args.history_rps:g} req/s, 2 workers (two fresh processes)"
            )
            results["history"] = run_history(args, work)
        if "growth" in args.sections and code == 0:
            log(
                f"growth: orders {args.growth_sizes} x users {args.growth_users}, {args.growth_ramp} s ramp + "
                f"{args.growth_steady} s steady per point, think time {args.growth_think} s for every role"
            )
            results["growth"] = growth.measure(
                sizes=args.growth_sizes,
                users=args.growth_users,
                work=work,
                cache=Path(args.growth_cache),
                ramp_s=args.growth_ramp,
                steady_s=args.growth_steady,
                think=args.growth_think,
                exclude=tuple(r.strip() for r in args.growth_exclude.split(",") if r.strip()),
                log=log,
            )
            g = results["growth"]
            for fit in g["fit_n"][str(g["ref_users"])].values():
                log(f"  {fit.get('text') or fit.get('why')}")
            for path in growth.write_outputs(g, RESULTS_DIR):
                log(f"growth: {path}")
    except Exception as e:
        log(f"bench: {type(e).__name__}: {e}")
        results["error"] = f"{type(e).__name__}: {e}"
        code = 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["ended_at"] = now_iso()
    print_table(results)
    path = write_results(results, Path(args.out) if args.out else None)
    log(f"results: {path}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
