"""The parts of geventhttpclient's UserAgent that ErpSession replaces, each doing the same with less work.

- `QuietCookieJar`: the stdlib CookieJar, minus the lock, clock and URL parsing of a call that
  would do nothing (no cookie to send, no Set-Cookie to read).
- `CachedURLRequest` / `ParsedURL`: a request URL given as a string is parsed once per string,
  with the parts every request reads (host, port, request_uri, quoted_uri) computed once.
- `install_liveness_check`: geventhttpclient checks a pooled keep-alive socket with `select()`,
  which raises ValueError for a file descriptor >= 1024 (FD_SETSIZE), and it reads that as "dead":
  past ~1,000 open sockets in a process nearly every request closed a good connection and opened
  a new one (4,000 users on one worker: ~26,700 connects for ~35,000 requests, CPU 46 %). The check
  here peeks one byte without blocking: no data yet = alive (4,004 connects, one per user, CPU 28 %).

Measured in docs/performance.md (overhead bench, side by side); equivalence in
tests/unit/test_transport_fastpath.py.
"""

from __future__ import annotations

import socket
from http.cookiejar import CookieJar
from typing import Any

from geventhttpclient.connectionpool import ConnectionPool
from geventhttpclient.url import URL
from locust.contrib.fasthttp import FastRequest

__all__ = [
    "URL_CACHE_MAX",
    "CachedURLRequest",
    "ParsedURL",
    "QuietCookieJar",
    "install_liveness_check",
    "socket_alive",
]

URL_CACHE_MAX = 4096  # distinct URL strings kept parsed (ids make many); the cache is emptied when full


class ParsedURL(URL):
    """geventhttpclient's immutable URL with the parts each request reads computed once, not per read.

    Every request reads `host` and `port` (the connection pool's key; each read parses the netloc
    again in urllib) and `quoted_uri` (percent-encoding the path again). The values are the base
    class's own, computed by its properties at construction (tests/unit/test_transport_fastpath.py).
    """

    __slots__ = ("host", "port", "request_uri", "quoted_uri")

    def __init__(self, url: Any = "", params: Any = None) -> None:
        super().__init__(url, params)
        self.host = URL.host.fget(self)  # type: ignore[attr-defined,misc]
        self.port = URL.port.fget(self)  # type: ignore[attr-defined,misc]
        self.request_uri = URL.request_uri.fget(self)  # type: ignore[attr-defined,misc]
        quoted = getattr(URL, "quoted_uri", None)  # geventhttpclient >= 2.3.4
        self.quoted_uri = quoted.fget(self) if quoted is not None else self.request_uri  # type: ignore[misc]


_URLS: dict[str, ParsedURL] = {}


class CachedURLRequest(FastRequest):
    """Locust's request whose URL, when given as a string without `params`, is parsed once per string."""

    def set_url(self, url: Any, params: Any = None) -> None:
        """CompatRequest.set_url, from the cache when it can be: the same attributes, the same values."""
        if params is not None or type(url) is not str:
            super().set_url(url, params=params)
            return
        split = _URLS.get(url)
        if split is None:
            if len(_URLS) >= URL_CACHE_MAX:
                _URLS.clear()
            split = _URLS[url] = ParsedURL(url)
        self.url, self.url_split = url, split
        self.type, self.host, self.selector = split.scheme, split.netloc, split.request_uri or "/"


class QuietCookieJar(CookieJar):
    """A CookieJar that skips its work when it has none: no cookie to send, no Set-Cookie to read.

    geventhttpclient calls `add_cookie_header` before and `extract_cookies` after every request;
    with the stdlib jar each call takes its lock, stamps the time and parses the URL's host and
    port again (~6 % of a request's CPU against a bearer-token ERP, which sets no cookie). Here an
    empty jar adds nothing, and a response without `Set-Cookie`/`Set-Cookie2` extracts nothing,
    exactly as the stdlib would; anything else goes the stdlib way, so an ERP with session cookies
    keeps them (tests/unit/test_transport_fastpath.py).
    """

    def add_cookie_header(self, request: Any) -> None:
        """The stdlib's, unless the jar is empty (then it would add no header)."""
        if self._cookies:  # type: ignore[attr-defined]
            super().add_cookie_header(request)

    def extract_cookies(self, response: Any, request: Any) -> None:
        """The stdlib's, unless the response sets no cookie (then it would store none)."""
        headers = response.info()
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response, request)


_SELECT_ALIVE = ConnectionPool._is_socket_alive  # geventhttpclient's own (select-based)
_PEEK = socket.MSG_PEEK | socket.MSG_DONTWAIT


def socket_alive(pool: Any, sock: Any) -> bool:
    """Whether a pooled keep-alive socket can carry the next request: open, nothing unread, no FIN.

    What geventhttpclient's check decides, for any file descriptor: a socket readable while idle is
    closed by the server (recv gives b"") or dirty (unread bytes), so not reusable; one with nothing
    to read (EAGAIN) is. A peek neither consumes data nor yields to the hub.
    """
    if sock is None:
        return False
    raw = getattr(sock, "_sock", None)  # the OS socket under gevent's (TLS: the TCP bytes)
    if raw is None:
        return bool(_SELECT_ALIVE(pool, sock))
    try:
        if raw.fileno() < 0:
            return False
        raw.recv(1, _PEEK)
    except BlockingIOError:
        return True
    except (OSError, ValueError):
        return False
    return False


def install_liveness_check() -> None:
    """Use `socket_alive` for every geventhttpclient connection pool in this process (idempotent)."""
    ConnectionPool._is_socket_alive = socket_alive  # type: ignore[method-assign,assignment]
