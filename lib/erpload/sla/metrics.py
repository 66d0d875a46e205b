"""The SLA metric registry (pure): every metric a rule may name, its kind (units) and its source.

Request metrics (avg, min, max, median, pNN, error_rate, rps, count, failures) are computed from the
merged request statistics; the others are read from `Snapshot.extra`, a flat dict the plugin fills
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
PERCENTILE_RE = re.compile(r"p([0-9]{1,3}(?:\.[0-9]{1,12})?)")  # ASCII digits, bounded


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
    ("recovery_s", "duration", "seconds until healthy after a fault"),
):
    register_metric(_name, _kind, _help)


def percentile_of(metric: str) -> float | None:
    """0.95 for 'p95', 0.999 for 'p99.9', 0.5 for 'median'; None for other metrics."""
    if metric == "median":
        return 0.5
    m = PERCENTILE_RE.fullmatch(metric)
    return float(Decimal(m.group(1)) / 100) if m else None  # Decimal: p99.9 -> 0.999 exactly


def metric_spec(metric: str) -> MetricSpec | None:
    """The spec of a known metric (any valid pNN is a latency), else None."""
    if metric in METRICS:
        return METRICS[metric]
    p = percentile_of(metric)
    return MetricSpec("latency", "request", "percentile") if p is not None and 0 < p < 1 else None


def known_metrics() -> list[str]:
    """Names for error messages and did-you-mean."""
    rest = [m for m in METRICS if m not in ("avg", "min", "max", "median")]
    return ["avg", "min", "max", "median", *_EXAMPLE_PERCENTILES, *rest]
