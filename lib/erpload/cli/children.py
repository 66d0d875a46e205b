"""Child processes of the CLI: the reference ERP (started, awaited, stopped) and Locust under `demo`.

Locust and the reference ERP run as children so gevent's monkey-patching never touches this process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from erpload.core.errors import ConfigError, Problem, TargetUnavailable

LISTEN_RX = re.compile(r"listening on (http://\S+)")
TARGET_START_TIMEOUT_S = 120.0  # seeding a fresh db takes seconds; a 2-core CI box under load, more
TAIL_LINES = 8


class Child:
    """A child process whose output is echoed (optionally filtered) by a reader thread."""

    def __init__(self, args: list[str], prefix: str = "", echo: bool = True):
        self.popen = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.prefix, self.echo = prefix, echo
        self.lines: list[str] = []
        self.first_match = threading.Event()
        self.url: str | None = None
        self._t = threading.Thread(target=self._pump, daemon=True)
        self._t.start()

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.append(line)
            if self.url is None and (m := LISTEN_RX.search(line)):
                self.url = m.group(1)
                self.first_match.set()
            if self.echo:
                sys.stdout.write(self.prefix + line)
                sys.stdout.flush()
        self.first_match.set()

    def tail(self, n: int = TAIL_LINES) -> str:
        """Its last output lines, indented (for an error message)."""
        lines = [ln.rstrip() for ln in self.lines[-n:] if ln.strip()]
        return "\n".join(f"    {ln}" for ln in lines) if lines else "    (no output)"

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM (a clean stop, and no KeyboardInterrupt traceback if it is still starting), then kill."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self._t.join(timeout=5)
        return self.popen.returncode


def _unavailable(child: Child, what: str, timed_out: bool, timeout: float) -> TargetUnavailable:
    fix = (
        f"Give it longer (--target-timeout, now {timeout:g}s) or check the machine's load"
        if timed_out
        else "Fix what its output names (see `erpload target --help`)"
    )
    return TargetUnavailable("the reference ERP", what, f"Its last output lines:\n{child.tail()}\n  {fix}")


def start_target(target_args: Sequence[str], db: Path, timeout: float = TARGET_START_TIMEOUT_S) -> Child:
    """Start the reference ERP on a free loopback port; return once it answered /health.

    Raises TargetUnavailable (exit 7) naming what happened (exited, or timed out after N s) with the
    last lines it printed.
    """
    import requests  # deferred: `erpload validate` / `compare` need no HTTP stack

    child = Child(
        [sys.executable, "-m", "erp_target", "--port", "0", "--db", str(db), *target_args], prefix="[target] "
    )
    try:
        return _await_target(child, timeout, requests)
    except BaseException:  # Ctrl+C / SIGTERM while it starts: never leave it behind
        child.stop()
        raise


def _await_target(child: Child, timeout: float, requests: Any) -> Child:
    deadline = time.monotonic() + timeout
    while child.url is None and time.monotonic() < deadline and child.popen.poll() is None:
        child.first_match.wait(min(0.5, max(0.0, deadline - time.monotonic())))
    if child.url is None:
        exited = child.popen.poll() is not None
        child.stop()  # also joins the reader: every line it printed is in child.lines
        if exited and child.popen.returncode == 2:  # its argparse: a bad flag given to `erpload demo`
            raise ConfigError(
                "the reference ERP's flags",
                [Problem("", f"it rejected them: {_error_line(child)}", "See `erpload target --help`")],
            )
        what = (
            f"it exited with code {child.popen.returncode} before listening"
            if exited
            else f"it did not print 'listening on ...' within {timeout:g}s (timed out; stopped it)"
        )
        raise _unavailable(child, what, not exited, timeout)
    while time.monotonic() < deadline:
        try:
            if requests.get(child.url + "/health", timeout=2).status_code == 200:
                return child
        except requests.RequestException:
            pass
        time.sleep(0.1)  # readiness polling interval (bounded by deadline)
    child.stop()
    raise _unavailable(
        child, f"{child.url}/health did not answer 200 within {timeout:g}s (timed out)", True, timeout
    )


def _error_line(child: Child) -> str:
    """argparse's 'prog: error: ...' line (not its usage block), else the last line."""
    lines = [ln.strip() for ln in child.lines if ln.strip()]
    return next((ln for ln in reversed(lines) if "error:" in ln), lines[-1] if lines else "(no output)")


def interrupt_on_sigterm() -> None:
    """From now on SIGTERM raises KeyboardInterrupt like Ctrl+C, so `finally` blocks stop the children."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)


def run_forwarding(cmd: list[str], env: dict[str, str] | None = None) -> int:
    """Run `cmd` in its own process group; forward SIGINT/SIGTERM to it once each; its exit code.

    Its own group, so a terminal's Ctrl+C reaches it once (from us), not twice: the plugin takes a
    second signal as "exit at once, no reports". stdin is /dev/null: a background group must not read
    the terminal.
    """
    child = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, process_group=0)
    forwarded: set[int] = set()

    def forward(signum: int, _frame: FrameType | None) -> None:
        if signum not in forwarded and child.poll() is None:
            forwarded.add(signum)
            os.kill(child.pid, signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if child.poll() is None:  # only if wait() itself failed: never leave it behind
            child.kill()
            child.wait()
