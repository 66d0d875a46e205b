"""gevent WSGI server: TCP_NODELAY on every accepted socket, fault-driven aborts, clean signal shutdown."""

from __future__ import annotations

import logging
import signal
import socket
import struct
import time
from typing import Any

import gevent
import gevent.event
from gevent.pool import Pool
from gevent.pywsgi import WSGIHandler, WSGIServer

from .app import close_app, create_app
from .config import TargetConfig
from .faults import SOCKET_KEY, AbortConnection
from .state import EXTENSION, State

log = logging.getLogger(__name__)
STOP_TIMEOUT_S = 2.0  # requests still running at shutdown get this long to finish


class ErpHandler(WSGIHandler):
    """pywsgi handler that exposes the client socket to the fault middleware and honours aborts."""

    busy = False  # True while a request is being answered (idle keep-alive connections are False)

    def handle_one_response(self) -> None:
        self.busy = True
        try:
            super().handle_one_response()
        finally:
            self.busy = False

    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        env[SOCKET_KEY] = self.socket
        return env

    def run_application(self) -> None:
        try:
            super().run_application()
        except AbortConnection as e:
            # No (complete) response: drop the connection. With SO_LINGER {on, 0} the close that
            # pywsgi does next sends a TCP RST instead of a FIN: the client sees "connection reset".
            self.close_connection = True
            if e.reset and self.socket is not None:
                self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class ErpServer(WSGIServer):
    """WSGIServer that disables Nagle on accepted sockets.

    Without TCP_NODELAY, small responses written in two sends (headers, body) meet the client's
    delayed ACK on loopback and every request stalls ~40 ms.
    """

    handler_class = ErpHandler

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.connections: dict[gevent.Greenlet, ErpHandler] = {}

    def handle(self, sock: socket.socket, address: Any) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # e.g. a UNIX socket: nothing to tune
            pass
        handler = self.handler_class(sock, address, self)
        me = gevent.getcurrent()
        self.connections[me] = handler
        try:
            handler.handle()
        finally:
            self.connections.pop(me, None)

    def shutdown(self, timeout: float) -> None:
        """Stop accepting, drop idle keep-alive connections now, give busy ones up to `timeout`."""
        self.close()
        for glet, handler in list(self.connections.items()):
            if not handler.busy:
                glet.kill(block=False)
        self.stop(timeout=timeout)


def serve(config: TargetConfig) -> int:
    """Seed or reuse the DB, listen, print the listening line, serve until SIGINT/SIGTERM; 0 on a clean stop."""
    stop = gevent.event.Event()
    handlers = [gevent.signal_handler(sig, stop.set) for sig in (signal.SIGINT, signal.SIGTERM)]
    try:
        t0 = time.perf_counter()
        app = create_app(config)
        st: State = app.extensions[EXTENSION]
        where = config.db_path or f"temporary file {st.db.path}, removed at exit"
        if st.reused_db:
            print(f"reusing seeded db {where}: {st.counts.line()}", flush=True)
        else:
            print(f"seeded {st.counts.line()} in {time.perf_counter() - t0:.2f}s ({where})", flush=True)
        v1 = config.dialect == "v1"
        log.info("API dialect: %s%s", config.dialect, " (API under /api/v1: docs/erp-api.md)" if v1 else "")
        gevent.sleep(0)  # let the hub run a SIGINT/SIGTERM that arrived while seeding
        if config.seed_only or stop.is_set():
            close_app(app)
            return 0
        access_log = logging.getLogger("erp_target.access") if config.access_log else None
        server = ErpServer(
            (config.host, config.port),
            app,
            spawn=Pool(),
            log=access_log,
            error_log=logging.getLogger("erp_target.server"),
            environ={"SERVER_NAME": config.host},  # else pywsgi does a reverse-DNS lookup at start
        )
        try:
            server.start()
        except OSError as e:
            close_app(app)
            log.error("cannot listen on %s:%s: %s", config.host, config.port, e)
            return 1
        host, port = server.address[:2]
        print(f"listening on http://{host}:{port}", flush=True)
        stop.wait()
        log.info("stopping: closing the listener, dropping hung and idle connections")
        st.faults.stopping.set()  # wakes requests held by the hang fault
        server.shutdown(timeout=STOP_TIMEOUT_S)
        close_app(app)
        log.info("stopped")
        return 0
    finally:
        for h in handlers:
            h.cancel()
