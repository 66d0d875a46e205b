"""ErpSession: Locust's FastHttpSession with a total deadline per request and a capped, streamed body.

FastHttpUser's `network_timeout` bounds each socket read, so a target sending one byte a second
never times out. Here connect + send + headers + body share one deadline (the request timeout,
ERPLOAD_REQUEST_TIMEOUT): past it the request is a failure with evidence
("no complete response within 10 s: 37 bytes received"). Bodies are read in 64 KiB blocks and
decompressed incrementally up to ERPLOAD_MAX_BODY (default 10 MiB): past it the connection is
closed and the request is a failure ("body exceeded 10 MiB cap after 10485760 bytes"), so an
endless chunked body cannot grow the generator's memory. Every request is registered in flight
(`IN_FLIGHT`) until it completes; one cut off by a stopping user is reported as a failure.
"""

from __future__ import annotations

import time
import zlib
from typing import Any

import gevent
import gevent.local
from gevent import get_hub, getcurrent
from geventhttpclient.client import HTTPClientPool
from geventhttpclient.response import HTTPResponse
from geventhttpclient.useragent import ConnectionError as GhcConnectionError
from locust.contrib.fasthttp import FAILURE_EXCEPTIONS, ErrorResponse, FastHttpSession, LocustBadStatusCode

from erpload.users.inflight import IN_FLIGHT, Meter
from erpload.users.settings import current

__all__ = ["BodyTooLarge", "DeadlineExceeded", "ErpSession", "session_for"]

BLOCK = 64 * 2**10
HEADER_ALLOWANCE = 2**20  # status line, headers and read-ahead on top of the body cap
_ANY_STATUS = frozenset(range(100, 1000))
_STOPPING = ("cleanup", "stopping", "stopped")  # locust.runners STATE_*: the test itself is stopping
_current = gevent.local.local()  # the Meter of the request this greenlet is sending
ACCEPT_ENCODING, ENCODINGS = "Accept-Encoding", "gzip, deflate"


class TransportFailure(GhcConnectionError):
    """A request that produced no usable response; a Locust FAILURE_EXCEPTION, so it becomes a failure."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class DeadlineExceeded(TransportFailure):
    """No complete response (connect, headers and body) within the request timeout."""


class BodyTooLarge(TransportFailure):
    """The response (or its decompressed body) exceeded the size cap."""


class _DeadlineHit(BaseException):
    """Raised by the deadline timer; a BaseException so no library handler swallows or retries it."""


def fmt_size(n: int) -> str:
    """10485760 -> '10 MiB', 1536 -> '1.5 KiB', 999 -> '999 B'."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n} B"


def _metered_feed() -> None:
    """Count (and cap) every byte geventhttpclient's parser is fed, headers included (installed once)."""
    original = HTTPResponse.feed
    if getattr(original, "_erpload_metered", False):
        return

    def feed(self: HTTPResponse, data: Any) -> None:
        meter = getattr(_current, "meter", None)
        if meter is not None:
            meter.received += len(data)
            if meter.received > meter.limit:
                raise BodyTooLarge(
                    f"response exceeded {fmt_size(meter.limit)} (body cap plus headers) "
                    f"after {meter.received} bytes"
                )
        original(self, data)

    feed._erpload_metered = True  # type: ignore[attr-defined]
    HTTPResponse.feed = feed  # type: ignore[method-assign]


class ErpSession(FastHttpSession):
    """FastHttpSession whose every request has a total deadline, a body cap, and an in-flight entry."""

    def __init__(self, *args: Any, total_timeout: float, max_body: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.total_timeout = total_timeout
        self.max_body = max_body
        self._meter: Meter | None = None
        self._stream = False
        self._owns_pool = kwargs.get("client_pool") is None  # never close a pool other users share
        # geventhttpclient reads an unexpected status's whole body, unbounded, for its debug log
        # (`_conversation_str`) before Locust sees it: accept every status there, check it here.
        self._valid_codes = self.client.valid_response_codes
        self.client.valid_response_codes = _ANY_STATUS
        _metered_feed()

    def request(self, method: str, url: str, name: str | None = None, **kwargs: Any) -> Any:  # type: ignore[override]
        """Locust's request, bounded: see the module docstring."""
        headers = kwargs.pop("headers", None)
        if headers is None or ACCEPT_ENCODING not in headers:  # ErpUser's headers carry it already
            headers = dict(headers or {})
            if not any(k.lower() == "accept-encoding" for k in headers):
                headers[ACCEPT_ENCODING] = ENCODINGS  # no br: brotli cannot be decoded in bounded steps
        own = kwargs.get("context")
        context = self.user.context() if self.user else {}
        if own:
            context = {**context, **own}
        meter = Meter(self.max_body + HEADER_ALLOWANCE)
        token = IN_FLIGHT.start(
            method, name or self.request_name or url, url, context, self.request_event, meter
        )
        self._meter, self._stream = meter, bool(kwargs.get("stream"))
        try:
            response = super().request(method, url, name=name, headers=headers, **kwargs)
        except gevent.GreenletExit:  # the user was stopped mid-request: that request is a failure too
            state = getattr(
                getattr(self.user, "environment", None) and self.user.environment.runner, "state", ""
            )
            IN_FLIGHT.abandon(
                token, "in flight at stop" if state in _STOPPING else "in flight when its user stopped"
            )
            raise
        except BaseException:
            IN_FLIGHT.finish(token)
            raise
        IN_FLIGHT.finish(token)
        return response

    def _send_request_safe_mode(self, method: str, url: str, **kwargs: Any) -> Any:
        meter = self._meter or Meter(self.max_body + HEADER_ALLOWANCE)
        hit = _DeadlineHit()
        # the hub's timer watcher itself (what gevent.Timeout wraps, minus its Python-level set-up)
        timer = get_hub().loop.timer(max(meter.started + self.total_timeout - time.monotonic(), 0.001))
        _current.meter = meter
        timer.start(getcurrent().throw, hit, update=True)
        try:
            try:
                response = self.client.urlopen(url, method=method, **kwargs)
            except FAILURE_EXCEPTIONS as e:
                if not hasattr(e, "response"):
                    raise
                response, response.error = e.response, e  # an unexpected status: its body is still read
            if not self._stream:
                response._cached_content = self._read_body(response)
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
            _current.meter = None
        request = self.client._make_request(
            url,
            method=method,
            headers=kwargs.get("headers"),
            payload=kwargs.get("payload"),
            params=kwargs.get("params"),
        )
        return ErrorResponse(request, error)

    def _read_body(self, response: Any) -> bytes | None:
        """The whole body, read in blocks and decompressed incrementally, at most `max_body` bytes."""
        if response.headers is None:
            return None
        raw, cap = response._response, self.max_body
        encoding = (response.headers.get("content-encoding") or "identity").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            decoder: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            decoder = _Deflate()
        elif encoding == "identity":
            decoder = None
        else:
            raw.release()
            raise TransportFailure(f"unsupported content-encoding {encoding!r} (sent: gzip, deflate)")
        body, wire = bytearray(), 0
        try:
            declared = response.headers.get("content-length") if decoder is None else None
            if declared is not None and declared.isdigit() and int(declared) <= cap:
                return bytes(raw.read())  # a declared length within the cap bounds the read (one call)
            while chunk := raw.read(BLOCK):
                wire += len(chunk)
                out = decoder.decompress(chunk, cap + 1 - len(body)) if decoder else chunk
                if wire > cap or len(body) + len(out) > cap or (decoder and decoder.unconsumed_tail):
                    what = "body" if wire > cap else "decompressed body"
                    raise BodyTooLarge(f"{what} exceeded {fmt_size(cap)} cap after {wire} bytes received")
                body += out
        except zlib.error as e:
            raise TransportFailure(f"{encoding} body could not be decoded: {e}") from None
        finally:
            raw.release()  # complete: back to the pool; cut short: closed (should_close)
        return bytes(body)

    def _drop_connections(self) -> None:
        if not self._owns_pool:
            return
        old = self.client.clientpool
        self.client.clientpool = HTTPClientPool(**old.client_args)
        old.close()


class _Deflate:
    """HTTP 'deflate' is zlib-wrapped by the RFC, raw deflate in practice: accept both."""

    def __init__(self) -> None:
        self._d: Any = None
        self.unconsumed_tail = b""

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._d is None:
            self._d = zlib.decompressobj(zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS)
        out = self._d.decompress(data, max_length)
        self.unconsumed_tail = self._d.unconsumed_tail
        return out


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
