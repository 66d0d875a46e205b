"""The run as Prometheus metrics: a custom Collector that reads the master's merged state at scrape time.

Nothing is counted twice: every value comes, when scraped, from what the master already keeps
(Locust's merged `environment.stats`, the per-role stats of `erpload.locust.exchange`, the shape,
the resources monitor, the health watch, the run's verdict). Served at `/metrics` on the web UI
port (erpload.web.ui) or on `--metrics-port` (erpload.locust.metrics_server); names follow
Prometheus conventions: `erpload_` prefix, base units (seconds, bytes, ratios), `_total` counters.

Latency is a **histogram** (`erpload_request_duration_seconds`), not summary quantiles, because
Prometheus can then do what a dashboard needs: p95 over the last minute
(`histogram_quantile(0.95, rate(..._bucket[1m]))`), aggregated over endpoints, roles or workers,
while summary quantiles from the fine buckets would be cumulative since the start (an 8-hour run's
p95 hides the last minute) and cannot be aggregated. Its counts are exact: each request's fine
bucket (erpload.core.histogram, within max(0.5 ms, 0.5 %)) is counted under every `le` it fits.
The exact cumulative percentile an SLA rule judges is exported too, as the rule's observed value.

SLA rules are evaluated as the web UI's SLA tab does (at most once per CACHE_S, duration frozen
when the run stops), with `state` 1 pass, 0 fail, -1 no data. The verdict is the exit code once
`finalize` decided it, -1 before.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from erpload.locust.recorder import snapshot_of
from erpload.locust.shapes import ProfileShape
from erpload.sla.evaluation import evaluate

__all__ = ["LATENCY_BUCKETS_S", "RunCollector", "registry_for"]

MIB = 1024.0 * 1024.0  # ProcessSeries keeps RSS in MiB (erpload.locust.samplers)
CACHE_S = 1.0  # SLA evaluation at most this often (a 1 s scrape and the web UI may both ask)
# Upper bounds (s): dense where SLA thresholds usually sit (100 ms .. 2 s).
LATENCY_BUCKETS_S = (
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5,
    0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
TO_BASE = {"latency": 0.001}  # canonical SLA units (erpload.core.units) -> base units; the rest are base
HEALTH_REASONS = ("worker lost", "worker left", "generator saturated")


def _histogram(response_times: dict[Any, int]) -> list[tuple[str, float]]:
    """Cumulative (le, count) pairs from a {bucket_ms: count} dict, +Inf last."""
    ordered = sorted((float(ms) / 1000.0, n) for ms, n in response_times.items())
    out, i, acc = [], 0, 0
    for le in LATENCY_BUCKETS_S:
        while i < len(ordered) and ordered[i][0] <= le:
            acc += ordered[i][1]
            i += 1
        out.append((repr(le), float(acc)))
    out.append(("+Inf", float(acc + sum(n for _, n in ordered[i:]))))
    return out


class RunCollector(Collector):
    """Every erpload metric, computed from the master's state on each `collect()` (each scrape)."""

    def __init__(self, environment: Environment, run: Any) -> None:
        self.env, self.run = environment, run
        self.exit_code: int | None = None  # from Locust's `quit` event: the process's own exit code
        self.stopped_at: float | None = None  # run time when the run stopped (rates must not decay)
        self._sla: tuple[float, list] | None = None

    # -- lifecycle (registered by erpload.locust.metrics_server) ----------------------------------
    def on_test_start(self, **_: Any) -> None:
        self.stopped_at, self._sla, self.exit_code = None, None, None

    def on_test_stop(self, **_: Any) -> None:
        self.stopped_at, self._sla = self.run.recorder.elapsed(), None

    def on_finalize(self, run: Any) -> None:
        """A run finalizer (the last one): the rules are judged at this moment, as the verdict is."""
        self.stopped_at, self._sla = run.recorder.elapsed(), None

    def on_quit(self, exit_code: int, **_: Any) -> None:
        self.exit_code = int(exit_code)

    def describe(self) -> list[Metric]:
        return []  # an unchecked collector: its series change with the run

    def collect(self) -> Iterator[Metric]:
        yield from self._requests()
        yield from self._roles()
        yield from self._run()
        yield from self._sla_metrics()
        yield from self._resources()
        yield from self._health()

    # -- requests --------------------------------------------------------------------------------
    def _requests(self) -> Iterator[Metric]:
        labels = ["method", "name"]
        reqs = CounterMetricFamily(
            "erpload_requests", "Requests per endpoint (merged from every worker)", labels=labels
        )
        fails = CounterMetricFamily("erpload_request_failures", "Failed requests per endpoint", labels=labels)
        hist = HistogramMetricFamily(
            "erpload_request_duration_seconds",
            "Response time per endpoint (counted from erpload's fine buckets)",
            labels=labels,
            unit="seconds",
        )
        for entry in list(self.env.stats.entries.values()):
            if not (entry.num_requests or entry.num_failures):
                continue
            key = [entry.method or "", entry.name]
            reqs.add_metric(key, entry.num_requests)
            fails.add_metric(key, entry.num_failures)
            hist.add_metric(key, _histogram(entry.response_times), entry.total_response_time / 1000.0)
        yield from (reqs, fails, hist)

    def _roles(self) -> Iterator[Metric]:
        reqs = CounterMetricFamily("erpload_role_requests", "Requests per role (user class)", labels=["role"])
        fails = CounterMetricFamily(
            "erpload_role_request_failures", "Failed requests per role", labels=["role"]
        )
        for (role, _), entry in list(self.run.exchange.role_stats.entries.items()):
            if entry.num_requests or entry.num_failures:
                reqs.add_metric([role], entry.num_requests)
                fails.add_metric([role], entry.num_failures)
        users = GaugeMetricFamily("erpload_users", "Running users per role (user class)", labels=["role"])
        counts = self.run.exchange.role_counts(self.env)
        for cls in self.env.user_classes:
            users.add_metric([cls.__name__], counts.get(cls.__name__, 0))
        yield from (reqs, fails, users)

    # -- run, stage, verdict ---------------------------------------------------------------------
    def _run(self) -> Iterator[Metric]:
        runner, rec = self.env.runner, self.run.recorder
        active = runner is not None and runner.state in (STATE_SPAWNING, STATE_RUNNING)
        yield GaugeMetricFamily(
            "erpload_run_active", "1 while users are spawning or running", value=int(active)
        )
        yield GaugeMetricFamily(
            "erpload_run_elapsed_seconds",
            "Run time so far (frozen when the run stops)",
            value=self._elapsed(),
        )
        shape = self.env.shape_class
        profile = shape.profile if isinstance(shape, ProfileShape) else None
        number = shape.stage_index + 1 if profile is not None and rec.t0 is not None else 0
        yield GaugeMetricFamily(
            "erpload_stage_number", "Current stage, 1-based (0: no profile stage yet)", value=number
        )
        info = GaugeMetricFamily(
            "erpload_stage_info", "The current stage (value 1)", labels=["profile", "stage"]
        )
        if number > 0 and shape.plan:
            info.add_metric([profile.name, str(shape.plan[number - 1].stage.name or number)], 1)
        yield info
        yield GaugeMetricFamily(
            "erpload_verdict_exit_code",
            "The run's exit code once decided (0 pass, 1 request failures, 3 SLA breached, 4 invalid, 5 aborted); -1 before",
            value=self._verdict(),
        )

    def _elapsed(self) -> float:
        return self.stopped_at if self.stopped_at is not None else self.run.recorder.elapsed()

    def _verdict(self) -> int:
        if self.exit_code is not None:
            return self.exit_code
        if self.run.finalized:
            code = self.env.process_exit_code
            return 0 if code is None else int(code)  # finalize sets it for every non-pass verdict
        return -1

    # -- SLA -------------------------------------------------------------------------------------
    def _evaluate(self) -> list:
        now = time.monotonic()
        if self._sla is not None and now - self._sla[0] < CACHE_S:
            return self._sla[1]
        run = self.run
        profile = run.profile
        results: list = []
        if profile is not None and profile.sla and run.recorder.t0 is not None:
            snap = snapshot_of(self.env.stats, run.recorder.role_stats, self._elapsed(), run.extra_metrics())
            results = evaluate(list(profile.sla), snap, run.recorder.windows(snap))
        self._sla = (now, results)
        return results

    def _sla_metrics(self) -> Iterator[Metric]:
        labels = ["rule", "metric", "scope"]
        state = GaugeMetricFamily(
            "erpload_sla_rule_state", "SLA rule: 1 pass, 0 fail, -1 no data", labels=labels
        )
        observed = GaugeMetricFamily(
            "erpload_sla_rule_observed",
            "SLA rule's observed value (base units: seconds, ratio, per second)",
            labels=labels,
        )
        threshold = GaugeMetricFamily(
            "erpload_sla_rule_threshold", "SLA rule's threshold (base units)", labels=labels
        )
        for r in self._evaluate():
            key = [r.rule.title, r.rule.metric, r.rule.scope_text]
            factor = TO_BASE.get(r.rule.kind, 1.0)
            state.add_metric(key, -1 if r.observed is None else int(bool(r.passed)))
            if r.observed is not None:
                observed.add_metric(key, float(r.observed) * factor)
            if isinstance(r.rule.threshold, int | float):
                threshold.add_metric(key, float(r.rule.threshold) * factor)
        yield from (state, observed, threshold)

    # -- resources and generator health ----------------------------------------------------------
    def _resources(self) -> Iterator[Metric]:
        labels = ["process", "host"]
        cpu = GaugeMetricFamily(
            "erpload_process_cpu_ratio", "Latest CPU of target, master, workers (1 = one core)", labels=labels
        )
        rss = GaugeMetricFamily(
            "erpload_process_resident_memory_bytes", "Latest RSS", labels=labels, unit="bytes"
        )
        mon = getattr(self.run, "resource_monitor", None)
        for key, s in list(getattr(mon, "series", {}).items()):
            if s.cpu:
                cpu.add_metric([key, s.host], s.cpu[-1] / 100.0)
                rss.add_metric([key, s.host], s.rss[-1] * MIB)
        yield from (cpu, rss)
        monitored = mon is not None and mon.target is not None and not mon.target_error
        yield GaugeMetricFamily(
            "erpload_target_monitored",
            "1 while the target's CPU/RSS is sampled (--target-pid/--target-metrics)",
            value=int(monitored),
        )
        if mon is not None:
            yield GaugeMetricFamily(
                "erpload_generator_cpu_limit_ratio",
                "--worker-cpu-limit (1 = one core)",
                value=mon.saturation.limit / 100.0,
            )
            yield GaugeMetricFamily(
                "erpload_resource_warnings", "Resource warnings so far", value=len(mon.warnings)
            )

    def _health(self) -> Iterator[Metric]:
        invalid = GaugeMetricFamily(
            "erpload_run_invalid_reasons", "Why the run is INVALID so far, by reason", labels=["reason"]
        )
        reasons: dict[str, int] = {}
        for entry in self.run.invalid:
            reasons[str(entry.get("reason", ""))] = reasons.get(str(entry.get("reason", "")), 0) + 1
        for reason, n in sorted(reasons.items()):
            invalid.add_metric([reason], n)
        yield invalid
        runner = self.env.runner
        workers = GaugeMetricFamily("erpload_workers", "Connected workers by Locust state", labels=["state"])
        missing = 0
        if isinstance(runner, MasterRunner):
            states: dict[str, int] = {}
            for c in list(runner.clients.values()):
                states[c.state] = states.get(c.state, 0) + 1
            missing = states.get("missing", 0)
            for state, n in sorted(states.items()):
                workers.add_metric([state], n)
        yield workers
        mon = getattr(self.run, "resource_monitor", None)
        limit = mon.saturation.limit if mon is not None else math.inf
        hot = any(s.cpu and s.cpu[-1] > limit for s in (mon.generators() if mon is not None else []))
        bad = missing or hot or any(r in reasons for r in HEALTH_REASONS)
        yield GaugeMetricFamily(
            "erpload_generator_healthy",
            "1 when no worker is lost/missing and no generator is over --worker-cpu-limit (now or earlier in the run)",
            value=0 if bad else 1,
        )


def registry_for(collector: RunCollector) -> CollectorRegistry:
    """A registry of its own (not prometheus_client's global one) holding just this run's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry
