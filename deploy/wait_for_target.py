"""Wait until the ERP under test accepts TCP connections, then exec the command: the compose master's entry.

    python wait_for_target.py URL [--timeout SECONDS] [-- COMMAND ARG ...]

Once URL's host:port accepts a connection: exec COMMAND (the process becomes it, so its exit code and
signals are the command's own), or exit 0 without one. Exit 2 (a configuration error, as erpload's own)
when nothing accepts within the timeout, naming the URL, the last error and the fix. Only a TCP connect:
a team's ERP need not have `/health`, and TLS is checked later by the role users (ERPLOAD_INSECURE_TLS).
Standard library only: it runs in the erpload image (/app/bin) and, in tests, as a local process.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
FIX = (
    "Fix: start the reference ERP too (`docker compose --profile reference up ...`), or set TARGET_URL "
    "to your ERP's URL as a container sees it (a service on the Docker host: "
    "http://host.docker.internal:PORT, never localhost, which is the container itself)"
)


def address(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL; ValueError saying what is wrong with it."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an http(s) URL with a host (got {url!r}); e.g. https://erp.example.internal")
    return parts.hostname, parts.port or DEFAULT_PORTS[parts.scheme]


def wait(url: str, timeout: float) -> int:
    """Poll host:port of `url` once a second until it accepts a connection (0) or `timeout` passes (2)."""
    try:
        host, port = address(url)
    except ValueError as e:
        print(f"wait-for-target: TARGET_URL: {e}. {FIX}", file=sys.stderr)
        return 2
    start = time.monotonic()
    last = "no attempt"
    while True:
        try:
            with socket.create_connection((host, port), timeout=3):
                print(
                    f"wait-for-target: {url} accepts connections ({time.monotonic() - start:.1f}s)",
                    flush=True,
                )
                return 0
        except OSError as e:
            last = str(e) or type(e).__name__
        if time.monotonic() - start >= timeout:
            print(
                f"wait-for-target: {url} ({host}:{port}) accepted no TCP connection within {timeout:g}s "
                f"(last error: {last}). {FIX}",
                file=sys.stderr,
            )
            return 2
        time.sleep(1)  # poll interval of a bounded wait


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1 :]
    p = argparse.ArgumentParser(
        description="Wait until the ERP under test accepts TCP connections, then exec COMMAND."
    )
    p.add_argument("url", help="the ERP's base URL (the master's -H)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait (default 120)")
    args = p.parse_args(argv)
    rc = wait(args.url, args.timeout)
    if rc or not command:
        return rc
    os.execvp(command[0], command)  # never returns: the command's exit code is this process's
    return 0  # pragma: no cover


if __name__ == "__main__":
    sys.exit(main())
