"""Test-only HTTP server that answers every request with headers, then one body byte a second, forever.

A per-read timeout never fires against it (a byte always arrives in time), so only a total deadline
ends a read. Loopback only; prints "trickle listening on http://127.0.0.1:PORT" once bound to port 0.
Run: python tests/e2e/trickle_server.py [--interval SECONDS]
"""

from __future__ import annotations

import argparse
import socket
import threading
import time

HEADERS = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nConnection: close\r\n\r\n"
BODY = b"# HELP process_resident_memory_bytes Resident memory size in bytes.\n"


def serve_one(conn: socket.socket, interval: float) -> None:
    """Read the request head, send the headers, then trickle the body until the client goes away."""
    try:
        conn.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        conn.sendall(HEADERS)
        i = 0
        while True:
            conn.sendall(BODY[i % len(BODY) : i % len(BODY) + 1])
            i += 1
            time.sleep(interval)  # the whole point: one byte per interval
    except OSError:
        return
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between body bytes")
    args = parser.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    print(f"trickle listening on http://127.0.0.1:{srv.getsockname()[1]}", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve_one, args=(conn, args.interval), daemon=True).start()


if __name__ == "__main__":
    main()
