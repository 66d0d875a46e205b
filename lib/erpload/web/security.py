"""Guards on Locust's web UI: same-origin state changes only, and no UI beyond loopback without a login.

Locust 2.47 wraps its Flask app in `CORS(app)`, which reflects any Origin: a page on any site could
POST /swarm from a visitor's browser and start load against a host of its choosing. A browser
names the page that sent a request (`Sec-Fetch-Site`, `Origin`, `Referer`); a state-changing
request whose page is not this UI is refused with 403, and cross-origin reads get no CORS grant.
Clients that send none of those headers (curl, CI scripts) are not browsers and cannot be forged
into calling us, so they pass.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any
from urllib.parse import urlsplit

from flask import Response, jsonify, request
from flask_login import LoginManager

from erpload.core.errors import ConfigError, ExitCode
from erpload.web.login import PASSWORD_ENV, USER_ENV, configured_credentials, install_login, is_loopback

__all__ = ["cross_origin_reason", "install_origin_check", "require_login_beyond_loopback"]
log = logging.getLogger("erpload")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Locust 2.47 changes state only on POST (/swarm, /stop, /stats/reset, /user); a GET endpoint that
# changes state (a future /quit, say) must be listed here so it gets the same check.
STATE_CHANGING_GETS: frozenset[str] = frozenset()
SAME_SITE_VALUES = frozenset({"same-origin", "none"})  # "none": typed in the address bar, a bookmark
_FLASK_CORS_EVALUATED = "_FLASK_CORS_EVALUATED"  # flask_cors skips responses carrying this attribute


def _authority(value: str) -> str | None:
    """'host:port' of a URL or a Host header, lower case, default ports dropped; None if there is none."""
    parts = urlsplit(value if "//" in value else f"//{value}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    if not host:
        return None
    host = f"[{host}]" if ":" in host else host
    return host if port in (None, 80, 443) else f"{host}:{port}"


def _own_authorities() -> set[str]:
    """This UI as the browser addressed it: the Host header, and X-Forwarded-Host behind a proxy.

    A cross-site page cannot add X-Forwarded-Host: a custom header needs a CORS preflight, and
    cross-origin requests get no CORS grant here.
    """
    own = {request.host, *request.headers.get("X-Forwarded-Host", "").split(",")}
    return {a for a in (_authority(h.strip()) for h in own if h.strip()) if a}


def cross_origin_reason() -> str | None:
    """Why this request does not come from this UI's own page, or None when it does (or says nothing)."""
    site = request.headers.get("Sec-Fetch-Site", "").strip().lower()
    if site and site not in SAME_SITE_VALUES:
        return f"Sec-Fetch-Site: {site}"
    own = _own_authorities()
    origin = request.headers.get("Origin")
    if origin is not None:
        return None if _authority(origin) in own else f"Origin {origin!r}"
    referer = request.headers.get("Referer")
    if referer and _authority(referer) not in own:
        return f"Referer {referer!r}"
    return None


def _refuse(message: str) -> Response:
    log.warning("erpload: %s", message)
    response = jsonify({"success": False, "message": message})
    response.status_code = 403
    return response


def install_origin_check(web_ui: Any) -> None:
    """Refuse cross-origin state-changing requests (403) and cross-origin reads (no CORS headers).

    A UI bound to loopback also refuses a Host header that is not a loopback name: a hostile page
    that re-points its own name at 127.0.0.1 (DNS rebinding) would otherwise be "same origin".
    """
    app = web_ui.app
    loopback_only = is_loopback(str(getattr(web_ui, "host", "") or ""))

    def same_origin_only() -> Response | None:
        if loopback_only and not is_loopback(urlsplit(f"//{request.host}").hostname or ""):
            return _refuse(
                f"refused: Host {request.host!r} is not this web UI's address (it listens on "
                f"{web_ui.host} only); open it as http://{web_ui.host}:<port>/ or through an SSH tunnel"
            )
        if request.method in SAFE_METHODS and request.endpoint not in STATE_CHANGING_GETS:
            return None
        reason = cross_origin_reason()
        if reason is None:
            return None
        return _refuse(
            f"refused: {request.method} {request.path} comes from another site ({reason}), not from "
            f"this web UI ({request.host}). Start and stop tests from the UI's own page, "
            f"{request.host_url}, or from a script (which sends no Origin)."
        )

    def no_cross_origin_reads(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if origin is not None and _authority(origin) not in _own_authorities():
            setattr(response, _FLASK_CORS_EVALUATED, True)  # Locust's CORS(app) would grant any origin
        return response

    # first in line: before erpload's form check and Locust's views, whoever registered earlier
    app.before_request_funcs.setdefault(None, []).insert(0, same_origin_only)
    app.after_request(no_cross_origin_reads)


def require_login_beyond_loopback(environment: Any, web_ui: Any) -> None:
    """A UI reachable from other machines needs a login: turn it on from our credentials, or exit 2.

    Runs in `init`, before `web_ui.start()`: on refusal nothing ever listens. Without a command line
    (an Environment built in code) it raises ConfigError instead of exiting.
    """
    opts = getattr(environment, "parsed_options", None)
    host = getattr(opts, "web_host", None)
    host = str(getattr(web_ui, "host", "") if host is None else host)
    if is_loopback(host) or getattr(web_ui, "web_login", False):
        return
    shown = host if host not in ("", "*") else "* (all interfaces, Locust's default)"
    if configured_credentials() is None:
        error = ConfigError(
            f"--web-host {shown}",
            [
                f"a web UI reachable from other machines needs a login: set {USER_ENV} and "
                f"{PASSWORD_ENV} (the login is then required), or use --web-host 127.0.0.1 and an SSH tunnel"
            ],
        )
        if opts is None:  # library use (no command line): the caller decides
            raise error
        sys.stderr.write(error.render() + "\n")
        sys.stderr.flush()
        logging.shutdown()
        os._exit(int(ExitCode.CONFIG_INVALID))  # in `init`: the UI has not started, nothing listens
    enable_login(web_ui)
    log.info("erpload: the web UI listens on %s: login required (%s)", shown, USER_ENV)


def enable_login(web_ui: Any) -> None:
    """What `--web-login` sets up in Locust's WebUI constructor, then erpload's user check."""
    manager = LoginManager()
    manager.init_app(web_ui.app)
    manager.login_view = "locust.login"
    web_ui.login_manager = manager
    web_ui.web_login = True
    install_login(web_ui)
