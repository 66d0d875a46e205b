"""ErpUser: the role users' base on FastHttpUser (login, token renewal, template names, checked responses)."""

from __future__ import annotations

import functools
import importlib
import logging
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Mapping
from json import loads
from typing import Any, NamedTuple
from urllib.parse import quote

from locust import FastHttpUser, between
from locust.contrib.fasthttp import LocustBadStatusCode, ResponseContextManager
from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopTest, StopUser

from erpload.core.errors import ConfigError, Problem
from erpload.users.credentials import Credential, pool

logger = logging.getLogger(__name__)
_CONTROL = (StopUser, StopTest, InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately)
_DIGITS = re.compile(
    r"\d+"
)  # ids/quantities in evidence vary: collapse them so Locust's error table stays bounded
PROBE_SUFFIX = (
    " [rbac-probe]"  # probes get their own stats rows: their fast 403s must not dilute an endpoint's SLA
)
ADJUST_NAME = "/warehouse/stock/[sku]/adjust"
_LOGIN_FIELDS = ("access_token", "expires_in")


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigError(
            f"${name}", [Problem(name, f"must be a number of seconds > 0 (got {raw!r})", "e.g. 10")]
        )
    return value


def parse_think_time(spec: str) -> tuple[float, float]:
    """'0.1,0.5' -> (0.1, 0.5); '2' -> (2, 2); raise ConfigError with the fix otherwise."""
    try:
        parts = [float(p) for p in spec.split(",")]
        if len(parts) == 1:
            parts *= 2
        lo, hi = parts
        if 0 <= lo <= hi:
            return lo, hi
    except ValueError:
        pass
    raise ConfigError(
        "$ERPLOAD_THINK_TIME",
        [
            Problem(
                "ERPLOAD_THINK_TIME",
                f"got {spec!r}",
                "Use 'MIN,MAX' seconds with 0 <= MIN <= MAX, e.g. '0.1,0.5'",
            )
        ],
    )


REQUEST_TIMEOUT = _env_seconds("ERPLOAD_REQUEST_TIMEOUT", 10.0)
THINK_TIME: tuple[float, float] | None = (
    parse_think_time(os.environ["ERPLOAD_THINK_TIME"])
    if os.environ.get("ERPLOAD_THINK_TIME", "").strip()
    else None
)


def set_think_time(spec: str | tuple[float, float] | None) -> None:
    """Override every role's think time (like $ERPLOAD_THINK_TIME), or None to use each class's own."""
    global THINK_TIME
    THINK_TIME = parse_think_time(spec) if isinstance(spec, str) else spec


# -- per-process tallies live in erpload.core.tallies (pure); re-exported here so existing imports keep working --
from erpload.core.tallies import (  # noqa: E402
    _conflicts,
    _sessions,
    _unavailable,
    _violations,
    begin_adjust,
    conflicts,
    end_adjust,
    rbac_violations,
    record_stock,
    reset_tallies,
    session_counts,
    stock_ledger,
)

__all__ = [
    "ErpUser",
    "Probe",
    "conflicts",
    "parse_think_time",
    "rbac_violations",
    "record_stock",
    "reset_tallies",
    "session_counts",
    "set_think_time",
    "stock_ledger",
]


class Probe(NamedTuple):
    """An endpoint the role may not call: 403 is the expected answer."""

    method: str
    path: str
    name: str
    params: Mapping[str, Any] | None = None
    json: Any = None


# -- open-model hook: erpload.locust.arrival.wait_for_token(user) blocks for a token while the open model is active,
# and returns False at once otherwise (then the think time applies) --------------------------------------------
_UNSET: Any = object()
_token_wait: Any = _UNSET


def _arrival_hook() -> Callable[[Any], bool] | None:
    """erpload.locust.arrival.wait_for_token if that module imports and has it (resolved once), else None."""
    global _token_wait
    if _token_wait is _UNSET:
        _token_wait = None
        try:
            _token_wait = importlib.import_module("erpload.locust.arrival").wait_for_token
        except ModuleNotFoundError as e:
            if e.name != "erpload.locust.arrival":
                logger.error("erpload.locust.arrival cannot be imported (%r): open-model waits disabled", e)
        except Exception as e:
            logger.error("erpload.locust.arrival unusable (%r): open-model waits disabled", e)
    return _token_wait


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a task so an unexpected exception becomes a counted failure, never a traceback or a dead user."""
    if getattr(fn, "_erp_guarded", False) or isinstance(fn, type):
        return fn

    @functools.wraps(fn)
    def guarded(user: ErpUser, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(user, *args, **kwargs)
        except _CONTROL:
            raise
        except Exception as e:
            user._suite_error(fn.__name__, e)
            return None

    guarded._erp_guarded = True  # type: ignore[attr-defined]
    return guarded


class ErpUser(FastHttpUser):
    """Abstract role user: logs in with a pooled account, renews its token, sends checked, template-named requests.

    Subclasses set `role_key`, `wait_time = between(...)` (kept as `think_time`, see `wait_time()`),
    `rbac_probes`, and `@task`s; every task, `on_start` and `on_stop` is guarded (see `_guard`).
    """

    abstract = True
    role_key: str = ""
    network_timeout = REQUEST_TIMEOUT
    connection_timeout = REQUEST_TIMEOUT
    insecure = os.environ.get("ERPLOAD_INSECURE_TLS", "").strip().lower() in ("1", "true", "yes")
    think_time: Callable[..., float] = between(3, 10)
    rbac_probes: tuple[Probe, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own_wait = cls.__dict__.get("wait_time")
        if own_wait is not None and own_wait is not ErpUser.__dict__["wait_time"]:
            cls.think_time = own_wait  # the base's wait_time() stays the one entry point (arrival hook)
            delattr(cls, "wait_time")
        cls.tasks = [_guard(t) for t in cls.tasks]
        for hook in ("on_start", "on_stop"):
            if hook in cls.__dict__:
                setattr(cls, hook, _guard(cls.__dict__[hook]))

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.credential: Credential | None = None
        self.username = ""
        self.last_status = 0  # status of the last api() answer (0: no valid response)
        self._auth: dict[str, str] = {}
        self._renew_at = 0.0
        self._context = {"role": type(self).__name__}  # per-role stats key (erpload.locust.exchange)

    def context(self) -> dict[str, Any]:
        """Request-event context of every request this user sends: its role (user class name)."""
        return self._context

    def wait_time(self) -> float:  # type: ignore[override]
        """Seconds before the next task: 0 after an open-model token (erpload.locust.arrival), else think time.

        Locust's loop calls `TaskSet.wait()` -> `user.wait_time()` (never `User.wait()`), so this is the hook.
        """
        token_wait = _token_wait if _token_wait is not _UNSET else _arrival_hook()
        if token_wait is not None:
            try:
                if token_wait(self):
                    return 0.0
            except _CONTROL:
                raise
            except Exception as e:
                self._suite_error("wait_for_token", e)
        if THINK_TIME is not None:
            return THINK_TIME[0] + random.random() * (THINK_TIME[1] - THINK_TIME[0])
        return self.think_time()

    def on_start(self) -> None:
        """Take the next account of this role, log in, and load the profile (GET /auth/me)."""
        try:
            self.credential = self._take_credential()
        except ConfigError as e:  # counted once per user; logged once per role
            if self.role_key not in _unavailable:
                _unavailable.add(self.role_key)
                logger.error("%s cannot log in: %s", type(self).__name__, e)
            self._fire_failure("LOGIN", "/auth/login", e)
            return
        self.username = self.credential.username
        if self.login():
            self.api("GET", "/auth/me", required=("username", "role"))

    def _take_credential(self) -> Credential:
        runner = self.environment.runner
        index = getattr(runner, "worker_index", 0) or 0  # spread accounts over workers (best effort)
        workers = getattr(runner, "worker_count", 0) or getattr(
            self.environment.parsed_options, "expect_workers", 1
        )
        index = max(index, 0)
        return pool().next(self.role_key, index, max(int(workers or 1), index + 1))

    def login(self) -> bool:
        """POST /auth/login; keep the bearer token and renew it before `expires_in` runs out."""
        if self.credential is None:
            return False
        kind = "login" if not self._auth else ("relogin_401" if self.last_status == 401 else "renew")
        started = time.monotonic()
        payload = {"username": self.credential.username, "password": self.credential.password.reveal()}
        body = self._request(
            "POST",
            "/auth/login",
            "/auth/login",
            payload,
            None,
            None,
            (200,),
            False,
            _LOGIN_FIELDS,
            use_auth=False,
            validate=_check_login,
        )
        if body is None:
            self._auth, self._renew_at = {}, 0.0
            _sessions["login_failed"] += 1
            return False
        ttl = float(body["expires_in"])
        self._auth = {"Authorization": "Bearer " + body["access_token"]}
        # renew early: a JWT's exp has whole-second resolution, and the request itself takes time
        self._renew_at = started + ttl - min(max(1.0, ttl * 0.2), 30.0, ttl / 2)
        _sessions[kind] += 1
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
        except _CONTROL:
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
                resp.failure(
                    f"no valid response: {type(cause).__name__}: {_DIGITS.sub('#', str(cause))[:160]}"
                )
                return None
            if status == 401:
                self._renew_at = 0.0  # whatever happens next, this token is spent
            if status not in expect:
                if status == 409 and ok_conflict:
                    _conflicts[f"{resp.request_meta['request_type']} {resp.request_meta['name']}"] += 1
                    resp.success()
                else:
                    resp.failure(
                        f"HTTP {status} (expected {'/'.join(map(str, expect))}): {self._evidence(resp)}"
                    )
                return None
            try:
                body = loads(resp.content)
            except (ValueError, TypeError):
                resp.failure(f"body is not JSON (HTTP {status}): {self._evidence(resp)}")
                return None
            if required:
                missing = [f for f in required if not _has(body, f)]
                if missing:
                    resp.failure(f"missing {', '.join(missing)} (HTTP {status}): {self._evidence(resp)}")
                    return None
            problem = validate(body) if validate else None
            if problem:
                resp.failure(f"{problem} (HTTP {status}): {self._evidence(resp)}")
                return None
            resp.success()
            return body
        except _CONTROL:
            raise
        except Exception as e:
            resp.failure(f"suite could not check the response: {type(e).__name__}: {e}")
            return None

    def _evidence(self, resp: ResponseContextManager, limit: int = 160) -> str:
        raw = resp.content or b""
        text = raw[:limit].decode("utf-8", "replace")
        if self.credential is not None:  # a broken target might echo the login body: never show the password
            text = text.replace(self.credential.password.reveal(), "********")
        return (_DIGITS.sub("#", text) or "<empty body>") + (" ...(truncated)" if len(raw) > limit else "")

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
                _violations[self.role_key] += 1
                resp.failure(
                    f"RBAC violation: role {self.role_key} got HTTP {self.last_status} "
                    f"for {p.method} {p.name} (expected 403)"
                )
            elif body is not None and not _has(body, "error"):
                resp.failure(f"missing error (HTTP 403): {self._evidence(resp)}")

    def open_dashboard(self) -> Any:
        """GET /dashboard, the landing page of every role."""
        return self.api("GET", "/dashboard", required=("user", "role", "cards", "generated_at"))

    def adjust_stock(self, sku: str, delta: int, reason: str) -> Any:
        """POST /warehouse/stock/[sku]/adjust with an Idempotency-Key; retry once with the same key when unsure."""
        key = uuid.uuid4().hex
        headers = {"Idempotency-Key": key}
        path = f"/warehouse/stock/{quote(sku, safe='')}/adjust"
        begin_adjust(
            sku, key, delta
        )  # pending until the target answers definitely (erpload.locust.correctness)
        for _ in range(2):
            body = self.api(
                "POST",
                path,
                name=ADJUST_NAME,
                json={"delta": delta, "reason": reason},
                headers=headers,
                required=("sku", "quantity", "delta", "replayed"),
            )
            if body is not None:
                end_adjust(sku, key)
                record_stock(
                    sku, delta=delta
                )  # once per key: the retry only runs when the first was unconfirmed
                return body
            if 400 <= self.last_status < 500:  # a definite refusal: nothing was applied
                end_adjust(sku, key)
                return None
        return None  # no answer twice: stays pending (it may have applied)

    def _suite_error(self, where: str, exc: BaseException) -> None:
        _sessions["task_errors"] += 1
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


ErpUser.on_start = _guard(ErpUser.on_start)  # type: ignore[method-assign]


def item_ids(body: Any) -> list[Any]:
    """The `id` of every object in a list response's `items` (the list was already validated)."""
    return [item["id"] for item in body["items"] if isinstance(item, dict) and "id" in item]


def pop_random(ids: list[Any]) -> Any:
    """Take one id at random out of `ids` (so two tasks of one user never pick the same one)."""
    return ids.pop(random.randrange(len(ids)))


def _has(body: Any, field: str) -> bool:
    """Whether `body` has `field` (dotted path into nested objects, e.g. 'work_order.status')."""
    for part in field.split("."):
        if not isinstance(body, dict) or part not in body:
            return False
        body = body[part]
    return True


def _check_login(body: Any) -> str | None:
    token, ttl = body.get("access_token"), body.get("expires_in")
    if not isinstance(token, str) or not token:
        return "access_token is not a non-empty string"
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
        return f"expires_in is not a positive number of seconds (got {type(ttl).__name__})"
    return None
