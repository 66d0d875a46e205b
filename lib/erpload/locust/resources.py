"""Resource monitoring wired into Locust: samplers in every process, target monitoring, generator health.

Every process samples itself every `--resource-interval` seconds. Workers ship their samples (with
their age, so clock skew between hosts does not matter) under data["erpload"]["resources"]; the
master keeps a bounded `ProcessSeries` per process ("master", "worker:<index>", "target"), watches
generator saturation (`--worker-cpu-limit` % sustained 10 s) and closed-model under-delivery, and
at the end feeds the SLA extra metrics, summary.json `resources`, `memory_profile.json` and
`worker_resource_utilization.json`.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from pathlib import Path
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner

from erpload.core.series import LIVE_POINTS, ProcessSeries, SaturationDetector, UnderDeliveryDetector
from erpload.locust.resource_outputs import extra_metrics, live_view, order, write_artifacts
from erpload.locust.samplers import HostSampler, ProcessSampler, PrometheusSampler

log = logging.getLogger("erpload")
KEY = "resources"
SUSTAIN_S = 10.0
MAX_PENDING = 600  # worker-side samples kept if reports stall (bounded)
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def target_requests(stats: Any) -> int:
    """HTTP requests sent to the target so far: the target's KiB per request divides by these only.

    The total also holds WebSocket rows (request type "WS": one connection carries many event and
    broadcast messages, each a row count) and the suite's own failure records ("TASK", "LOGIN": no
    request was sent); counted in, they diluted the per-request growth (25.8 KiB for 64 injected).
    """
    return sum(e.num_requests for (_, method), e in stats.entries.items() if method in HTTP_METHODS)


def _opt(env: Environment, name: str, default: Any) -> Any:
    value = getattr(env.parsed_options, name, None) if env.parsed_options is not None else None
    return default if value in (None, "") else value


class ResourceMonitor:
    """One per process; the master/local one owns the series, the detectors and the reports."""

    def __init__(self, environment: Environment, run: Any) -> None:
        self.env, self.run = environment, run
        self.interval = max(0.05, float(_opt(environment, "resource_interval", 1.0)))
        self.host = socket.gethostname()
        # A load generator never counts its own connections: psutil walks every socket (286 ms at 10k)
        # and blocks the event loop meanwhile, which would inflate the latencies it reports.
        self.self_sampler = ProcessSampler(connections=False)
        self.host_sampler = HostSampler()
        self.host_latest: dict[str, float] = {}
        self.pending: deque[tuple[float, dict[str, float]]] = deque(maxlen=MAX_PENDING)
        self.series: dict[str, ProcessSeries] = {}
        self.hosts: dict[str, dict[str, float]] = {}
        self.target: ProcessSampler | PrometheusSampler | None = None
        self.target_error = ""  # why the latest target sample failed ("" after a good one)
        self.saturation = SaturationDetector(float(_opt(environment, "worker_cpu_limit", 90.0)), SUSTAIN_S)
        self.under: UnderDeliveryDetector | None = None
        self.warnings: list[str] = []
        self.active = False
        self._glet: gevent.Greenlet | None = None

    # -- every process -------------------------------------------------------------------------
    def start_sampling(self, **_: Any) -> None:
        """Start this process's sampler greenlet (at test_start)."""
        if self._glet is None:
            self._glet = gevent.spawn(self._loop)

    def stop_sampling(self, **_: Any) -> None:
        """Stop the sampler greenlet (at test_stop; the master's final sample is taken in finalize)."""
        if self._glet is not None:
            self._glet.kill(block=False)
            self._glet = None

    def _loop(self) -> None:
        while True:
            gevent.sleep(self.interval)
            try:
                self.tick()
            except Exception:  # monitoring must never kill the run
                log.exception("erpload: resource sample failed")

    def tick(self) -> None:
        """Sample this process (and on the master the target); record or queue it."""
        own = self.self_sampler.sample()
        self.host_latest = self.host_sampler.sample()
        if isinstance(self.env.runner, WorkerRunner):
            if own is not None:
                self.pending.append((time.monotonic(), own))
            return
        if not self.active:
            return
        t = self.run.recorder.elapsed()
        if own is not None:
            self.record("master", t, own, self.host, os.getpid())
        self.hosts[self.host] = self.host_latest
        self._sample_target(t)
        self._check_users(t)

    def payload(self) -> dict[str, Any]:
        """Worker side: the samples since the last report, each with its age in seconds."""
        now = time.monotonic()
        samples = [[round(now - ts, 3), s] for ts, s in self.pending]
        self.pending.clear()
        runner = self.env.runner
        return {
            "idx": getattr(runner, "worker_index", None),
            "host": self.host,
            "pid": os.getpid(),
            "host_metrics": self.host_latest,
            "samples": samples,
        }

    # -- master / local ------------------------------------------------------------------------
    def on_test_start(self, **_: Any) -> None:
        """Reset everything for a new run; connect to the target."""
        self.series, self.hosts, self.warnings = {}, {}, []
        self.saturation = SaturationDetector(self.saturation.limit, SUSTAIN_S)
        profile = self.run.profile
        closed = profile is not None and not profile.is_open
        if closed:
            from erpload.profile import stage_plan

            self.under = UnderDeliveryDetector(stage_plan(profile))
        else:
            self.under = None
        self.target, self.target_error = self._connect_target(), ""
        self.active = True

    def _connect_target(self) -> ProcessSampler | PrometheusSampler | None:
        pid, url = int(_opt(self.env, "target_pid", 0)), str(_opt(self.env, "target_metrics", ""))
        if pid:
            try:
                return ProcessSampler(pid, children=True)
            except Exception as e:
                self._warn(f"target pid {pid} cannot be monitored: {e}")
        if url:
            return PrometheusSampler(url)
        return None

    def _sample_target(self, t: float) -> None:
        if self.target is None:
            return
        sample = self.target.sample()  # bounded: a scrape has a total deadline (erpload.locust.samplers)
        if sample is None:
            self.target_error = getattr(self.target, "last_error", "") or "process gone"
            self._warn(f"target not sampled: {self.target_error}")
            return
        self.target_error = ""
        where = self._target_where()
        pid = self.target.pid if isinstance(self.target, ProcessSampler) else None
        self.record("target", t, sample, where, pid, requests=target_requests(self.env.stats))

    def _target_where(self) -> str:
        return self.target.url if isinstance(self.target, PrometheusSampler) else self.host

    def on_payload(self, client_id: str, payload: Any) -> None:
        """Master: one worker's batch of samples."""
        if not self.active or not isinstance(payload, dict):
            return
        idx = payload.get("idx")
        if not isinstance(idx, int) and isinstance(self.env.runner, MasterRunner):
            idx = self.env.runner.get_worker_index(client_id)
        key, now = f"worker:{idx}", self.run.recorder.elapsed()
        host = str(payload.get("host") or "")
        if isinstance(payload.get("host_metrics"), dict):
            self.hosts[host] = payload["host_metrics"]
        for age, sample in payload.get("samples") or ():
            t = now - float(age)
            if t >= 0 and isinstance(sample, dict):
                self.record(key, t, sample, host, payload.get("pid"))

    def record(
        self, key: str, t: float, sample: dict[str, float], host: str, pid: Any, requests: float | None = None
    ) -> None:
        """Add a sample to its series; generators (not the target) feed the saturation detector."""
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = ProcessSeries(key, host, pid if isinstance(pid, int) else None)
        series.add(t, sample, requests)
        if key == "target":
            return
        ep = self.saturation.feed(key, t, float(sample.get("cpu_percent", 0.0)))
        if ep is None:
            return
        name = f"{key} ({host}, pid {pid})"
        if isinstance(self.env.runner, LocalRunner) and key == "master":
            name = f"local process ({host}, pid {pid})"
        detail = (
            f"{name} at {ep.value:.0f}% CPU (peak {ep.peak:.0f}%) from {ep.start_s:.0f}s to {ep.end_s:.0f}s "
            f"(limit {self.saturation.limit:.0f}% for {SUSTAIN_S:.0f}s): its latencies include its own queueing; "
            f"add workers or lower the load per worker"
        )
        if self._allowed("generator_saturation"):
            self._warn(f"generator saturated (allowed by the profile): {detail}")
        else:
            self.run.mark_invalid("generator saturated", detail)

    def _check_users(self, t: float) -> None:
        if self.under is None or self.env.runner is None:
            return
        ep = self.under.feed(t, self.env.runner.user_count)
        if ep is None:
            return
        detail = (
            f"{ep.value:.0f} users running of {ep.peak:.0f} planned from {ep.start_s:.0f}s to {ep.end_s:.0f}s "
            f"(more than 10% and 2 users short for over {self.under.grace:.0f}s after the ramp): "
            f"check worker logs for spawn errors, or add workers"
        )
        if self._allowed("under_delivery"):
            self._warn(f"load under-delivered (allowed by the profile): {detail}")
        else:
            self.run.mark_invalid("load under-delivered", detail)

    def _allowed(self, what: str) -> bool:
        profile = self.run.profile
        return bool(getattr(getattr(profile, "allow", None), what, False))

    def _warn(self, text: str) -> None:
        if text not in self.warnings and len(self.warnings) < 50:
            self.warnings.append(text)
            log.warning("erpload: %s", text)

    # -- results -------------------------------------------------------------------------------
    def generators(self) -> list[ProcessSeries]:
        """The load-generating processes: workers, or the local process when there are none."""
        workers = [s for k, s in self.series.items() if k.startswith("worker:")]
        if workers or isinstance(self.env.runner, MasterRunner):
            return workers
        return [s for k, s in self.series.items() if k == "master"]

    def live(self) -> dict[str, Any]:
        """The web UI's Resources tab data (series thinned to LIVE_POINTS)."""
        return live_view(self.series, self.warnings, self.run.invalid)

    def section(self) -> dict[str, Any]:
        """summary.json `resources`: per-process series + summaries, leak verdicts, hosts, warnings."""
        procs, leaks = [], []
        series = dict(self.series)
        if self.target is not None and "target" not in series:  # never sampled: still a row, unavailable
            series["target"] = ProcessSeries("target", self._target_where(), None)
        for key in sorted(series, key=order):
            s = series[key]
            cpu, rss = s.series(LIVE_POINTS)
            leak = s.leak()
            row = {**s.summary(), "cpu_series": cpu, "rss_series": rss}
            if key == "target":  # the final sample failed (or none worked): the row says so
                row.update(available=not self.target_error, unavailable_reason=self.target_error)
            procs.append(row)
            leaks.append({"key": key, **leak.to_dict()})
        return {
            "interval_s": self.interval,
            "worker_cpu_limit_percent": self.saturation.limit,
            "processes": procs,
            "leaks": leaks,
            "hosts": dict(self.hosts),
            "warnings": list(self.warnings),
        }

    def finalize(self, run: Any) -> None:
        """Master, before the verdict: last samples, summary section, artifacts."""
        try:
            self.tick()
        except Exception:
            log.exception("erpload: last resource sample failed")
        self.active = False
        run.resources = self.section()
        report_dir = _opt(self.env, "report_dir", "")
        if report_dir:
            write_artifacts(run.resources, Path(report_dir))


def install_resources(environment: Environment, run: Any) -> ResourceMonitor:
    """Wire resource monitoring into this process (called from erpload.plugin.install)."""
    mon = ResourceMonitor(environment, run)
    run.resource_monitor = mon
    if isinstance(environment.runner, WorkerRunner):
        run.exchange.provide(KEY, mon.payload)
    else:
        run.exchange.merge(KEY, mon.on_payload)
        environment.events.test_start.add_listener(mon.on_test_start)
        run.finalizers.append(mon.finalize)
        run.live_resources = mon.live
        run.extra_providers.update(extra_metrics(mon))
    # sample only while a run is on, so a thrown-away Environment leaves no greenlet behind
    environment.events.test_start.add_listener(mon.start_sampling)
    environment.events.test_stop.add_listener(mon.stop_sampling)
    return mon
