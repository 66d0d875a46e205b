"""Resource monitoring's outputs: memory_profile.json, worker_resource_utilization.json and the SLA extra metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from erpload.core.series import LIVE_POINTS, ProcessSeries
from erpload.report.summary import write_atomic


def write_artifacts(section: dict[str, Any], out: Path) -> None:
    """memory_profile.json and worker_resource_utilization.json from a `resources` section."""
    leaks = {row["key"]: row for row in section.get("leaks", [])}
    memory = {
        "processes": [
            {
                "key": p["key"],
                "host": p["host"],
                "pid": p["pid"],
                "baseline_mb": leaks.get(p["key"], {}).get("baseline_mb"),
                "peak_mb": p["rss_peak_mb"],
                "final_mb": p["rss_last_mb"],
                "growth_pct": leaks.get(p["key"], {}).get("growth_pct"),
                "leak": leaks.get(p["key"]),
                "samples": p["rss_series"],
            }
            for p in section.get("processes", [])
        ]
    }
    workers = {
        "worker_cpu_limit_percent": section.get("worker_cpu_limit_percent"),
        "workers": [
            {
                "key": p["key"],
                "host": p["host"],
                "pid": p["pid"],
                "cpu_avg_percent": p["cpu_avg_percent"],
                "cpu_max_percent": p["cpu_max_percent"],
                "rss_last_mb": p["rss_last_mb"],
                "rss_peak_mb": p["rss_peak_mb"],
                "samples": [
                    [c[0], c[1], r[1]] for c, r in zip(p["cpu_series"], p["rss_series"], strict=False)
                ],
            }
            for p in section.get("processes", [])
            if p["key"] != "target"
        ],
        "hosts": section.get("hosts", {}),
    }
    write_atomic(out / "memory_profile.json", json.dumps(memory, indent=1) + "\n")
    write_atomic(out / "worker_resource_utilization.json", json.dumps(workers, indent=1) + "\n")


def order(key: str) -> tuple[int, int, str]:
    head, _, tail = key.partition(":")
    return ({"target": 0, "master": 1}.get(head, 2), int(tail) if tail.isdigit() else 0, key)


def rounded(v: float | None, nd: int = 3) -> float | None:
    return None if v is None else round(v, nd)


def extra_metrics(mon: Any) -> dict[str, Any]:
    """SLA extra metrics (fractions: 80 % CPU = 0.8 of one core); None when not measured."""

    def target() -> ProcessSeries | None:
        return mon.series.get("target")

    def gens() -> list[ProcessSeries]:
        return mon.generators()

    def growth(s: ProcessSeries) -> float | None:
        g = s.leak().growth_pct
        return None if g is None else g / 100.0

    def target_leak() -> bool | None:
        s = target()
        return None if s is None else s.leak().verdict == "leak"

    return {
        "target_cpu_max": lambda: None if target() is None else target().cpu_max / 100.0,  # type: ignore[union-attr]
        "target_cpu_avg": lambda: None if target() is None else target().cpu_avg / 100.0,  # type: ignore[union-attr]
        "target_memory_growth": lambda: None if target() is None else growth(target()),  # type: ignore[arg-type]
        "target_leak": target_leak,
        "worker_cpu_max": lambda: max((s.cpu_max / 100.0 for s in gens()), default=None),
        "master_cpu_max": lambda: (
            None if "master" not in mon.series else mon.series["master"].cpu_max / 100.0
        ),
        "worker_memory_growth": lambda: max(
            (g for s in gens() if (g := growth(s)) is not None), default=None
        ),
    }


def live_view(
    series: dict[str, ProcessSeries], warnings: list[str], invalid: list[dict[str, Any]]
) -> dict[str, Any]:
    """The web UI's Resources tab data: per-process series thinned to LIVE_POINTS, warnings, INVALID entries."""
    procs = []
    for key in sorted(series, key=order):
        s = series[key]
        cpu, rss = s.series(LIVE_POINTS)
        leak = s.leak()
        procs.append(
            {
                "key": key,
                "host": s.host,
                "cpu_percent": float(s.cpu[-1] if s.cpu else 0.0),
                "rss_mb": float(s.rss[-1] if s.rss else 0.0),
                "cpu_series": cpu,
                "rss_series": rss,
                "leak": {
                    "verdict": leak.verdict,
                    "slope_mb_per_min": rounded(leak.slope_mb_per_min),
                    "growth_pct": rounded(leak.growth_pct),
                },
            }
        )
    warnings = list(warnings) + [f"INVALID: {i['reason']}: {i['detail']}" for i in invalid]
    return {"processes": procs, "warnings": warnings}
