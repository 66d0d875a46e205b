"""erpload in Locust's web UI: profile picker check, live SLA and Resources tabs, report with SLA sections.

`install_webui(environment, run)` (called by `plugin.install` on the master/local runner when a web
UI exists) adds two tabs to Locust's main page (`template_args["extended_tabs"]`, rows fed through
`extended_stats` on the polled `/stats/requests`), validates the profile chosen in the start form
before `/swarm` starts it, appends erpload's SLA and resources sections to the downloadable
`/stats/report`, and serves erpload's own report at `/erpload/report.html`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

import gevent
import psutil
from flask import Response, jsonify, request
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING, MasterRunner

from erpload.core.errors import ConfigError, ExitCode
from erpload.locust.recorder import snapshot_of
from erpload.locust.shapes import current_profile
from erpload.profile.model import load_profile
from erpload.report.html import render_html
from erpload.report.rows import (
    RESOURCES_STRUCTURE,
    SLA_STRUCTURE,
    ProfileChoices,
    leak_estimate,
    message_row,
    profile_choices,
    report_section,
    resource_rows,
    sla_rows,
)
from erpload.report.summary import ProfileInfo, build_summary
from erpload.sla.evaluation import evaluate
from erpload.web.login import install_login, is_loopback

__all__ = ["LiveView", "install_webui", "load_profile_choices"]
log = logging.getLogger("erpload")

CACHE_S = 2.0  # the UI polls /stats/requests every ~2 s; evaluate at most that often
SAMPLE_S = 2.0  # resource samples when no resources monitor is installed
SERIES_LEN = 1800  # one hour at 2 s
CPU_SATURATED = 90.0  # Locust's own worker warning threshold
TARGET_NOT_MONITORED = "target not monitored (use --target-pid / --target-metrics)"

# The parser is rebuilt for every start-form render (argument_parser.ui_extra_args_dict), so the
# profile given on the command line is kept here to stay selectable in the dropdown.
_EXTRA_CHOICES: list[str] = []


def load_profile_choices(directory: Path) -> ProfileChoices:
    """`choices` for --load-profile: the dropdown lists `directory`'s profiles; any path stays valid."""
    return profile_choices(Path(directory), _EXTRA_CHOICES)


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


def _validate_swarm(env: Environment) -> Response | None:
    """The profile chosen in the start form, checked before /swarm starts it: errors go to the form."""
    path = request.form.get("load_profile", "").strip()
    if not path:
        return None
    try:
        load_profile(path, known_roles=[c.__name__ for c in env.user_classes])
    except ConfigError as e:
        text = e.render()
        log.error("erpload: not starting: %s", text)
        return jsonify({"success": False, "message": text, "host": env.host})
    return None


def install_webui(environment: Environment, run: Any) -> LiveView | None:
    """Add erpload's tabs, form check, report sections and routes to `environment.web_ui` (idempotent)."""
    web_ui = getattr(environment, "web_ui", None)
    if web_ui is None:
        return None
    existing = getattr(web_ui, "erpload_view", None)
    if isinstance(existing, LiveView):
        return existing
    view = LiveView(environment, run)
    web_ui.erpload_view = view
    current = getattr(environment.parsed_options, "load_profile", "") if environment.parsed_options else ""
    if current and current not in _EXTRA_CHOICES:
        _EXTRA_CHOICES.append(current)
    if getattr(web_ui, "web_login", False):
        install_login(web_ui)
    elif not is_loopback(str(getattr(web_ui, "host", "127.0.0.1") or "0.0.0.0")):
        log.warning(
            "erpload: the web UI listens on %r without --web-login: anyone who can reach it can start "
            "load; use `erpload ui` (login from ERPLOAD_WEB_USER/PASSWORD) or 127.0.0.1",
            web_ui.host,
        )
    environment.events.test_start.add_listener(view.on_test_start)
    environment.events.test_stop.add_listener(view.on_test_stop)

    web_ui.template_args["extended_tabs"] = [
        {"title": "SLA", "key": "sla"},
        {"title": "Resources", "key": "resources"},
    ]
    web_ui.template_args["extended_tables"] = [
        {"key": "sla", "structure": SLA_STRUCTURE},
        {"key": "resources", "structure": RESOURCES_STRUCTURE},
    ]
    web_ui.template_args["extended_csv_files"] = [
        {"href": "./erpload/report.html", "title": "erpload report (HTML: SLA verdict, charts, resources)"}
    ]
    app = web_ui.app

    @app.before_request
    def _erpload_before() -> Response | None:
        if request.endpoint == "locust.swarm" and request.method == "POST" and _may_act(web_ui):
            return _validate_swarm(environment)
        return None

    @app.after_request
    def _erpload_after(response: Response) -> Response:
        try:
            if (
                request.endpoint == "locust.request_stats"
                and response.status_code == 200
                and response.is_json
            ):
                data = response.get_json()
                data["extended_stats"] = [
                    {"key": "sla", "data": view.sla_rows()},
                    {"key": "resources", "data": view.resource_rows()},
                ]
                response.set_data(json.dumps(data))
            elif request.endpoint == "locust.stats_report" and response.status_code == 200:
                page = response.get_data(as_text=True)
                section = report_section("erpload: SLA and resources", view.sla_rows(), view.resource_rows())
                at = page.rfind("</body>")
                response.set_data(page[:at] + section + page[at:] if at >= 0 else page + section)
        except Exception:  # our additions must never break Locust's own UI
            log.exception("erpload: extending %s failed", request.path)
        return response

    @app.route("/erpload/report.html")
    @web_ui.auth_required_if_enabled
    def _erpload_report() -> Response:
        res = Response(render_html(view.summary()), mimetype="text/html")
        res.headers["Content-Disposition"] = "attachment;filename=erpload-report.html"
        return res

    def sampler() -> None:
        while True:
            gevent.sleep(SAMPLE_S)
            if run.live_resources is None:
                try:
                    view.sample()
                except Exception:
                    log.exception("erpload: resource sample failed")

    gevent.spawn(sampler)
    return view


def _may_act(web_ui: Any) -> bool:
    """With a login, leave unauthenticated requests to Locust's login_required."""
    if not getattr(web_ui, "web_login", False):
        return True
    from flask_login import current_user

    return bool(getattr(current_user, "is_authenticated", False))
