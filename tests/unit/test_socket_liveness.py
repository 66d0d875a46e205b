"""A pooled keep-alive socket is reused past file descriptor 1024 (erpload.users.useragent.socket_alive).

geventhttpclient's own check calls select(), which raises ValueError for a descriptor >= 1024
(FD_SETSIZE); it reads that as a dead socket, so a process holding more than ~1,000 sockets opened a
new connection for nearly every request. These tests hold ~1,100 descriptors open first.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from typing import Any

import gevent.socket
import pytest
from geventhttpclient.connectionpool import ConnectionPool
from locust.event import EventHook

from erpload.users.transport import ErpSession
from erpload.users.useragent import _SELECT_ALIVE, socket_alive

from helpers import JsonHandler, stub_server

HIGH = 1100  # descriptors held open, so every new socket's is >= 1024


@pytest.fixture
def high_fds() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < HIGH + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    gevent.sleep(0.01)  # gevent closes a socket's descriptor on the hub's next turn: let pending closes land
    held = [os.dup(0) for _ in range(HIGH)]
    try:
        yield
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_an_idle_socket_past_fd_1024_is_alive_and_a_closed_or_dirty_one_is_not(high_fds: None) -> None:
    a, b = gevent.socket.socketpair()
    try:
        assert a.fileno() >= 1024
        assert _SELECT_ALIVE(None, a) is False  # geventhttpclient's check: the bug this module works around
        assert socket_alive(None, a) is True  # idle, nothing to read
        b.sendall(b"x")
        gevent.sleep(0.01)
        assert socket_alive(None, a) is False  # unread bytes: not reusable
        assert a.recv(1) == b"x"  # the peek consumed nothing
        b.close()
        gevent.sleep(0.01)
        assert socket_alive(None, a) is False  # the server's FIN
    finally:
        a.close()
        b.close()
    assert socket_alive(None, a) is False  # closed here
    assert socket_alive(None, None) is False
    gevent.sleep(0.01)  # the deferred closes of a and b, before the fixture frees the held descriptors


class _KeepAlive(JsonHandler):
    protocol_version = "HTTP/1.1"  # keep the connection open between requests

    def do_GET(self) -> None:  # noqa: N802
        self.send_json(200, {"ok": True})


class _User:
    def context(self) -> dict[str, Any]:
        return {}


def test_a_session_past_fd_1024_keeps_one_connection(high_fds: None, monkeypatch: pytest.MonkeyPatch) -> None:
    connects = []
    original = ConnectionPool._create_socket

    def counted(self: ConnectionPool) -> Any:
        sock = original(self)
        connects.append(sock.fileno())
        return sock

    monkeypatch.setattr(ConnectionPool, "_create_socket", counted)
    with stub_server(_KeepAlive) as url:
        session = ErpSession(url, request_event=EventHook(), user=_User(), total_timeout=5.0, max_body=2**20)
        statuses = [session.request("GET", "/dashboard").status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert len(connects) == 1 and connects[0] >= 1024, connects
