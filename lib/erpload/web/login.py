"""A username/password login for Locust's web UI (`--web-login`), from ERPLOAD_WEB_USER / ERPLOAD_WEB_PASSWORD.

Locust 2.47 ships only the login page and flask-login's `login_required`; the user store is ours.
Fails closed: with `--web-login` but no credentials configured, nobody can log in and the login
page says what to set. The password is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from typing import Any

from flask import Response, redirect, request, session, url_for
from flask_login import UserMixin, login_user

log = logging.getLogger("erpload")

USER_ENV, PASSWORD_ENV = "ERPLOAD_WEB_USER", "ERPLOAD_WEB_PASSWORD"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def configured_credentials() -> tuple[str, str] | None:
    """(user, password) from the environment, or None when either is missing/empty."""
    user, password = os.environ.get(USER_ENV, ""), os.environ.get(PASSWORD_ENV, "")
    return (user, password) if user and password else None


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


def is_authorized(web_ui: Any) -> bool:
    """True without a login; with one, only for a logged-in user (others are left to login_required)."""
    if not getattr(web_ui, "web_login", False):
        return True
    from flask_login import current_user

    return bool(getattr(current_user, "is_authenticated", False))


class _User(UserMixin):
    def __init__(self, name: str) -> None:
        self.id = name


def install_login(web_ui: Any) -> None:
    """Wire the login page to our credentials check (only when Locust runs with --web-login)."""
    creds = configured_credentials()
    web_ui.app.config["SECRET_KEY"] = secrets.token_hex(32)  # sessions last as long as this process
    web_ui.login_manager.user_loader(lambda name: _User(name) if creds and name == creds[0] else None)
    web_ui.auth_args = {"username_password_callback": "./erpload/login"}
    if creds is None:
        msg = f"login is not configured: set {USER_ENV} and {PASSWORD_ENV} and restart"
        log.error("erpload: --web-login: %s (nobody can log in)", msg)

        @web_ui.app.before_request
        def _explain() -> None:  # Locust's login page shows session["auth_error"]
            if request.endpoint == "locust.login":
                session["auth_error"] = msg

    @web_ui.app.route("/erpload/login", methods=["POST"])
    def _erpload_login() -> Response:
        name, password = request.form.get("username", ""), request.form.get("password", "")
        if (
            creds is not None
            and hmac.compare_digest(name.encode(), creds[0].encode())
            and hmac.compare_digest(password.encode(), creds[1].encode())
        ):
            login_user(_User(name))
            return redirect(url_for("locust.index"))
        log.warning("erpload: failed web UI login for user %r from %s", name[:64], request.remote_addr)
        session["auth_error"] = "Invalid username or password"
        return redirect(url_for("locust.login"))
