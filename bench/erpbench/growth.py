"""Growth: p95 per endpoint as the reference ERP's data grows (10k/100k/1M orders) and as users grow
(10/100/1,000), and the fitted growth per endpoint (erpload.core.growth).

Every grid point is one bounded run of the same smoke-like profile (the smoke role mix without the
Supervisor, scaled to the user count; a short ramp, then a fixed steady window) against a fresh copy
of a database seeded once per size with `python -m erp_target --seed-scale N --seed-only` (cached
across runs in --growth-cache), Locust as a master and 2 worker processes.

Two choices keep the 1,000-user points a measurement of the target, not of the generator (a first
run with one Locust process and the Supervisor in the mix was INVALID at 1,000 users: loop lag p99
1.1 s, from ~95k WebSocket messages fanned out to 91 supervisors):
- every role uses the same think time (ERPLOAD_THINK_TIME, default 2-6 s): the roles' own (3-20 s)
  give 10 users too few requests for a p95; FAST think times (0.1-0.5 s) ask ~3,000 req/s of 1,000
  users on a 2-core machine;
- no Supervisor: its cost is WebSocket fan-out in the generator (the realtime profile measures it),
  and it calls no HTTP endpoint that the others do not.
p95s are the steady stage's (summary.json per-stage numbers), else the whole run's. A point whose run
is INVALID (generator overloaded) is tabulated but left out of the fits. The target's CPU share is
kept to tell which side was the limit. Output: growth.json, growth.md (tables), growth.html (charts).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from erpbench import REPO
from erpbench.growth_render import render_html, render_markdown
from erpbench.locust_run import bench_env, processes_args
from erpbench.procs import Child
from erpload.core.growth import fit_growth

SMOKE_MIX = {
    "CuttingOperator": 2,
    "SewingOperator": 2,
    "FinishingOperator": 1,
    "QcInspector": 1,
    "PpicPlanner": 1,
    "WarehouseClerk": 1,
    "StockTaker": 1,
    "Admin": 1,
}
MIN_SAMPLES = 20  # an endpoint's p95 from fewer requests at a point is left out (noted), not fitted


def role_counts(users: int, exclude: tuple[str, ...] = ()) -> dict[str, int]:
    """The smoke mix without `exclude` scaled to `users` (largest remainder, every role at least once)."""
    mix = {k: v for k, v in SMOKE_MIX.items() if k not in exclude}
    total = sum(mix.values())
    exact = {k: max(1.0, users * v / total) for k, v in mix.items()}
    out = {k: int(x) for k, x in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - int(exact[k]), reverse=True):
        if sum(out.values()) >= users:
            break
        out[k] += 1
    return out


def write_profile(path: Path, users: int, ramp_s: int, steady_s: int, exclude: tuple[str, ...] = ()) -> Path:
    """The growth profile for one point: ramp to `users`, then hold `steady_s` seconds."""
    roles = ", ".join(f"{k}: {v}" for k, v in role_counts(users, exclude).items())
    rate = max(1, -(-users // max(ramp_s - 2, 1)))  # all users in ~ramp_s - 2 s
    path.write_text(
        f"name: growth-{users}u\ndescription: erpload bench growth point ({users} users).\n"
        f"roles: {{{roles}}}\nstages:\n"
        f"  - {{name: ramp-up, duration: {ramp_s}s, users: {users}, spawn_rate: {rate}}}\n"
        f"  - {{name: steady, duration: {steady_s}s, users: {users}}}\n"
        "sla:\n  - error_rate < 5%\n"
    )
    return path


def seed_db(cache: Path, n: int, log: Callable[[str], None]) -> tuple[Path, float | None]:
    """A database seeded with `n` orders in `cache` (seeded now, or reused); (path, seconds if seeded)."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"erp-{n}.db"
    t0 = time.perf_counter()
    argv = [sys.executable, "-m", "erp_target", "--db", str(path), "--seed-only", "--seed-scale", str(n)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, cwd=REPO, env=bench_env())
    if proc.returncode != 0:
        raise RuntimeError(f"seeding {n:,} orders failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    m = re.search(r"^seeded .* in ([\d.]+)s", proc.stdout, re.M)
    took = float(m.group(1)) if m else None
    log(
        f"  db {n:>9,} orders: {f'seeded in {took:.1f} s' if took else 'reused'} ({path}) [{time.perf_counter() - t0:.0f} s]"
    )
    return path, took


def _cpu_s(pid: int) -> float | None:
    """utime+stime of a live process from /proc (None if gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_target(db: Path, work: Path, timeout_s: float = 120) -> tuple[Child, str]:
    """`python -m erp_target --port 0 --db DB` and its URL once it prints its listening line."""
    log_path = work / f"target-{db.stem}.log"
    child = Child(
        [sys.executable, "-m", "erp_target", "--port", "0", "--db", str(db)],
        env=bench_env(),
        cwd=REPO,
        log_path=log_path,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", log_path.read_text(errors="replace"))
        if m:
            return child, m.group(1)
        if child.proc.poll() is not None:
            break
        time.sleep(0.1)  # poll interval of a bounded readiness wait
    child.stop()
    raise RuntimeError(f"target on {db} did not listen within {timeout_s:.0f} s:\n{child.log_tail()}")


def endpoint_p95(summary: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], str]:
    """{'GET /x': {p95, count, failures}} of the steady stage if the summary has it, else the run's."""
    for stage in summary.get("stages") or []:
        if stage.get("name") == "steady" and stage.get("requests"):
            return {_label(r): _row(r) for r in stage["requests"]}, "steady stage"
    return {_label(r): _row(r) for r in summary.get("requests") or []}, "whole run"


def _label(r: dict[str, Any]) -> str:
    return f"{r.get('method', '')} {r.get('name', '')}".strip()


def _row(r: dict[str, Any]) -> dict[str, Any]:
    p95 = r.get("p95_ms", r.get("p95"))
    count = r.get("count", r.get("requests", 0))
    return {"p95": p95, "count": count, "failures": r.get("failures", r.get("errors", 0))}


def run_point(
    src: Path,
    n: int,
    users: int,
    work: Path,
    ramp_s: int,
    steady_s: int,
    think: str,
    exclude: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One bounded grid point on a fresh copy of the `n`-order database."""
    point = work / f"n{n}-u{users}"
    point.mkdir(parents=True, exist_ok=True)
    db = point / "erp.db"
    shutil.copyfile(src, db)
    target, url = start_target(db, point)
    try:
        profile = write_profile(point / "profile.yaml", users, ramp_s, steady_s, exclude)
        reports = point / "reports"
        argv = [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(REPO / "locustfiles"),
            "--headless",
            "--only-summary",
        ]
        argv += [
            "--load-profile",
            str(profile),
            "-H",
            url,
            "--report-dir",
            str(reports),
            "--stop-timeout",
            "5",
            *processes_args(2),
        ]
        cpu0 = _cpu_s(target.pid) or 0.0
        t0 = time.perf_counter()
        locust = Child(
            argv, env=bench_env({"ERPLOAD_THINK_TIME": think}), cwd=REPO, log_path=point / "locust.log"
        )
        try:
            code = locust.wait(ramp_s + steady_s + 120)
        finally:
            locust.stop()
        wall = time.perf_counter() - t0
        target_cpu = (_cpu_s(target.pid) or cpu0) - cpu0
    finally:
        target.stop()
    summary_path = reports / "summary.json"
    if not summary_path.exists():
        raise RuntimeError(
            f"point n={n} users={users}: no summary.json (locust exit {code}):\n{locust.log_tail()}"
        )
    summary = json.loads(summary_path.read_text())
    endpoints, scope = endpoint_p95(summary)
    total = summary.get("total") or {}
    return {
        "n": n,
        "users": users,
        "exit_code": code,
        "verdict": summary.get("verdict"),
        "invalid": [f"{i.get('reason')}: {i.get('detail', '')[:160]}" for i in summary.get("invalid") or []],
        "wall_s": round(wall, 1),
        "scope": scope,
        "requests": total.get("count"),
        "rps": total.get("rps"),
        "error_rate": (total.get("failures") or 0) / total["count"] if total.get("count") else None,
        "target_cpu_s": round(target_cpu, 1),
        "target_cpu_share": round(target_cpu / wall, 2) if wall else None,
        "endpoints": endpoints,
    }


def fits(points: list[dict[str, Any]], axis: str, fixed: str, value: int) -> dict[str, dict[str, Any]]:
    """Growth fit per endpoint of p95 against `axis` ('n' or 'users') with `fixed` = `value`."""
    row = [p for p in points if p[fixed] == value and p.get("verdict") != "invalid"]
    labels = sorted({e for p in row for e in p["endpoints"]})
    out: dict[str, dict[str, Any]] = {}
    var = "n" if axis == "n" else "users"
    for label in labels:
        xs, ys = [], []
        for p in sorted(row, key=lambda p: p[axis]):
            e = p["endpoints"].get(label)
            ok = e is not None and e["p95"] is not None and (e["count"] or 0) >= MIN_SAMPLES
            xs.append(p[axis])
            ys.append(e["p95"] if ok else None)
        try:
            g = fit_growth(xs, ys)
        except ValueError as err:
            out[label] = {"model": None, "why": str(err), "p95": ys}
            continue
        out[label] = {
            "model": g.model,
            "r2": round(g.r2, 3),
            "k": round(g.slope_loglog, 3),
            "rise_ms": round(g.rise, 1),
            "text": g.describe(label, variable=var),
            "p95": ys,
        }
    return out


def measure(
    *,
    sizes: list[int],
    users: list[int],
    work: Path,
    cache: Path,
    ramp_s: int,
    steady_s: int,
    think: str,
    exclude: tuple[str, ...] = (),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The whole grid (sizes x users), the fits, and growth.{json,md,html} under `work`/.. results."""
    dbs = {n: seed_db(cache, n, log) for n in sizes}
    points = []
    for n in sizes:
        for u in users:
            t0 = time.perf_counter()
            p = run_point(dbs[n][0], n, u, work, ramp_s, steady_s, think, exclude)
            points.append(p)
            log(
                f"  growth n={n:>9,} users={u:>5}: {p['requests']} requests, {p['rps'] or 0:.0f} req/s, "
                f"target CPU {p['target_cpu_share']:.0%}, exit {p['exit_code']} ({p['scope']}) "
                f"[{time.perf_counter() - t0:.0f} s]"
            )
    ref_users = users[len(users) // 2] if len(users) > 1 else users[0]
    ref_n = sizes[-1]
    return {
        "sizes": sizes,
        "users": users,
        "ramp_s": ramp_s,
        "steady_s": steady_s,
        "think_time": think,
        "roles": role_counts(100, exclude),
        "excluded_roles": list(exclude),
        "seed_s": {str(n): dbs[n][1] for n in sizes},
        "points": points,
        "fit_n": {str(u): fits(points, "n", "users", u) for u in users},
        "fit_users": {str(n): fits(points, "users", "n", n) for n in sizes},
        "ref_users": ref_users,
        "ref_n": ref_n,
    }


def write_outputs(result: dict[str, Any], out_dir: Path) -> list[Path]:
    """growth.json, growth.md and growth.html in `out_dir` (atomically: temp file + rename)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (
        ("growth.json", json.dumps(result, indent=1)),
        ("growth.md", render_markdown(result)),
        ("growth.html", render_html(result)),
    ):
        path = out_dir / name
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        written.append(path)
    return written
