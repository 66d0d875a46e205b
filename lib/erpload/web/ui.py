"""erpload in Locust's web UI: guards, start form, live SLA and Resources tabs, report with SLA sections.

`install_webui(environment, run)` (called by `plugin.install` on the master/local runner when a web
UI exists) adds two tabs to Locust's main page (`template_args["extended_tabs"]`, rows fed through
`extended_stats` on the polled `/stats/requests`), validates the profile chosen in the start form
before `/swarm` starts it, appends erpload's SLA and resources sections to the downloadable
`/stats/report`, and serves erpload's own report at `/erpload/report.html`. It also refuses a UI
beyond loopback without a login and cross-origin state changes (web.security), shapes the start form
(web.form) and marks a run interrupted when Stop cuts a profile short (web.control).
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

import gevent
from flask import Response, request
from locust.env import Environment

from erpload.locust.metrics_server import exposition
from erpload.report.html import render_html
from erpload.report.rows import RESOURCES_STRUCTURE, SLA_STRUCTURE, report_section
from erpload.web.control import install_stop_control
from erpload.web.form import install_form, load_profile_choices, remember_choice, validate_swarm
from erpload.web.live import LiveView
from erpload.web.login import configured_credentials, install_login, is_authorized
from erpload.web.security import install_origin_check, require_login_beyond_loopback

__all__ = ["LiveView", "install_webui", "load_profile_choices"]
log = logging.getLogger("erpload")

SAMPLE_S = 2.0  # resource samples when no resources monitor is installed


def _basic_auth_ok(auth: Any) -> bool:
    """HTTP Basic credentials equal to ERPLOAD_WEB_USER / _PASSWORD (constant time); False without them."""
    creds = configured_credentials()
    if creds is None or auth is None or auth.type != "basic":
        return False
    user, password = (auth.username or "").encode(), (auth.password or "").encode()
    return hmac.compare_digest(user, creds[0].encode()) & hmac.compare_digest(password, creds[1].encode())


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
    remember_choice(
        getattr(environment.parsed_options, "load_profile", "") if environment.parsed_options else ""
    )
    if getattr(web_ui, "web_login", False):
        install_login(web_ui)
    else:
        require_login_beyond_loopback(environment, web_ui)  # exits 2 unless a login can be turned on
    install_origin_check(web_ui)
    install_form(web_ui)
    install_stop_control(environment, web_ui)
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

    app.before_request(lambda: validate_swarm(environment, web_ui))

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

    @app.route("/metrics")
    def _erpload_metrics() -> Response:
        # for a Prometheus scraper: open like the UI on loopback; behind a login, the same
        # ERPLOAD_WEB_USER / _PASSWORD by HTTP Basic auth (a logged-in browser session works too)
        if not (is_authorized(web_ui) or _basic_auth_ok(request.authorization)):
            return Response("login required: HTTP Basic auth with ERPLOAD_WEB_USER / ERPLOAD_WEB_PASSWORD\n", 401,
                            {"WWW-Authenticate": 'Basic realm="erpload metrics"'})  # fmt: skip
        out = exposition(run)
        return Response(out[0], content_type=out[1]) if out else Response("metrics not installed\n", 404)

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
