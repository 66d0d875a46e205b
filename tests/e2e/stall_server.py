"""Test-only HTTP server that stalls every request for 1 s every 5 s (a stop-the-world pause).

Its clock starts when it binds: during [5k, 5k + 1) seconds every request (arriving then, or already
waiting) is held until the stall ends; otherwise it answers at once. Loopback only (a gevent StreamServer speaking just enough HTTP/1.1);
prints "stall listening on http://127.0.0.1:PORT" once bound to port 0.
Run: python tests/e2e/stall_server.py [--period 5] [--stall 1]
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import socket  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


def make_handler(period: float, stall: float, t0: float):  # noqa: ANN201
    """Keep-alive HTTP/1.1 without bodies: each answer in ONE send (no Nagle / delayed-ACK 40 ms)."""

    def handle(conn: socket.socket, _addr: object) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk or len(buf) > 65536:
                        return
                    buf += chunk
                _head, buf = buf.split(b"\r\n\r\n", 1)
                phase = (time.monotonic() - t0) % period
                if phase < stall:
                    gevent.sleep(stall - phase)  # held until the stall ends
                conn.sendall(RESPONSE)
        except OSError:
            return
        finally:
            conn.close()

    return handle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--period", type=float, default=5.0, help="seconds from one stall's start to the next"
    )
    parser.add_argument("--stall", type=float, default=1.0, help="seconds each stall lasts")
    args = parser.parse_args()
    server = StreamServer(("127.0.0.1", 0), make_handler(args.period, args.stall, time.monotonic()))
    server.start()
    print(f"stall listening on http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
