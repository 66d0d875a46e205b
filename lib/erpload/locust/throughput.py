"""Throughput: per-operation rates wired in, the target's own counters as SLA metrics, summary.json `load.rates`.

`install_throughput(environment, run)` (every process, from erpload.plugin):
- per-operation pacing (erpload.locust.oprates), its ROLE.TASK names checked before a headless run;
- on the master / local runner, for every rule on `target_rate(COUNTER)`: the `--target-metrics`
  endpoint is scraped every `--resource-interval` seconds (and once more at the end); the rule's
  value is the counter's increase per second over its window (the whole run, `steady`: the steady
  stages, or `stage:NAME`), summed over the counter's labels. No endpoint, no scrape or fewer than
  two samples in the window: no value, so the rule fails as "not measured" (never a pass).
`load_part(run, profile)` gives summary.json `load.rates` (planned vs achieved per operation and stage,
which side limited the run) and the INVALID entry when more tokens were dropped than `allow` permits.
"""

from __future__ import annotations

import logging
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import WorkerRunner

from erpload.locust.oprates import install_rates, rate_totals
from erpload.locust.rate_checks import validate_rates
from erpload.locust.samplers import fetch_text
from erpload.locust.shapes import current_profile
from erpload.profile import Profile, stage_plan
from erpload.report.throughput_report import rates_section
from erpload.sla.metrics import target_counter

log = logging.getLogger(__name__)
SCRAPE_TIMEOUT_S = 2.0


def counter_values(text: str, names: set[str]) -> dict[str, float]:
    """{counter: value summed over its labels} for `names` in a Prometheus text page."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, float] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name in names:
                out[s.name] = out.get(s.name, 0.0) + float(s.value)
    return out


def window_rate(samples: list[tuple[float, float]], spans: list[tuple[float, float]]) -> float | None:
    """Increase per second of a counter within `spans` [(start, end)], from (t, value) samples.

    Per span: the first and last sample inside it; a counter that went down (a target restart) counts
    from the new value. None with no span of two samples.
    """
    grown, seconds = 0.0, 0.0
    for start, end in spans:
        inside = [(t, v) for t, v in samples if start <= t <= end]
        if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
            continue
        grown += sum(b[1] - a[1] if b[1] >= a[1] else b[1] for a, b in zip(inside, inside[1:], strict=False))
        seconds += inside[-1][0] - inside[0][0]
    return grown / seconds if seconds > 0 else None


class TargetCounters:
    """Master / local: scrape the counters the run's target_rate rules name; feed their values as extras."""

    def __init__(self, environment: Environment, run: Any) -> None:
        self.env, self.run = environment, run
        self.samples: dict[str, list[tuple[float, float]]] = {}
        self.names: set[str] = set()
        self.url = ""
        self.error = ""
        self._greenlet: gevent.Greenlet | None = None

    def _clock(self) -> float:
        shape = self.env.shape_class
        return float(shape.get_run_time()) if shape is not None else self.run.recorder.elapsed()

    def on_test_start(self, **_: Any) -> None:
        self.stop()
        profile = self.run.profile or current_profile(self.env)
        rules = [r for r in (profile.sla if profile else ()) if target_counter(r.metric)]
        self.samples, self.error = {}, ""
        self.names = {target_counter(r.metric) or "" for r in rules}
        for key in [k for k in self.run.extra_providers if k.startswith("target_rate(")]:
            del self.run.extra_providers[key]  # the previous run's rules
        if not rules:
            return
        self.url = str(getattr(self.env.parsed_options, "target_metrics", "") or "")
        if not self.url:
            log.warning(
                "erpload: %d target_rate rule(s) but no --target-metrics URL: they cannot be measured",
                len(rules),
            )
            return
        for rule in rules:
            key = rule.metric if rule.window == "all" else f"{rule.metric}@{rule.window}"
            self.run.extra_providers[key] = self._provider(
                target_counter(rule.metric) or "", rule.window, profile
            )
        self.run.finalizers.append(self._final)
        interval = float(getattr(self.env.parsed_options, "resource_interval", 2.0) or 2.0)
        self._greenlet = gevent.spawn(self._loop, interval)

    def _loop(self, interval: float) -> None:
        while True:
            self.scrape()
            gevent.sleep(interval)

    def scrape(self) -> None:
        """One bounded scrape (erpload.locust.samplers.fetch_text); a failure is a gap, logged once."""
        t = self._clock()
        try:
            values = counter_values(fetch_text(self.url, SCRAPE_TIMEOUT_S), self.names)
        except Exception as e:
            if not self.error:
                log.warning("erpload: target_rate: %s not scraped: %s: %s", self.url, type(e).__name__, e)
            self.error = f"{type(e).__name__}: {e}"
            return
        for name, value in values.items():
            self.samples.setdefault(name, []).append((t, value))

    def _final(self, run: Any) -> None:
        self.stop()
        self.scrape()
        if run.finalizers and self._final in run.finalizers:
            run.finalizers.remove(self._final)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        self._greenlet = None

    def _provider(self, name: str, window: str, profile: Profile) -> Any:
        plan = stage_plan(profile)
        if window == "steady":
            spans = [(p.start_s, p.end_s) for p in plan if p.steady]
        elif window.startswith("stage:"):
            spans = [(p.start_s, p.end_s) for p in plan if p.stage.name == window[6:]]
        else:
            spans = [(0.0, float("inf"))]
        return lambda: window_rate(self.samples.get(name, []), spans)


def install_throughput(environment: Environment, run: Any) -> None:
    """Per-operation pacing in every process; early checks and target counters on the master / local."""
    install_rates(environment, run.exchange, lambda: run.profile or current_profile(environment))
    if isinstance(environment.runner, WorkerRunner):
        return
    if environment.parsed_options is not None:
        validate_rates(environment)
    counters = TargetCounters(environment, run)
    environment.events.test_start.add_listener(counters.on_test_start)


def load_part(run: Any, profile: Profile | None) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(summary.json `load.rates` or None, INVALID entries): planned vs achieved per operation."""
    if profile is None or not profile.has_rates:
        return None, []
    elapsed = run.recorder.elapsed()
    shape = run.env.shape_class
    if shape is not None and getattr(shape, "start_time", None):
        elapsed = min(elapsed, float(shape.get_run_time()))
    rates = rates_section(rate_totals(run.env), profile.stages, elapsed, run.resources or None)
    allowed = profile.allow.dropped_iterations
    if rates["dropped_ratio"] <= allowed:
        return rates, []
    detail = (
        f"{rates['dropped']} of {rates['planned']} per-operation tokens dropped ({rates['dropped_ratio']:.1%} > "
        f"allowed {allowed:.1%}): no idle user of the role; add users to the role or workers "
        f"(limit: {rates['limit']['side']})"
    )
    return rates, [{"reason": "load under-delivered", "at_s": round(elapsed, 1), "detail": detail}]
