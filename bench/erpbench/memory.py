"""Memory per idle user in one Locust process: raw FastHttpUser vs erpload's ErpUser (plugin installed).

Each (variant, users, login) is its own process: the probe records RSS (after gc) at test_start,
before any user exists, and again once every user spawned and its on_start requests settled;
per-user cost = RSS delta / users. `login` users hold a logged-in keep-alive connection each (what a
real idle role user holds); the others never touched the network. The marginal cost (slope between
the smallest and largest user count) removes fixed costs such as the first connection pool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from erpbench import LOCUSTFILES
from erpbench.locust_run import bench_env, run_locust
from erpbench.nginx import NginxTarget

GOAL_KB = 25.0
FILES = {"raw": LOCUSTFILES / "idle_raw.py", "erpload": LOCUSTFILES / "idle_erp.py"}


def run_one(variant: str, users: int, login: bool, target: NginxTarget) -> dict[str, Any]:
    """One process with `users` idle users; its RSS growth per user."""
    env = bench_env(
        {
            "BENCH_PROBE_MODE": "memory",
            "BENCH_PROBE_SETTLE": "2",
            "BENCH_PROBE_EXPECT_REQUESTS": str(2 * users if login else 0),
            "BENCH_IDLE_LOGIN": "1" if login else "0",
            "ERPLOAD_CREDENTIALS": str(target.credentials_file),
        }
    )
    args = ["-H", target.url, "-u", str(users), "-r", str(users), "-t", "150s", "--stop-timeout", "1"]
    res = run_locust(f"memory-{variant}", [FILES[variant]], args, env=env, timeout_s=240)
    try:
        probe = next((p for p in res.of_kind("local") if "after" in p and "before" in p), None)
        if probe is None:
            raise RuntimeError(
                f"memory {variant} {users}: no measurement (exit {res.exit_code})\n{res.log_tail}"
            )
        before, after = probe["before"]["rss"], probe["after"]["rss"]
        spawned = probe["after"]["users"]
        return {
            "variant": variant,
            "users": users,
            "login": login,
            "spawned": spawned,
            "rss_before_mb": round(before / 2**20, 1),
            "rss_after_mb": round(after / 2**20, 1),
            "kb_per_user": round((after - before) / 1024 / max(spawned, 1), 2),
            "requests": probe.get("requests", 0),
            "failures": probe.get("failures", 0),
            "net_connections": probe.get("net_connections"),
        }
    finally:
        res.cleanup()


def _nc(row: dict[str, Any]) -> str:
    """'12.3 ms for 1000': one psutil net_connections() call in that process (the sampler's cost)."""
    nc = row.get("net_connections") or {}
    return f"{nc.get('cpu_ms', '?')} ms for {nc.get('count', '?')}"


def measure(
    target: NginxTarget,
    *,
    user_counts: Sequence[int],
    logins: Sequence[bool] = (False, True),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Every (login, users, variant) combination, variants alternating; per-user and marginal KB."""
    rows: list[dict[str, Any]] = []
    for login in logins:
        for i, users in enumerate(user_counts):
            for variant in ("raw", "erpload") if i % 2 == 0 else ("erpload", "raw"):
                row = run_one(variant, users, login, target)
                rows.append(row)
                log(
                    f"  memory {variant:7s} {'login' if login else 'idle ':5s} {users:6d} users: "
                    f"{row['rss_before_mb']:7.1f} -> {row['rss_after_mb']:7.1f} MB = {row['kb_per_user']:6.2f} KB/user "
                    f"({row['spawned']} spawned, {row['requests']} requests, {row['failures']} failures; "
                    f"net_connections() {_nc(row)})"
                )
    summary: dict[str, Any] = {}
    lo, hi = min(user_counts), max(user_counts)
    for login in logins:
        for variant in ("raw", "erpload"):
            mine = {r["users"]: r for r in rows if r["variant"] == variant and r["login"] == login}
            key = f"{variant}_{'login' if login else 'idle'}"
            marginal = None
            if hi > lo and lo in mine and hi in mine:
                d_rss = (mine[hi]["rss_after_mb"] - mine[hi]["rss_before_mb"]) - (
                    mine[lo]["rss_after_mb"] - mine[lo]["rss_before_mb"]
                )
                marginal = round(d_rss * 1024 / (hi - lo), 2)
            summary[key] = {
                "kb_per_user": {str(u): mine[u]["kb_per_user"] for u in sorted(mine)},
                "marginal_kb_per_user": marginal,
                "max_kb_per_user": max(m["kb_per_user"] for m in mine.values()),
            }
    sampler = {
        str(r["users"]): r["net_connections"]["cpu_ms"]
        for r in rows
        if r["login"] and r["variant"] == "erpload" and r.get("net_connections")
    }
    worst = max(v["max_kb_per_user"] for k, v in summary.items() if k.startswith("erpload"))
    return {
        "goal_kb": GOAL_KB,
        "user_counts": list(user_counts),
        "summary": summary,
        "erpload_worst_kb_per_user": worst,
        "met": worst <= GOAL_KB,
        "net_connections_ms_by_users": sampler,  # one psutil net_connections() call, logged-in users
        "runs": rows,
    }
