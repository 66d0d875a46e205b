"""ErpSession: Locust's FastHttpSession with a total deadline per request and a capped, streamed body.

FastHttpUser's `network_timeout` bounds each socket read, so a target sending one byte a second
never times out. Here connect + send + headers + body share one deadline (the request timeout,
ERPLOAD_REQUEST_TIMEOUT): past it the request is a failure with evidence
("no complete response within 10 s: 37 bytes received"). Bodies are read in 64 KiB blocks and
decompressed incrementally up to ERPLOAD_MAX_BODY (default 10 MiB): past it the connection is
closed and the request is a failure ("body exceeded 10 MiB cap after 10485760 bytes"), so an
endless chunked body cannot grow the generator's memory (erpload.users.bodycap). Every request is
registered in flight (`IN_FLIGHT`) until it completes; one cut off by a stopping user is reported
as a failure.

`ErpSession.request` is Locust's `FastHttpSession.request` rewritten as one pass (Locust 2.47):
the context merge, header copy and request_meta building no longer run twice, and ErpUser's
headers (which carry Accept-Encoding) are sent without a copy (docs/performance.md).
"""

from __future__ import annotations

import json as _std_json
from time import perf_counter
from typing import Any

import gevent
from gevent import get_hub, getcurrent
from geventhttpclient.client import HTTPClientPool
from locust.contrib.fasthttp import (
    FAILURE_EXCEPTIONS,
    ErrorResponse,
    FastHttpSession,
    LocustBadStatusCode,
    ResponseContextManager,
    _construct_basic_auth_str,
)

from erpload.users.bodycap import CURRENT, BodyTooLarge, TransportFailure, fmt_size, install_meter, read_body
from erpload.users.inflight import IN_FLIGHT, Meter
from erpload.users.opspec import encode_json
from erpload.users.settings import current
from erpload.users.useragent import CachedURLRequest, QuietCookieJar, install_liveness_check

__all__ = ["BodyTooLarge", "DeadlineExceeded", "ErpSession", "TransportFailure", "fmt_size", "session_for"]

HEADER_ALLOWANCE = 2**20  # status line, headers and read-ahead on top of the body cap
_ANY_STATUS = frozenset(range(100, 1000))
_NONE: frozenset[int] = frozenset()  # no redirect status: allow_redirects=False
_STOPPING = ("cleanup", "stopping", "stopped")  # locust.runners STATE_*: the test itself is stopping
ACCEPT_ENCODING, ENCODINGS = "Accept-Encoding", "gzip, deflate"


class DeadlineExceeded(TransportFailure):
    """No complete response (connect, headers and body) within the request timeout."""


class _DeadlineHit(BaseException):
    """Raised by the deadline timer; a BaseException so no library handler swallows or retries it."""


class ErpSession(FastHttpSession):
    """FastHttpSession whose every request has a total deadline, a body cap, and an in-flight entry."""

    def __init__(self, *args: Any, total_timeout: float, max_body: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cookiejar = self.client.cookiejar = QuietCookieJar()  # before any request: nothing to carry over
        self.client.request_type = CachedURLRequest
        self.total_timeout = total_timeout
        self.max_body = max_body
        self._limit = max_body + HEADER_ALLOWANCE
        self._owns_pool = kwargs.get("client_pool") is None  # never close a pool other users share
        # geventhttpclient reads an unexpected status's whole body, unbounded, for its debug log
        # (`_conversation_str`) before Locust sees it: accept every status there, check it here.
        self._valid_codes = self.client.valid_response_codes
        self.client.valid_response_codes = _ANY_STATUS
        install_meter()
        install_liveness_check()  # a pooled socket past fd 1024 is not "dead" (erpload.users.useragent)

    def request(  # type: ignore[override]
        self,
        method: str,
        url: str,
        name: str | None = None,
        data: Any = None,
        catch_response: bool = False,
        stream: bool = False,
        headers: Any = None,
        auth: tuple[str | bytes, str | bytes] | None = None,
        json: Any = None,
        allow_redirects: bool = True,
        context: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Locust's `FastHttpSession.request` in one pass, bounded: see the module docstring.

        What Locust's does, in its order (name, URL, context, auth header, Accept-Encoding, JSON
        body, redirects, response length and time, `raise_for_status` as the exception, the event
        fired now or by the context manager), plus the in-flight entry, the meter and the deadline.
        The headers are copied only when something must be added (ErpUser's carry Accept-Encoding).
        """
        name = name or self.request_name or url
        built_url = f"{self.base_url}{url}" if url[:1] == "/" else self._build_url(url)
        user = self.user
        ctx = user.context() if user else {}
        if context:
            ctx = {**ctx, **context}
        if not data and json is not None:
            data = encode_json(json) or _std_json.dumps(json)
        else:
            json = None
        if auth or self.auth_header or json is not None or not headers or ACCEPT_ENCODING not in headers:
            headers = self._complete_headers(headers, auth, json is not None)
        meter = IN_FLIGHT.start(method, name, built_url, ctx, self.request_event, self._limit)
        try:
            if allow_redirects:
                response = self._send(meter, stream, method, built_url, data, headers, kwargs)
            else:
                redirects, self.client.redirect_response_codes = self.client.redirect_response_codes, _NONE
                try:
                    response = self._send(meter, stream, method, built_url, data, headers, kwargs)
                finally:
                    self.client.redirect_response_codes = redirects
        except gevent.GreenletExit:  # the user was stopped mid-request: that request is a failure too
            runner = getattr(getattr(user, "environment", None), "runner", None)
            IN_FLIGHT.abandon(
                meter,
                "in flight at stop"
                if getattr(runner, "state", "") in _STOPPING
                else "in flight when its user stopped",
            )
            raise
        finally:
            IN_FLIGHT.finish(meter)
        exception = None
        if stream:  # the length from Content-Length, so the body is not fetched
            length = (
                int(response.headers["content-length"])
                if response.headers and "content-length" in response.headers
                else 0
            )
        else:
            try:
                content = response.content
                length = len(content) if content else 0
            except FAILURE_EXCEPTIONS as e:  # Locust reports it without raise_for_status
                length, exception = 0, e
        meta = {
            "request_type": method,
            "name": name,
            "context": ctx,
            "response": response,
            "exception": exception,
            "start_time": meter.start_wall,
            "url": built_url,  # like Locust: the requested URL, not a redirect's
            "response_length": length,
            "response_time": (perf_counter() - meter.started) * 1000,
        }
        if exception is None and getattr(response, "error", None) is not None:  # Locust's raise_for_status
            try:
                response.raise_for_status()
            except FAILURE_EXCEPTIONS as e:
                meta["exception"] = e
        if catch_response:
            return ResponseContextManager(response, self.request_event, meta, catch_response)
        self.request_event.fire(**meta)
        return response

    def _complete_headers(self, headers: Any, auth: Any, is_json: bool) -> dict[str, Any]:
        """A copy of `headers` with what Locust adds: Authorization, Accept-Encoding, JSON content types."""
        out = dict(headers) if headers else {}
        if auth:
            out["Authorization"] = _construct_basic_auth_str(auth[0], auth[1])
        elif self.auth_header:
            out["Authorization"] = self.auth_header
        if not any(k.lower() == "accept-encoding" for k in out):
            out[ACCEPT_ENCODING] = ENCODINGS  # no br: brotli cannot be decoded in bounded steps
        if is_json:
            if "Content-Type" not in out and "content-type" not in out:
                out["Content-Type"] = "application/json"
            if "Accept" not in out and "accept" not in out:
                out["Accept"] = "application/json"
        return out

    def _send(
        self,
        meter: Meter,
        stream: bool,
        method: str,
        url: str,
        payload: Any,
        headers: Any,
        kwargs: dict[str, Any],
    ) -> Any:
        """Send and read the response (body included unless `stream`) within the deadline; errors as ErrorResponse."""
        hit = _DeadlineHit()
        # the hub's timer watcher itself (what gevent.Timeout wraps, minus its Python-level set-up)
        timer = get_hub().loop.timer(max(meter.started + self.total_timeout - perf_counter(), 0.001))
        CURRENT.meter = meter
        timer.start(getcurrent().throw, hit, update=True)
        try:
            try:
                response = self.client.urlopen(url, method=method, headers=headers, payload=payload, **kwargs)
            except FAILURE_EXCEPTIONS as e:
                if not hasattr(e, "response"):
                    raise
                response, response.error = e.response, e  # an unexpected status: its body is still read
            if not stream:
                response._cached_content = read_body(response, self.max_body)
            status = response.status_code
            if status not in self._valid_codes:  # Locust's check, after our bounded read (see __init__)
                response.error = LocustBadStatusCode(response.url, code=status)
                response.error.response = response
            return response
        except _DeadlineHit as e:
            if e is not hit:
                raise
            error: Exception = DeadlineExceeded(
                f"no complete response within {self.total_timeout:g} s: {meter.received} bytes received"
            )
            self._drop_connections()  # a request cut mid-send leaves its socket checked out of the pool
        except FAILURE_EXCEPTIONS as e:
            error = e
        finally:
            timer.stop()
            timer.close()
            CURRENT.meter = None
        request = self.client._make_request(
            url, method=method, headers=headers, payload=payload, params=kwargs.get("params")
        )
        return ErrorResponse(request, error)

    def _drop_connections(self) -> None:
        if not self._owns_pool:
            return
        old = self.client.clientpool
        self.client.clientpool = HTTPClientPool(**old.client_args)
        old.close()


def session_for(user: Any, total_timeout: float | None = None, max_body: int | None = None) -> ErpSession:
    """The ErpSession for a FastHttpUser, configured like FastHttpUser.__init__ configures its client."""
    timeout = total_timeout or float(getattr(user, "network_timeout", None) or 10.0)
    return ErpSession(
        base_url=user.host,
        request_event=user.environment.events.request,
        network_timeout=user.network_timeout,
        connection_timeout=user.connection_timeout,
        max_redirects=user.max_redirects,
        max_retries=user.max_retries,
        insecure=user.insecure,
        concurrency=user.concurrency,
        user=user,
        client_pool=user.client_pool,
        ssl_context_factory=user.ssl_context_factory,
        headers=user.default_headers,
        proxy_host=user.proxy_host,
        proxy_port=user.proxy_port,
        total_timeout=timeout,
        max_body=max_body or current().max_body,
    )
