"""The live view of one run in the web UI: SLA rows, resource rows and a live summary, cached for polling."""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from typing import Any

import psutil
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner

from erpload.core.errors import ExitCode
from erpload.locust.recorder import snapshot_of
from erpload.locust.shapes import current_profile
from erpload.report.rows import leak_estimate, message_row, resource_rows, sla_rows
from erpload.report.summary import ProfileInfo, build_summary
from erpload.sla.evaluation import evaluate

__all__ = ["LiveView"]
log = logging.getLogger("erpload")

CACHE_S = 2.0  # the UI polls /stats/requests every ~2 s; evaluate at most that often
SERIES_LEN = 1800  # one hour at 2 s
CPU_SATURATED = 90.0  # Locust's own worker warning threshold
TARGET_NOT_MONITORED = "target not monitored (use --target-pid / --target-metrics)"


class LiveView:
    """The live SLA evaluation and resource view of one run, cached for the polling UI."""

    def __init__(self, environment: Environment, run: Any) -> None:
        self.env = environment
        self.run = run
        self._cache: dict[str, tuple[float, Any]] = {}
        self._stopped_at: float | None = None
        self._series: dict[str, dict[str, deque]] = {}
        self._t0 = time.monotonic()
        self._me = psutil.Process()
        self._me.cpu_percent(None)  # psutil: the first call only starts the measurement

    # -- lifecycle -----------------------------------------------------------------------------
    def on_test_start(self, **_: Any) -> None:
        self._stopped_at, self._cache = None, {}
        self._series, self._t0 = {}, time.monotonic()

    def on_test_stop(self, **_: Any) -> None:
        # freeze the duration: rates must not decay while the stopped run is on screen
        self._stopped_at = self.run.recorder.elapsed()
        self._cache = {}

    def _cached(self, key: str, fn: Any) -> Any:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
        value = fn()
        self._cache[key] = (now, value)
        return value

    @property
    def live(self) -> bool:
        runner = self.env.runner
        return runner is not None and runner.state in (STATE_SPAWNING, STATE_RUNNING)

    # -- SLA -----------------------------------------------------------------------------------
    def evaluation(self) -> tuple[Any, list, Any]:
        """(profile, results, snapshot) of the current run; results empty before any run."""
        return self._cached("eval", self._evaluate)

    def _evaluate(self) -> tuple[Any, list, Any]:
        run, rec = self.run, self.run.recorder
        profile = run.profile or current_profile(self.env)
        if rec.t0 is None:
            return profile, [], None
        duration = self._stopped_at if self._stopped_at is not None else rec.elapsed()
        snap = snapshot_of(self.env.stats, rec.role_stats, duration, run.extra_metrics())
        rules = list(profile.sla) if profile else []
        return profile, evaluate(rules, snap, rec.windows(snap)), snap

    def sla_rows(self) -> list[dict[str, str]]:
        profile, results, snap = self.evaluation()
        if snap is None:
            return [message_row("no run yet: pick a load profile in the start form and start it")]
        if profile is None:
            return [message_row("no load profile in this run: no SLA rules to evaluate")]
        if not results:
            return [message_row(f"profile {profile.name} has no SLA rules")]
        return sla_rows(results, self.run.recorder.trip, self.live)

    # -- resources -----------------------------------------------------------------------------
    def resources(self) -> dict[str, Any]:
        return self._cached("resources", self._resources)

    def _resources(self) -> dict[str, Any]:
        provider = self.run.live_resources
        if provider is not None:
            try:
                data = dict(provider() or {})
            except Exception as e:  # the monitor must not break the UI; fall back to what Locust knows
                log.exception("erpload: live resources failed")
                return self._fallback([f"resources monitor failed: {type(e).__name__}: {e}"])
            procs = list(data.get("processes") or [])
            if procs:  # the monitor samples only during a run; before that, show what Locust knows
                if not any(p.get("key") == "target" for p in procs):
                    procs.insert(0, self._target_stub())
                return {"processes": procs, "warnings": list(data.get("warnings") or [])}
            return self._fallback(list(data.get("warnings") or []))
        return self._fallback([])

    def _target_stub(self) -> dict[str, Any]:
        return {"key": "target", "host": self.env.host or "", "note": TARGET_NOT_MONITORED}

    def sample(self) -> None:
        """One sample of the master (this process) and every worker Locust knows about."""
        t = round(time.monotonic() - self._t0, 1)
        with self._me.oneshot():
            self._add("master", t, self._me.cpu_percent(None), self._me.memory_info().rss / 1e6)
        runner = self.env.runner
        if isinstance(runner, MasterRunner):
            for w in list(runner.clients.values()):
                self._add(self._worker_key(w), t, w.cpu_usage, (w.memory_usage or 0) / 1e6)

    def _worker_key(self, worker: Any) -> str:
        try:
            return f"worker:{self.env.runner.get_worker_index(worker.id)}"  # type: ignore[union-attr]
        except Exception:
            return f"worker:{worker.id}"

    def _add(self, key: str, t: float, cpu: float, rss_mb: float) -> None:
        s = self._series.setdefault(key, {"cpu": deque(maxlen=SERIES_LEN), "rss": deque(maxlen=SERIES_LEN)})
        s["cpu"].append([t, round(float(cpu or 0.0), 1)])
        s["rss"].append([t, round(float(rss_mb), 1)])

    def _fallback(self, warnings: list[str]) -> dict[str, Any]:
        """The Resources view from Locust's own data: master via psutil, workers' heartbeat CPU/RSS."""
        if not self._series.get("master"):
            self.sample()
        runner = self.env.runner
        workers = (
            {self._worker_key(w): w for w in runner.clients.values()}
            if isinstance(runner, MasterRunner)
            else {}
        )
        procs: list[dict[str, Any]] = [self._target_stub()]
        for key, s in self._series.items():
            if key != "master" and key not in workers:
                continue
            w = workers.get(key)
            host = os.uname().nodename if w is None else w.id.rsplit("_", 1)[0]
            procs.append(
                {
                    "key": key,
                    "host": host,
                    "cpu_percent": s["cpu"][-1][1],
                    "rss_mb": s["rss"][-1][1],
                    "cpu_series": list(s["cpu"]),
                    "rss_series": list(s["rss"]),
                    "leak": leak_estimate(list(s["rss"])),
                }
            )
            if s["cpu"][-1][1] > CPU_SATURATED:
                warnings.append(
                    f"{key} CPU {s['cpu'][-1][1]:.0f}% > {CPU_SATURATED:.0f}%: "
                    "generator saturated, its latencies are not trustworthy; add workers"
                )
            if w is not None and w.state == "missing":
                warnings.append(f"{key} missing: no heartbeat; its users are not running")
        return {"processes": procs, "warnings": warnings}

    def resource_rows(self) -> list[dict[str, str]]:
        return resource_rows(self.resources())

    # -- report --------------------------------------------------------------------------------
    def summary(self) -> Any:
        profile, results, snap = self.evaluation()
        if snap is None:
            snap = snapshot_of(self.env.stats, self.run.recorder.role_stats, 0.0)
        code = ExitCode.PASS if all(r.passed for r in results) else ExitCode.SLA_BREACHED
        if self.run.recorder.trip is not None:
            code = ExitCode.SLA_BREACHED
        rec = self.run.recorder
        return build_summary(
            snap,
            results,
            exit_code=int(code),
            profile=ProfileInfo(profile.name, str(profile.source_path or ""), profile.description)
            if profile
            else None,
            started_at=rec.started_wall,
            ended_at=time.time(),
            host=self.env.host or "",
            workers=rec.max_workers,
            errors=[e.serialize() for e in self.env.stats.errors.values()],
            timeline=rec.timeline.to_dict(),
            resources=self.resources(),
            notes=["live summary from the web UI (the run may still be going)"] if self.live else [],
        )
