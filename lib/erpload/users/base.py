"""ErpUser: the role users' base on FastHttpUser (login, token renewal, operations by name, checked answers).

A role user names *what* it does (`self.call("claim_work_order", path={"id": wo})`, canonical field
names); the user's API map (erpload.users.api) says *how this ERP* does it: path, base path, field
renames, list envelope, login and auth header. Stats names are the operations' (the reference path
templates), so SLA rules read the same on every ERP.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from locust import FastHttpUser, between

from erpload.api import ApiMap
from erpload.api.model import get_path, stats_name
from erpload.core.errors import ConfigError
from erpload.core.redact import add_token
from erpload.core.tallies import tallies_for
from erpload.users.answers import Shape, check_answer, evidence
from erpload.users.api import api_for
from erpload.users.checks import PROBE_SUFFIX, Probe, guard
from erpload.users.credentials import Credential, pool
from erpload.users.opspec import MISFIT, encode_json, spec_of, specs_for
from erpload.users.pacing import CONTROL, paced, start_paced
from erpload.users.settings import current
from erpload.users.stock import ADJUST_NAME, adjust_stock
from erpload.users.transport import ACCEPT_ENCODING, ENCODINGS, session_for

logger = logging.getLogger(__name__)
_PLAIN = {ACCEPT_ENCODING: ENCODINGS}  # headers of an unauthenticated request
# what Locust adds to a json= request
_JSON = {"Content-Type": "application/json", "Accept": "application/json"}
_PLAIN_JSON = {**_PLAIN, **_JSON}

__all__ = ["ADJUST_NAME", "PROBE_SUFFIX", "ErpUser", "Probe"]


class ErpUser(FastHttpUser):
    """Abstract role user: logs in with a pooled account, renews its token, calls checked operations by name.

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
        self.api_map: ApiMap = api_for(environment)  # how this ERP speaks (built once per process)
        self.credential: Credential | None = None
        self.username = ""
        self.last_status = 0  # status of the last answer (0: no valid response)
        self.token = ""  # the current session token ("" before login); redacted wherever echoed
        self._auth: dict[str, str] = {}  # the auth header(s) carrying it
        self._headers, self._json_headers, self._headers_of = _PLAIN, _PLAIN_JSON, self._auth  # _auth_headers
        self._specs_map, self._specs = self.api_map, specs_for(self.api_map)  # see `call`
        self._renew_at = 0.0
        self._context = {"role": type(self).__name__}  # per-role stats key (erpload.locust.exchange)

    def context(self) -> dict[str, Any]:
        """Request-event context of every request this user sends: its role (user class name)."""
        return self._context

    def on_start(self) -> None:
        """Take the next account of this role, log in, and load the profile (operation `me`)."""
        start_paced(self)  # a role paced per operation (`rates:`) starts on a token, not a random task
        try:
            self.credential = self._take_credential()
        except ConfigError as e:  # counted once per user; logged once per role
            if self.role_key not in self.tallies.unavailable:
                self.tallies.unavailable.add(self.role_key)
                logger.error("%s cannot log in: %s", type(self).__name__, e)
            self._fire_failure("LOGIN", self.api_map.login.name, e)
            return
        self.username = self.credential.username
        if self.login():
            self.call("me", required=("username", "role"))

    def _take_credential(self) -> Credential:
        runner, options = self.environment.runner, self.environment.parsed_options
        index = max(getattr(runner, "worker_index", 0) or 0, 0)  # spread accounts over workers (best effort)
        workers = getattr(runner, "worker_count", 0) or getattr(options, "expect_workers", 1)
        key = self.api_map.pool_key(self.role_key)
        return pool().next(key, index, max(int(workers or 1), index + 1))

    def login(self) -> bool:
        """Log in as the map says (path, JSON or form, token and lifetime); renew before the lifetime ends."""
        if self.credential is None:
            return False
        kind = "login" if not self._auth else ("relogin_401" if self.last_status == 401 else "renew")
        started = time.monotonic()
        spec = self.api_map.login
        got = None
        if kind == "renew" and spec.renew == "refresh" and spec.refresh_path:
            got = self._send_login(spec.refresh_path, stats_name(spec.refresh_path), None)
        if got is None:
            payload = self.api_map.login_payload(self.credential.username, self.credential.password.reveal())
            got = self._send_login(spec.path, spec.name, payload)
        if got is None:
            self.token, self._auth, self._renew_at = "", {}, 0.0
            self.tallies.sessions["login_failed"] += 1
            return False
        self.token, ttl = got
        self._auth = self.api_map.auth_headers(self.token)
        # renew early: a JWT's exp has whole-second resolution, and the request itself takes time
        self._renew_at = started + ttl - min(max(1.0, ttl * 0.2), 30.0, ttl / 2)
        self.tallies.sessions[kind] += 1
        return True

    def _send_login(self, path: str, name: str, payload: dict[str, str] | None) -> tuple[str, float] | None:
        """One login (payload) or refresh (None: the current token authenticates it); (token, ttl) or None."""
        spec = self.api_map.login
        form = spec.encoding == "form"
        url = self.api_map.base_path + path
        json, data = (None, payload) if form else (payload, None)
        return self._request(spec.method, url, name, json, data, payload is None, self._read_login)

    def _read_login(self, body: Any) -> tuple[Any, str | None]:
        where = self.api_map.login.token
        found, token = get_path(body, where)
        if not found:
            return None, f"missing {where} (the API map's login.token)"
        if isinstance(token, str):
            add_token(token)  # redacted before any evidence of this answer is written
        got = self.api_map.read_login(body)
        return (None, f"{MISFIT}{got}") if isinstance(got, str) else (got, None)

    def call(
        self,
        operation: str,
        *,
        path: Mapping[str, Any] | None = None,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200,),
        ok_conflict: bool = False,
        required: tuple[str, ...] = (),
        validate: Callable[[Any], str | None] | None = None,
    ) -> Any:
        """Call `operation` with canonical fields; the canonical answer, or None (failure, or a 409 allowed).

        `path`: the path template's parameters; `required` fields may be dotted ("work_order.status")
        and, like `validate(body)` (a problem or None), see the answer after the map translated it.
        The request is sent from here (one frame per request: this runs for every request of a run).
        """
        amap = self.api_map
        spec = self._specs.get(operation) if self._specs_map is amap else None
        if spec is None:
            self._specs_map, self._specs = amap, specs_for(amap)
            spec = spec_of(amap, operation)
        url = spec.url or spec.render(path)
        data = None
        if json is not None:
            if spec.renames_json:
                json = amap.request_json(spec.op, json)
            if (data := encode_json(json)) is not None:
                json = None  # encoded here (orjson), sent as Locust sends json=
        query = spec.query(params) if params is not None else None  # the same bytes as params=dict
        if time.monotonic() >= self._renew_at and not self.login():
            return None
        retried = False
        while True:
            if self._headers_of is not self._auth:
                self._auth_headers()
            hdrs = self._headers if data is None else self._json_headers
            if headers:
                hdrs = {**hdrs, **headers}
            self.last_status = 0
            try:
                with self.client.request(
                    spec.method, url, name=spec.stats_name, json=json, data=data, params=query, headers=hdrs,
                    catch_response=True,
                ) as resp:  # fmt: skip
                    body = check_answer(self, resp, expect, ok_conflict, required, validate, spec.shape)
            except CONTROL:
                raise
            except Exception as e:  # Locust turns transport errors into failures; this is the last net
                self._suite_error(spec.stats_name, e)
                body = None
            if retried or self.last_status != 401 or not self.login():
                return body
            retried = True  # token rejected before its expiry: renewed, retry once

    def _request(
        self, method: str, url: str, name: str, json: Any, data: Any, use_auth: bool, shape: Shape
    ) -> Any:
        """A login or refresh request (`call` sends the operations), checked like any answer."""
        hdrs = self._auth_headers() if use_auth else _PLAIN
        if json is not None and (data := encode_json(json)) is not None:
            json, hdrs = None, {**hdrs, **_JSON}  # encoded here (orjson), sent as Locust sends json=
        self.last_status = 0
        try:
            with self.client.request(
                method, url, name=name, json=json, data=data, headers=hdrs, catch_response=True
            ) as resp:
                return check_answer(self, resp, (200,), False, (), None, shape)
        except CONTROL:
            raise
        except Exception as e:  # Locust turns transport errors into failures; this is the last net
            self._suite_error(name, e)
            return None

    def _auth_headers(self) -> dict[str, str]:
        """`_auth` plus Accept-Encoding, rebuilt only when `_auth` was replaced (login, or anyone else)."""
        if self._headers_of is not self._auth:
            self._headers = {**self._auth, ACCEPT_ENCODING: ENCODINGS}
            self._json_headers = {**self._headers, **_JSON}  # ... and what Locust adds to a json= request
            self._headers_of = self._auth
        return self._headers

    def rbac_probe(self) -> None:
        """Call an operation this role may not call: 403 is a success, a JSON 2xx a failure 'RBAC violation ...'."""
        if not self.rbac_probes or (time.monotonic() >= self._renew_at and not self.login()):
            return
        p = random.choice(self.rbac_probes)
        amap = self.api_map
        spec = spec_of(amap, p.operation)
        op = spec.op
        with self.client.request(
            op.method,
            spec.render(p.path_params),
            name=op.stats_name + PROBE_SUFFIX,
            json=amap.request_json(op, p.json) if p.json is not None else None,
            params=spec.query(p.params),
            headers=self._auth_headers(),
            catch_response=True,
        ) as resp:
            body = check_answer(self, resp, (200, 201, 202, 403), False, (), None, None)  # a 2xx must parse
            if body is not None and self.last_status != 403:  # a real answer to a forbidden call
                self.tallies.violations[self.role_key] += 1
                resp.failure(
                    f"RBAC violation: role {self.role_key} got HTTP {self.last_status} "
                    f"for {op.method} {op.stats_name} (expected 403)"
                )
            elif body is not None and amap.error_code(body) is None:
                resp.failure(f"missing {amap.errors.code} (HTTP 403): {evidence(resp)}")

    def open_dashboard(self) -> Any:
        """The dashboard, the landing page of every role."""
        return self.call("dashboard", required=("user", "role", "cards", "generated_at"))

    def adjust_stock(self, sku: str, delta: int, reason: str) -> Any:
        """Adjust a stock item idempotently, booked in the stock ledger (see users.stock)."""
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
