"""Child processes for the bench: start, wait for readiness with a deadline, stop by PID; ports; pinning."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def pin_prefix(cpus: str | None) -> list[str]:
    """`taskset -c CPUS` when asked for and available (Linux), else nothing."""
    if not cpus or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", cpus]


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen[Any] | None = None) -> None:
    """Poll `url` until it answers any HTTP status; raise if the deadline passes or `proc` exits first."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.pid} exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1.0) as resp:
                resp.read()
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f} s (last error: {last})")


class Child:
    """A child process in its own session (its PID is its process-group id), stopped by PID.

    Use as a context manager; `stop()` is idempotent and also runs on exit from the `with` block.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        log_path: Path | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        """Start `argv` in a new session, output to `log_path` (or discarded)."""
        self.argv = list(argv)
        self.log_path = log_path
        self.stop_signal = stop_signal
        self._log: IO[bytes] | None = open(log_path, "wb") if log_path else None  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.argv,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self.pid = self.proc.pid

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def wait(self, timeout_s: float) -> int:
        """Wait for a normal exit; on timeout stop it and raise TimeoutError."""
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
            raise TimeoutError(
                f"{self.argv[:3]}... (pid {self.pid}) still running after {timeout_s:.0f} s"
            ) from None

    def stop(self, grace_s: float = 10.0) -> None:
        """Signal the process group led by our child's PID, wait `grace_s`, then SIGKILL that group."""
        if self.proc.poll() is None:
            self._signal(self.stop_signal)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.proc.wait(timeout=5)
        else:  # the leader is gone; make sure nothing it forked (workers) outlives it
            self._signal(signal.SIGKILL, quiet=True)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _signal(self, sig: int, quiet: bool = False) -> None:
        """Send `sig` to the process group our child leads."""
        try:
            os.killpg(self.pid, sig)  # the group id is our child's own PID (start_new_session)
        except ProcessLookupError:
            pass
        except PermissionError:
            if not quiet:
                raise

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the child's output (for error messages)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
