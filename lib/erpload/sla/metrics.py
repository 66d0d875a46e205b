"""The SLA metric registry (pure): every metric a rule may name, its kind (units) and its source.

Request metrics (avg, min, max, median, pNN, error_rate, rps, count, failures) are computed from the
merged request statistics; each latency one has an `_intended` twin (p99_intended, avg_intended, ...,
source "intended") read from the same requests timed from their iteration's intended start
(open model, erpload.locust.intended; Snapshot.views["intended"]); the others are read from `Snapshot.extra`, a flat dict the plugin fills
in the same canonical units (see `erpload.core.units`). `register_metric` adds more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from erpload.core.units import KINDS


@dataclass(frozen=True)
class MetricSpec:
    """What a metric measures: its kind (units) and where its value comes from."""

    kind: str  # one of KINDS
    source: str  # "request": from the request stats (scoped); "extra": Snapshot.extra[name]
    help: str = ""


METRICS: dict[str, MetricSpec] = {
    "avg": MetricSpec("latency", "request", "mean response time"),
    "min": MetricSpec("latency", "request", "fastest response"),
    "max": MetricSpec("latency", "request", "slowest response"),
    "median": MetricSpec("latency", "request", "same as p50"),
    "error_rate": MetricSpec("rate", "request", "failures / requests"),
    "rps": MetricSpec("rps", "request", "requests / run duration"),
    "count": MetricSpec("count", "request", "number of requests"),
    "failures": MetricSpec("count", "request", "number of failed requests"),
}
_EXAMPLE_PERCENTILES = ("p50", "p75", "p90", "p95", "p99", "p99.9")
INTENDED_SUFFIX = "_intended"  # p99_intended, avg_intended, ...: timed from the intended start
PERCENTILE_RE = re.compile(r"p([0-9]{1,3}(?:\.[0-9]{1,12})?)")  # ASCII digits, bounded
# target_rate(erp_db_transactions_total): a counter on the target's own /metrics (--target-metrics),
# as its increase per second (erpload.locust.target_rates fills it, per window too)
TARGET_RATE_RE = re.compile(r"""target_rate\((["']?)([a-z_:][a-z0-9_:]{0,199})\1\)""")


def register_metric(name: str, kind: str, help: str = "") -> None:
    """Add a metric the plugin fills into `Snapshot.extra` (canonical unit of `kind`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown metric kind {kind!r}; use one of {', '.join(KINDS)}")
    METRICS[name] = MetricSpec(kind, "extra", help)


for _name, _kind, _help in (
    ("target_cpu_max", "rate", "target process CPU, peak (1.0 = one core)"),
    ("target_cpu_avg", "rate", "target process CPU, mean"),
    ("target_memory_growth", "rate", "target RSS growth over the steady state (0.2 = +20 %)"),
    ("target_leak", "bool", "leak detector verdict on the target's RSS"),
    ("worker_cpu_max", "rate", "busiest worker CPU, peak"),
    ("master_cpu_max", "rate", "master CPU, peak"),
    ("worker_memory_growth", "rate", "largest worker RSS growth"),
    ("lost_updates", "count", "writes acknowledged but missing afterwards"),
    ("duplicated_updates", "count", "writes applied twice"),
    ("rbac_violations", "count", "requests allowed that the role matrix forbids"),
    ("ws_out_of_order", "count", "WebSocket messages received after a later one (all supervisors)"),
    ("ws_lost", "count", "WebSocket messages skipped on a stream and never received (all supervisors)"),
    ("ws_duplicated", "count", "WebSocket messages received twice on a stream (all supervisors)"),
    ("ws_messages_per_s", "rps", "WebSocket messages received across all supervisors per second"),
    ("recovery_s", "duration", "seconds until healthy after a fault"),
    ("late_iterations", "count", "open model: iterations started > 10 ms after their intended start"),
    ("iteration_lateness_p99", "latency", "open model: p99 of (iteration start - intended start)"),
    ("loop_lag_p99_max", "latency", "worst load generator's event-loop lag p99"),
):
    register_metric(_name, _kind, _help)


def percentile_of(metric: str) -> float | None:
    """0.95 for 'p95', 0.999 for 'p99.9', 0.5 for 'median'; None for other metrics."""
    if metric == "median":
        return 0.5
    m = PERCENTILE_RE.fullmatch(metric)
    return float(Decimal(m.group(1)) / 100) if m else None  # Decimal: p99.9 -> 0.999 exactly


def target_counter(metric: str) -> str | None:
    """'erp_db_transactions_total' for 'target_rate(erp_db_transactions_total)' (quotes optional); else None."""
    m = TARGET_RATE_RE.fullmatch(metric)
    return m.group(2) if m else None


def metric_spec(metric: str) -> MetricSpec | None:
    """The spec of a known metric (any valid pNN is a latency; LATENCY_intended its intended-start twin)."""
    if metric in METRICS:
        return METRICS[metric]
    if target_counter(metric):
        return MetricSpec("rps", "extra", "a counter of the target's /metrics (--target-metrics), per second")
    if metric.endswith(INTENDED_SUFFIX):
        base = metric_spec(metric[: -len(INTENDED_SUFFIX)])
        if base is not None and base.kind == "latency" and base.source == "request":
            return MetricSpec("latency", "intended", "from the iteration's intended start (open model)")
        return None
    p = percentile_of(metric)
    return MetricSpec("latency", "request", "percentile") if p is not None and 0 < p < 1 else None


def base_metric(metric: str) -> str:
    """'p99' for 'p99_intended' (the request metric an intended-start metric reads on its own view)."""
    return metric[: -len(INTENDED_SUFFIX)] if metric.endswith(INTENDED_SUFFIX) else metric


def known_metrics() -> list[str]:
    """Names for error messages and did-you-mean."""
    rest = [m for m in METRICS if m not in ("avg", "min", "max", "median")]
    return ["avg", "min", "max", "median", *_EXAMPLE_PERCENTILES, *rest, "p99_intended", "max_intended",
            "target_rate(COUNTER)"]  # fmt: skip
