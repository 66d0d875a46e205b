"""The response bytes a request may hold: every byte the parser is fed metered, the body read capped.

A `Meter` (erpload.users.inflight) set for the greenlet that is sending (`CURRENT.meter`) counts
every byte geventhttpclient's parser is fed, headers included, and stops the read past its limit
(`install_meter`, once per process). `read_body` reads a body in 64 KiB blocks, decompressing
gzip/deflate incrementally, and stops past the cap: an endless chunked body, or a small one that
inflates to gigabytes, becomes a failure ("body exceeded 10 MiB cap after ... bytes") instead of
the generator's memory. Used by erpload.users.transport (ErpSession).
"""

from __future__ import annotations

import zlib
from typing import Any

import gevent.local
from geventhttpclient.response import HTTPResponse
from geventhttpclient.useragent import ConnectionError as GhcConnectionError

__all__ = ["BLOCK", "CURRENT", "BodyTooLarge", "TransportFailure", "fmt_size", "install_meter", "read_body"]

BLOCK = 64 * 2**10
CURRENT = gevent.local.local()  # .meter: the Meter of the request this greenlet is sending


class TransportFailure(GhcConnectionError):
    """A request that produced no usable response; a Locust FAILURE_EXCEPTION, so it becomes a failure."""

    def __init__(self, message: str) -> None:
        super().__init__(None, message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class BodyTooLarge(TransportFailure):
    """The response (or its decompressed body) exceeded the size cap."""


def fmt_size(n: int) -> str:
    """10485760 -> '10 MiB', 1536 -> '1.5 KiB', 999 -> '999 B'."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:.4g} {unit}"
    return f"{n} B"


def install_meter() -> None:
    """Count (and cap) every byte geventhttpclient's parser is fed, headers included (installed once)."""
    original = HTTPResponse.feed
    if getattr(original, "_erpload_metered", False):
        return

    def feed(self: HTTPResponse, data: Any) -> None:
        meter = getattr(CURRENT, "meter", None)
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


def read_body(response: Any, cap: int) -> bytes | None:
    """The whole body of `response`, read in blocks and decompressed incrementally, at most `cap` bytes."""
    if response.headers is None:
        return None
    raw = response._response
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
