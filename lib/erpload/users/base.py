"""ErpUser: the role users' base on FastHttpUser (login, token renewal, template names, checked responses)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from json import loads
from typing import Any

from locust import FastHttpUser, between
from locust.contrib.fasthttp import LocustBadStatusCode, ResponseContextManager

from erpload.core.errors import ConfigError
from erpload.core.redact import add_token, scrub
from erpload.core.tallies import tallies_for
from erpload.users.checks import PROBE_SUFFIX, Probe, check_login, guard, has_field
from erpload.users.credentials import Credential, pool
from erpload.users.pacing import CONTROL, paced
from erpload.users.settings import current
from erpload.users.stock import ADJUST_NAME, adjust_stock
from erpload.users.transport import session_for

logger = logging.getLogger(__name__)
_LOGIN_FIELDS = ("access_token", "expires_in")

__all__ = ["ADJUST_NAME", "PROBE_SUFFIX", "ErpUser", "Probe"]


class ErpUser(FastHttpUser):
    """Abstract role user: logs in with a pooled account, renews its token, sends checked, template-named requests.

    Subclasses set `role_key`, `wait_time = between(...)` (wrapped in `paced`: open-model tokens),
    `rbac_probes`, and `@task`s; every task, `on_start` and `on_stop` is guarded (see `checks.guard`).
    Request timeout and TLS verification come from `erpload.users.settings` unless a class sets them.
    """

    abstract = True
    role_key: str = ""
    network_timeout: float | None = None  # type: ignore[assignment]  # None: settings.request_timeout
    connection_timeout: float | None = None  # type: ignore[assignment]
    insecure: bool | None = None  # type: ignore[assignment]  # None: settings.insecure_tls
    wait_time = paced(between(3, 10))
    rbac_probes: tuple[Probe, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "wait_time" in cls.__dict__:
            cls.wait_time = paced(cls.__dict__["wait_time"])  # type: ignore[method-assign]
        cls.tasks = [guard(t) for t in cls.tasks]
        for hook in ("on_start", "on_stop"):
            if hook in cls.__dict__:
                setattr(cls, hook, guard(cls.__dict__[hook]))

    def __init__(self, environment: Any) -> None:
        settings = current()
        if self.network_timeout is None:
            self.network_timeout = settings.request_timeout
        if self.connection_timeout is None:
            self.connection_timeout = settings.request_timeout
        if self.insecure is None:
            self.insecure = settings.insecure_tls
        super().__init__(environment)
        self.client = session_for(self)  # one total deadline per request, capped body, in-flight tracking
        self.tallies = tallies_for(environment)  # this Environment's correctness counters
        self.credential: Credential | None = None
        self.username = ""
        self.last_status = 0  # status of the last api() answer (0: no valid response)
        self._auth: dict[str, str] = {}
        self._renew_at = 0.0
        self._context = {"role": type(self).__name__}  # per-role stats key (erpload.locust.exchange)

    def context(self) -> dict[str, Any]:
        """Request-event context of every request this user sends: its role (user class name)."""
        return self._context

    def on_start(self) -> None:
        """Take the next account of this role, log in, and load the profile (GET /auth/me)."""
        try:
            self.credential = self._take_credential()
        except ConfigError as e:  # counted once per user; logged once per role
            if self.role_key not in self.tallies.unavailable:
                self.tallies.unavailable.add(self.role_key)
                logger.error("%s cannot log in: %s", type(self).__name__, e)
            self._fire_failure("LOGIN", "/auth/login", e)
            return
        self.username = self.credential.username
        if self.login():
            self.api("GET", "/auth/me", required=("username", "role"))

    def _take_credential(self) -> Credential:
        runner, options = self.environment.runner, self.environment.parsed_options
        index = max(getattr(runner, "worker_index", 0) or 0, 0)  # spread accounts over workers (best effort)
        workers = getattr(runner, "worker_count", 0) or getattr(options, "expect_workers", 1)
        return pool().next(self.role_key, index, max(int(workers or 1), index + 1))

    def login(self) -> bool:
        """POST /auth/login; keep the bearer token and renew it before `expires_in` runs out."""
        if self.credential is None:
            return False
        kind = "login" if not self._auth else ("relogin_401" if self.last_status == 401 else "renew")
        started = time.monotonic()
        payload = {"username": self.credential.username, "password": self.credential.password.reveal()}
        path, fields = "/auth/login", _LOGIN_FIELDS
        body = self._request(
            "POST",
            path,
            path,
            payload,
            None,
            None,
            (200,),
            False,
            fields,
            use_auth=False,
            validate=check_login,
        )
        if body is None:
            self._auth, self._renew_at = {}, 0.0
            self.tallies.sessions["login_failed"] += 1
            return False
        ttl = float(body["expires_in"])
        add_token(body["access_token"])  # redacted wherever an error or log might echo it
        self._auth = {"Authorization": "Bearer " + body["access_token"]}
        # renew early: a JWT's exp has whole-second resolution, and the request itself takes time
        self._renew_at = started + ttl - min(max(1.0, ttl * 0.2), 30.0, ttl / 2)
        self.tallies.sessions[kind] += 1
        return True

    def api(
        self,
        method: str,
        path: str,
        *,
        name: str | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
        ok_conflict: bool = False,
        required: tuple[str, ...] = (),
        validate: Callable[[Any], str | None] | None = None,
    ) -> Any:
        """Send one checked request named by its path template; return the JSON body, or None (failure/409).

        `required` fields may be dotted ("work_order.status"); `validate(body)` returns a problem or None.
        """
        name = name or path
        if time.monotonic() >= self._renew_at and not self.login():
            return None
        body = self._request(
            method, path, name, json, params, headers, expect, ok_conflict, required, True, validate
        )
        if self.last_status == 401 and self.login():  # token rejected before its expiry: renew, retry once
            body = self._request(
                method, path, name, json, params, headers, expect, ok_conflict, required, True, validate
            )
        return body

    def _request(
        self,
        method: str,
        path: str,
        name: str,
        payload: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        expect: tuple[int, ...],
        ok_conflict: bool,
        required: tuple[str, ...],
        use_auth: bool = True,
        validate: Callable[[Any], str | None] | None = None,
    ) -> Any:
        hdrs = self._auth if use_auth else {}
        if headers:
            hdrs = {**hdrs, **headers}
        self.last_status = 0
        try:
            with self.client.request(
                method, path, name=name, json=payload, params=params, headers=hdrs, catch_response=True
            ) as resp:
                return self._check(resp, expect, ok_conflict, required, validate)
        except CONTROL:
            raise
        except Exception as e:  # Locust turns transport errors into failures; this is the last net
            self._suite_error(name, e)
            return None

    def _check(
        self,
        resp: ResponseContextManager,
        expect: tuple[int, ...],
        ok_conflict: bool,
        required: tuple[str, ...],
        validate: Callable[[Any], str | None] | None,
    ) -> Any:
        try:
            status = self.last_status = resp.status_code
            exc = resp.request_meta["exception"]
            if status == 0 or (exc is not None and not isinstance(exc, LocustBadStatusCode)):
                self.last_status = 0
                cause = getattr(exc, "original", None) or exc  # geventhttpclient wraps the socket error
                resp.failure(f"no valid response: {type(cause).__name__}: {scrub(str(cause))[:160]}")
                return None
            if status == 401:
                self._renew_at = 0.0  # whatever happens next, this token is spent
            if status not in expect:
                if status == 409 and ok_conflict:
                    meta = resp.request_meta
                    self.tallies.conflicts[f"{meta['request_type']} {meta['name']}"] += 1
                    resp.success()
                else:
                    expected = "/".join(map(str, expect))
                    resp.failure(f"HTTP {status} (expected {expected}): {self._evidence(resp)}")
                return None
            try:
                body = loads(resp.content)
            except (ValueError, TypeError):
                resp.failure(f"body is not JSON (HTTP {status}): {self._evidence(resp)}")
                return None
            if required:
                missing = [f for f in required if not has_field(body, f)]
                if missing:
                    resp.failure(f"missing {', '.join(missing)} (HTTP {status}): {self._evidence(resp)}")
                    return None
            problem = validate(body) if validate else None
            if problem:
                resp.failure(f"{problem} (HTTP {status}): {self._evidence(resp)}")
                return None
            resp.success()
            return body
        except CONTROL:
            raise
        except Exception as e:
            resp.failure(f"suite could not check the response: {type(e).__name__}: {e}")
            return None

    def _evidence(self, resp: ResponseContextManager, limit: int = 160) -> str:
        raw = resp.content or b""
        # Redact (known secrets in every encoding, JWT/Bearer shapes) before masking digits, then cut:
        # a secret cut in half by the limit would no longer match.
        text = scrub(raw[: limit + 4096].decode("utf-8", "replace"))[:limit]
        return (text or "<empty body>") + (" ...(truncated)" if len(raw) > limit else "")

    def rbac_probe(self) -> None:
        """Call an endpoint this role may not call: 403 is a success, a JSON 2xx a failure 'RBAC violation ...'."""
        if not self.rbac_probes or (time.monotonic() >= self._renew_at and not self.login()):
            return
        p = random.choice(self.rbac_probes)
        with self.client.request(
            p.method,
            p.path,
            name=p.name + PROBE_SUFFIX,
            json=p.json,
            params=p.params,
            headers=self._auth,
            catch_response=True,
        ) as resp:
            body = self._check(resp, (200, 201, 202, 403), False, (), None)  # a 2xx must parse to count
            if body is not None and self.last_status != 403:  # a real answer to a forbidden call
                self.tallies.violations[self.role_key] += 1
                resp.failure(
                    f"RBAC violation: role {self.role_key} got HTTP {self.last_status} "
                    f"for {p.method} {p.name} (expected 403)"
                )
            elif body is not None and not has_field(body, "error"):
                resp.failure(f"missing error (HTTP 403): {self._evidence(resp)}")

    def open_dashboard(self) -> Any:
        """GET /dashboard, the landing page of every role."""
        return self.api("GET", "/dashboard", required=("user", "role", "cards", "generated_at"))

    def adjust_stock(self, sku: str, delta: int, reason: str) -> Any:
        """POST /warehouse/stock/[sku]/adjust idempotently, booked in the stock ledger (see users.stock)."""
        return adjust_stock(self, sku, delta, reason)

    def _suite_error(self, where: str, exc: BaseException) -> None:
        self.tallies.sessions["task_errors"] += 1
        logger.debug("%s.%s raised %r", type(self).__name__, where, exc)
        self._fire_failure("TASK", f"{type(self).__name__}.{where}", exc)

    def _fire_failure(self, request_type: str, name: str, exc: BaseException) -> None:
        self.environment.events.request.fire(
            request_type=request_type,
            name=name,
            response_time=0,
            response_length=0,
            response=None,
            context=self._context,
            exception=exc,
            start_time=time.time(),
            url="",
        )


ErpUser.on_start = guard(ErpUser.on_start)  # type: ignore[method-assign]
