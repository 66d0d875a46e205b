"""A hostile HTTP target for tests (stdlib only): `python hostile_server.py MODE [--lifetime S]`.

Prints "listening on http://127.0.0.1:PORT" and exits by itself after --lifetime seconds (default 120).
Modes:
  slowloris  every response trickles out one byte a second (status line, headers, body)
  endless    200 with a chunked body that never ends (64 KiB chunks, as fast as the client reads)
  gzipbomb   200 with a 0.5 MiB gzip body that inflates to 512 MiB of zeros
  echo       echoes secrets back: the login body (password JSON-escaped, URL-encoded, as HTTP Basic) and
             fresh JWTs in 401s, JWTs in malformed 200 logins, the bearer token (bare) in 500s and the
             Authorization header in 401s. Valid logins issue JWTs and opaque tokens alternately.
             Prints "issued <token>" for every token it sends, so a test can grep artifacts for each.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import os
import secrets
import socket
import sys
import threading
import time
import zlib
from urllib.parse import quote_plus

_counter = itertools.count()
_answers = itertools.count()
_lock = threading.Lock()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt() -> str:
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64url(json.dumps({"sub": "hostile", "n": next(_counter), "exp": 4102444800}).encode())
    token = f"{header}.{payload}.{b64url(secrets.token_bytes(32))}"
    with _lock:
        print(f"issued {token}", flush=True)
    return token


def opaque() -> str:
    token = f"opq_{secrets.token_hex(16)}"
    with _lock:
        print(f"issued {token}", flush=True)
    return token


def read_request(conn: socket.socket, buf: bytes) -> tuple[str, str, dict[str, str], bytes, bytes] | None:
    """(method, path, headers, body, rest) of the next request on `conn`, or None when it closed."""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path = lines[0].split(" ")[:2]
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0") or 0)
    while len(buf) < length:
        data = conn.recv(65536)
        if not data:
            return None
        buf += data
    return method, path, headers, buf[:length], buf[length:]


def response(status: str, body: dict) -> bytes:
    data = json.dumps(body).encode()
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


def echo_answer(method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    n = next(_answers)
    auth = headers.get("authorization", "")
    if path.startswith("/auth/login"):
        text = body.decode("utf-8", "replace")
        try:
            sent = json.loads(text)
            basic = base64.b64encode(f"{sent['username']}:{sent['password']}".encode()).decode()
            form = f"username={quote_plus(sent['username'])}&password={quote_plus(sent['password'])}"
        except (ValueError, KeyError, TypeError):
            basic = form = ""
        if n % 4 == 0:  # alternately a JWT and an opaque token: only the login can tell the latter is secret
            token = jwt() if n % 8 == 0 else opaque()
            return response("200 OK", {"access_token": token, "token_type": "bearer", "expires_in": 3600})
        if n % 4 == 1:  # what a debug-mode framework might answer: the request, echoed
            return response("401 Unauthorized", {"you_sent": text, "t": jwt()})
        if n % 4 == 2:  # the same credentials URL-encoded and as HTTP Basic (evidence shows 160 chars)
            return response("401 Unauthorized", {"form": form, "basic": f"Basic {basic}"})
        return response("200 OK", {"token": jwt(), "note": "no expires_in, no access_token field"})
    if n % 2:  # the bare token, without "Bearer": only the registered token can be recognised
        return response("500 Internal Server Error", {"error": "boom", "seen": auth[7:], "trace": jwt()})
    return response("401 Unauthorized", {"error": f"token rejected: {auth}", "fresh": jwt()})


def serve(conn: socket.socket, mode: str) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    try:
        while True:
            req = read_request(conn, buf)
            if req is None:
                return
            method, path, headers, body, buf = req
            if mode == "slowloris":
                for byte in response("200 OK", {"ok": True, "pad": "x" * 64}):
                    conn.sendall(bytes([byte]))
                    time.sleep(1.0)  # the point of this mode: one byte a second
            elif mode == "gzipbomb":
                head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                conn.sendall(f"{head}Content-Length: {len(BOMB[0])}\r\n\r\n".encode() + BOMB[0])
            elif mode == "endless":
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                )
                chunk = b"[" + b"1," * 32767 + b"\n"
                frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
                while True:
                    conn.sendall(frame)
            else:
                conn.sendall(echo_answer(method, path, headers, body))
    except OSError:
        return
    finally:
        conn.close()


BOMB: list[bytes] = []


def gzip_bomb(mib: int) -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(2**20)
    return b"".join(z.compress(zeros) for _ in range(mib)) + z.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["slowloris", "endless", "gzipbomb", "echo"])
    parser.add_argument("--lifetime", type=float, default=120.0, help="exit after this many seconds")
    args = parser.parse_args()
    if args.mode == "gzipbomb":
        BOMB.append(gzip_bomb(512))
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    print(f"listening on http://127.0.0.1:{srv.getsockname()[1]} mode={args.mode}", flush=True)

    def accept() -> None:
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=serve, args=(conn, args.mode), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    time.sleep(args.lifetime)  # bounded lifetime: the server never outlives a forgotten test
    print("lifetime over, exiting", flush=True)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
