"""The bench's outputs: machine facts, the printed table of figures and ratios, the JSON results file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from erpbench import RESULTS_DIR
from erpbench.procs import cpu_count


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    nginx = ""
    try:
        nginx = subprocess.run(
            ["/usr/sbin/nginx", "-v"], capture_output=True, text=True, timeout=10
        ).stderr.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    versions = {}
    for dist in ("locust", "gevent", "geventhttpclient", "erpload"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "cpu_model": model,
        "cpus": cpu_count(),
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "platform": platform.platform(),
        "nginx": nginx,
        "versions": versions,
        "loadavg_start": _loadavg(),
    }


def _loadavg() -> list[float] | None:
    """1/5/15-minute load average (other processes on the machine), if available."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _status(met: bool | None) -> str:
    """MET / MISSED / n/a."""
    return "n/a" if met is None else ("MET" if met else "MISSED")


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(figure, value, goal, status) rows for whatever sections ran."""
    rows: list[tuple[str, str, str, str]] = []
    ov = results.get("overhead")
    if ov:
        med = ov["median_req_per_cpu_s"]
        rows.append(("raw FastHttpUser, req per CPU-s (median)", f"{med['raw']:,.0f}", "", ""))
        if "raw_checked" in med:
            rows.append(
                (
                    "raw checked (catch_response + json.loads), req per CPU-s",
                    f"{med['raw_checked']:,.0f}",
                    "",
                    "",
                )
            )
        rows.append(("erpload role users, req per CPU-s (median)", f"{med['erpload']:,.0f}", "", ""))
        per_round = ", ".join(f"{r:.3f}" for r in ov["ratio_per_round"])
        rows.append(
            (
                "overhead ratio erpload / raw",
                f"{ov['ratio']:.3f}x  (rounds: {per_round})",
                f">= {ov['goal']}x",
                _status(ov["met"]),
            )
        )
        if "ratio_vs_raw_checked" in ov:
            per_round = ", ".join(f"{r:.3f}" for r in ov.get("ratio_vs_raw_checked_per_round", []))
            rows.append(
                (
                    "  erpload / raw checked",
                    f"{ov['ratio_vs_raw_checked']:.3f}x  (rounds: {per_round})",
                    f">= {ov.get('goal_checked', 1.0)}x",
                    _status(ov["ratio_vs_raw_checked"] >= ov.get("goal_checked", 1.0)),
                )
            )
        rows.append(
            ("  request-mix distance raw vs erpload", f"{ov['mix_distance']:.3f}", "~0 (same mix)", "")
        )
    upc = results.get("users_per_core")
    if upc:
        rows.append(
            (
                "role users per generator core, loop-lag p99 < 5 ms",
                f"{upc['users_per_core']:,} (first over: {upc['first_over_limit'] or '-'}), "
                f"{upc['kb_per_user'] or '-'} KB/user",
                f">= {upc['goal']:,}",
                _status(upc["met"]),
            )
        )
    ms = results.get("master")
    if ms:
        rows.append(
            (
                f"master CPU per worker report ({ms['endpoints']} endpoints x {ms['roles']} roles)",
                f"{ms['cpu_ms_per_report']:.2f} ms; {ms['workers_at_50pct_core']} workers at 50 % core",
                f">= {ms['goal']} workers",
                _status(ms["met"]),
            )
        )
    mem = results.get("memory")
    if mem:
        for key, v in mem["summary"].items():
            per = ", ".join(f"{u}: {kb:.1f}" for u, kb in v["kb_per_user"].items())
            marginal = (
                f"; marginal {v['marginal_kb_per_user']:.1f}" if v["marginal_kb_per_user"] is not None else ""
            )
            goal = f"<= {mem['goal_kb']:.0f} KB" if key.startswith("erpload") else ""
            met = v["max_kb_per_user"] <= mem["goal_kb"] if key.startswith("erpload") else None
            rows.append(
                (
                    f"KB per idle user, {key.replace('_', ' ')}",
                    per + marginal,
                    goal,
                    _status(met) if goal else "",
                )
            )
    if mem and mem.get("net_connections_ms_by_users"):
        per = ", ".join(f"{u}: {ms:.1f}" for u, ms in mem["net_connections_ms_by_users"].items())
        rows.append(("resource sampler: net_connections() ms per call (connections)", per, "", ""))
    so = results.get("scaleout")
    if so:
        for variant in ("erpload", "raw"):
            v = so.get(variant)
            if not v:
                continue
            med, eff, cpus = v["median_rps"], v["median_req_per_worker_cpu_s"], v["median_worker_cpus_used"]
            one, two = _by_workers(med, 1), _by_workers(med, 2)
            rows.append(
                (f"{variant}: total req/s, master + 1 / + 2 workers", f"{one:,.0f} / {two:,.0f}", "", "")
            )
            rows.append(
                (
                    f"{variant}: workers' CPUs used / req per worker CPU-s",
                    f"{_by_workers(cpus, 1):.2f} / {_by_workers(cpus, 2):.2f} CPUs; "
                    f"{_by_workers(eff, 1):,.0f} / {_by_workers(eff, 2):,.0f}",
                    "",
                    "",
                )
            )
            goal = variant == "erpload"
            per_round = ", ".join(f"{r:.2f}" for r in v.get("ratio_per_round", []))
            rows.append(
                (
                    f"scale-out ratio 2 / 1 workers ({variant})",
                    f"{v['ratio']:.2f}x  (rounds: {per_round})",
                    f">= {so['goal']}x" if goal else "",
                    _status(v["ratio"] >= so["goal"]) if goal else "",
                )
            )
    pc = results.get("percentiles")
    if pc:
        for run in pc["runs"]:
            for key, v in run["percentiles"].items():
                rows.append(
                    (
                        f"{key} {run['mode']}: raw / erpload / locust default",
                        f"{v['raw']:.2f} / {v['erpload']:.0f} ({v['erpload_err_ms']:+.2f}) / "
                        f"{v['locust_default']:.0f} ({v['locust_default_err_ms']:+.1f}) ms",
                        "1 ms or 1 %",
                        _status(v["erpload_ok"]),
                    )
                )
        tail = pc.get("tail_check")
        if tail:
            rows.append(
                (
                    "requests missing from summary.json (distributed, --stop-timeout 3)",
                    f"{tail['lost']} of {tail['samples']}",
                    "0",
                    _status(tail["lost"] == 0),
                )
            )
    hi = results.get("history")
    if hi:
        base = hi["as_is"]
        rows.append(
            (
                f"master RSS growth, {base['hours']:g} h synthetic, {base['endpoints']} endpoints",
                f"{base['rss_growth_mb']:.1f} MB",
                "< 50 MB",
                _status(base["rss_growth_mb"] < 50),
            )
        )
        if "pruned" in hi:
            rows.append(
                (
                    "  same, Locust per-second counters pruned (proposed fix)",
                    f"{hi['pruned']['rss_growth_mb']:.1f} MB",
                    "< 50 MB",
                    _status(hi["pruned"]["rss_growth_mb"] < 50),
                )
            )
        rows.append(
            (
                "end-of-run report time (finalize + 4 reports)",
                f"{base['report_s']:.2f} s",
                "< 5 s",
                _status(base["report_s"] < 5),
            )
        )
        live = base.get("sample_ms_live_by_hour") or {}
        if live:
            last = live[max(live, key=int)]
            rows.append(
                (
                    "live SLA evaluation per 1 Hz sample (last hour, median)",
                    f"{last['median']:.1f} ms",
                    "",
                    "",
                )
            )
    return rows


def _by_workers(d: dict[Any, Any], n: int) -> Any:
    """d[n] whether the keys are ints or (from JSON) strings."""
    return d[n] if n in d else d[str(n)]


def print_table(results: dict[str, Any]) -> None:
    """The closing table."""
    rows = table_rows(results)
    if not rows:
        return
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    heads = ("figure", "value", "goal", "status")
    widths = [max(w, len(h)) for w, h in zip(widths, heads, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))
    print("\n" + line + "\n" + "-" * len(line))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print()


def write_results(results: dict[str, Any], out: Path | None = None) -> Path:
    """bench/results/bench-<UTC time>.json plus latest.json (the directory is gitignored)."""
    results.setdefault("machine", {})["loadavg_end"] = _loadavg()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out or RESULTS_DIR / f"bench-{stamp}.json"
    text = json.dumps(results, indent=1, default=str)
    path.write_text(text)
    (RESULTS_DIR / "latest.json").write_text(text)
    return path


def now_iso() -> str:
    """Local wall time as ISO-8601 UTC."""
    return datetime.fromtimestamp(time.time(), UTC).isoformat(timespec="seconds")
