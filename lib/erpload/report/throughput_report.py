"""Per-operation rates, planned vs achieved, and which side limited the run (pure).

`rates_section` builds summary.json's `load.rates` from the master's counters (erpload.locust.oprates)
and the profile's stages; `markdown_lines` / `html_section` render it (hooks: `#throughput`,
`#throughput-table`, `#throughput-limit`). The limit line compares the load generators (CPU, event-loop
lag) with the target's CPU: a Python process (the reference ERP, a Locust worker) tops out at one
core, so either side near 100 % of a core is the bottleneck; with neither near it, the user pool
(dropped tokens) or the machine they share is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from erpload.core.units import fmt_observed

SATURATED_PERCENT = 85.0  # CPU % of one core from which a single-threaded process is the bottleneck
ACHIEVED_SHARE = 0.95  # achieved / planned below this in a steady stage: the rate was missed
HEADER = ["stage", "operation", "target", "planned/s", "achieved/s", "achieved", "dropped"]
Table = Callable[[list[str], Sequence[Sequence[object]]], list[str]]


def _elapsed_in(start: float, duration: float, elapsed: float) -> float:
    return min(duration, max(0.0, elapsed - start))


def rates_section(
    counts: Mapping[str, Mapping[str, Sequence[int]]],
    stages: Sequence[Any],
    elapsed_s: float,
    resources: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """summary.json `load.rates`: one row per stage and operation, the totals and the limit."""
    rows, start, previous = [], 0.0, {}
    keys = sorted({k for st in stages for k in (st.rates or {})})
    for st in stages:
        seconds = _elapsed_in(start, st.duration_s, elapsed_s)
        for key in keys:
            end = float((st.rates or {}).get(key, 0.0))
            begin = float(previous.get(key, 0.0))
            planned, started, dropped = (list(counts.get(st.name, {}).get(key, [0, 0, 0])) + [0, 0, 0])[:3]
            rows.append(
                {
                    "stage": st.name,
                    "operation": key,
                    "target_per_s": end,
                    "ramp_from_per_s": begin if begin != end else None,
                    "seconds": round(seconds, 1),
                    "planned": int(planned),
                    "started": int(started),
                    "dropped": int(dropped),
                    "planned_per_s": round(planned / seconds, 2) if seconds else None,
                    "achieved_per_s": round(started / seconds, 2) if seconds else None,
                }
            )
        previous, start = dict(st.rates or {}), start + st.duration_s
    missed = [r for r in rows if _missed(r)]
    planned = sum(r["planned"] for r in rows)
    dropped = sum(r["dropped"] for r in rows)
    return {
        "rows": rows,
        "planned": planned,
        "started": sum(r["started"] for r in rows),
        "dropped": dropped,
        "dropped_ratio": round(dropped / planned, 6) if planned else 0.0,
        "missed": [f"{r['operation']} in {r['stage']}" for r in missed],
        "limit": limit(resources, dropped),
    }


def _missed(row: Mapping[str, Any]) -> bool:
    """A steady stage (no ramp) with a rate whose achieved rate fell short of it."""
    target, got = row["target_per_s"], row["achieved_per_s"]
    return bool(
        target and row["ramp_from_per_s"] is None and got is not None and got < target * ACHIEVED_SHARE
    )


def limit(resources: Mapping[str, Any] | None, dropped: int = 0) -> dict[str, Any]:
    """Which side was the limit: {side: generator|target|both|machine|neither|unknown, detail, figures}."""
    procs = (resources or {}).get("processes") or []
    target = next((p for p in procs if p.get("key") == "target" and p.get("samples")), None)
    gens = [p for p in procs if str(p.get("key", "")).startswith("worker:")] or [
        p for p in procs if p.get("key") in ("master", "local")
    ]
    lag = ((resources or {}).get("loop_lag") or {}).get("generators") or {}
    lag_p99 = max((float(g.get("p99_ms") or 0) for g in lag.values()), default=None)
    lag_limit = float(((resources or {}).get("loop_lag") or {}).get("limit_ms", 50))
    gen_cpu = max((float(p.get("cpu_avg_percent") or 0) for p in gens), default=None)
    tgt_cpu = float(target["cpu_avg_percent"]) if target else None
    figures = {
        "target_cpu_avg_percent": tgt_cpu,
        "generator_cpu_avg_percent": gen_cpu,
        "loop_lag_p99_ms": lag_p99,
    }
    if tgt_cpu is None and gen_cpu is None:
        return {
            "side": "unknown",
            "detail": "neither the target's nor a generator's CPU was sampled",
            **figures,
        }
    gen_sat = (gen_cpu or 0) >= SATURATED_PERCENT or (lag_p99 or 0) > lag_limit
    tgt_sat = (tgt_cpu or 0) >= SATURATED_PERCENT
    hosts = [float(h.get("cpu_percent") or 0) for h in ((resources or {}).get("hosts") or {}).values()]
    host_cpu = max(hosts, default=None)
    starved = host_cpu is not None and host_cpu >= 90 and max(gen_cpu or 0, tgt_cpu or 0) < SATURATED_PERCENT
    side = {(True, True): "both", (True, False): "generator", (False, True): "target"}.get(
        (gen_sat, tgt_sat), "neither"
    )
    side = "machine" if starved else side
    text = {
        "generator": "the load generator (busiest generator near one full core, or its event loop lagging)",
        "target": "the target (its process near one full core: the reference ERP is one Python process)",
        "both": "both sides near one full core (they share this machine's cores)",
        "machine": "the machine: its CPUs were busy while neither the target nor a generator used a full "
        "core (other processes took the cores; a generator's loop lag here is CPU starvation)",
        "neither": "neither process was saturated: the user pool (dropped tokens), the target's latency "
        "or the shared machine held the rate",
    }[side]
    if tgt_cpu is None:
        text += "; the target's CPU was not sampled (--target-pid / --target-metrics)"
    parts = [f"target CPU {_pct(tgt_cpu)}", f"busiest generator CPU {_pct(gen_cpu)}"]
    if lag_p99 is not None:
        parts.append(f"loop lag p99 {lag_p99:.0f} ms (limit {lag_limit:.0f} ms)")
    if host_cpu is not None:
        parts.append(f"host CPU {host_cpu:.0f}% (last sample)")
    parts.append(f"{dropped} tokens dropped")
    return {"side": side, "detail": text, "figures": ", ".join(parts), **figures}


def _pct(v: float | None) -> str:
    return "not sampled" if v is None else f"{v:.0f}% of a core (avg)"


def _rate(v: Any) -> str:
    return "–" if v is None else f"{v:g}/s"


def table_rows(rates: Mapping[str, Any]) -> list[list[str]]:
    out = []
    for r in rates.get("rows") or ():
        target = _rate(r["target_per_s"])
        if r.get("ramp_from_per_s") is not None:
            target = f"{r['ramp_from_per_s']:g}→{target}"
        share = (
            f"{r['achieved_per_s'] / r['target_per_s']:.0%}"
            if r.get("achieved_per_s") is not None and r["target_per_s"] and r.get("ramp_from_per_s") is None
            else "–"
        )
        out.append(
            [r["stage"], r["operation"], target, _rate(r["planned_per_s"]), _rate(r["achieved_per_s"]), share,
             str(r["dropped"])]
        )  # fmt: skip
    return out


def limit_line(rates: Mapping[str, Any], failed_rules: Sequence[str] = ()) -> str:
    """'Limit: target — ...' with what was missed (operations short of their rate, throughput rules failed)."""
    lim = rates.get("limit") or {}
    missed = [*rates.get("missed", ()), *failed_rules]
    figures = f" ({lim['figures']})" if lim.get("figures") else ""
    if not missed:
        return f"Every planned rate and throughput rule was achieved; no limit reached{figures}."
    return (
        f"Missed: {'; '.join(missed)}. Limit: {lim.get('side', 'unknown')}: {lim.get('detail', '')}{figures}."
    )


def failed_throughput_rules(sla: Sequence[Any]) -> list[str]:
    """Failed rules about throughput (rps, target_rate(...), *_per_s) with what was observed."""
    out = []
    for r in sla or ():
        metric = str(getattr(r, "metric", ""))
        if getattr(r, "passed", True) or not (
            metric == "rps" or metric.startswith("target_rate(") or metric.endswith("_per_s")
        ):
            continue
        observed = getattr(r, "observed", None)
        seen = (
            fmt_observed("rps", observed, str(getattr(r, "op", "")), getattr(r, "threshold", 0.0))
            if isinstance(observed, int | float) and not isinstance(observed, bool)
            else "not measured"
        )
        window = getattr(r, "window", "all")
        out.append(
            f"{getattr(r, 'rule', metric)}{'' if window == 'all' else f' [{window}]'} (observed {seen})"
        )
    return out


def markdown_lines(load: Mapping[str, Any] | None, sla: Sequence[Any], table: Table) -> list[str]:
    """'## Throughput: planned vs achieved per operation' (profiles with `rates:`)."""
    rates = (load or {}).get("rates")
    if not rates:
        return []
    return ["## Throughput: planned vs achieved per operation", "",
            *table(HEADER, table_rows(rates)), "", limit_line(rates, failed_throughput_rules(sla)), ""]  # fmt: skip


def html_section(load: Mapping[str, Any] | None, sla: Sequence[Any]) -> str:
    """The same for report.html ('' without rates)."""
    rates = (load or {}).get("rates")
    if not rates:
        return ""
    head = "".join(f"<th>{escape(h)}</th>" for h in HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in table_rows(rates)
    )
    return (
        '<section id="throughput"><h2>Throughput: planned vs achieved per operation</h2>'
        f'<table id="throughput-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        f'<p id="throughput-limit">{escape(limit_line(rates, failed_throughput_rules(sla)))}</p></section>'
    )
