"""Real-process helpers for tests: start, wait for a log line or URL, stop by PID, never orphan."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (bind to 0, read, release)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process whose combined output is captured line by line in the background.

    `expect(pattern, timeout)` waits for a line matching the regex and returns the match;
    `stop()` sends SIGINT, then SIGKILL after a bound, and always reaps the process.
    """

    _all: list[Proc] = []

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        name: str = "proc",
        log_dir: Path | None = None,
    ):
        self.name = name
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.args = list(args)
        self.popen = subprocess.Popen(
            self.args,
            cwd=cwd or ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._log_path = (log_dir / f"{name}.log") if log_dir else None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        Proc._all.append(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _read(self) -> None:
        assert self.popen.stdout is not None
        log = open(self._log_path, "w") if self._log_path else None  # noqa: SIM115
        try:
            for line in self.popen.stdout:
                with self._cond:
                    self.lines.append(line.rstrip("\n"))
                    self._cond.notify_all()
                if log:
                    log.write(line)
                    log.flush()
        finally:
            if log:
                log.close()
            with self._cond:
                self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def expect(self, pattern: str, timeout: float = 30.0, start: int = 0) -> re.Match[str]:
        """Wait until a line matches `pattern` (regex); fail with the output tail on timeout or exit."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        idx = start
        with self._cond:
            while True:
                while idx < len(self.lines):
                    m = rx.search(self.lines[idx])
                    if m:
                        return m
                    idx += 1
                if self.popen.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(
                        f"{self.name} exited ({self.popen.returncode}) before printing /{pattern}/:\n{self.tail()}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{self.name}: no line matched /{pattern}/ in {timeout}s:\n{self.tail()}"
                    )
                self._cond.wait(min(left, 0.5))

    def tail(self, n: int = 60) -> str:
        with self._cond:
            return "\n".join(self.lines[-n:])

    def wait(self, timeout: float) -> int:
        """Wait for exit (bounded); return the exit code; fail with the output tail on timeout."""
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"{self.name} did not exit within {timeout}s:\n{self.tail()}") from None
        self._reader.join(timeout=5)
        return rc

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGINT, then SIGKILL (whole session) after `timeout`; always reaps."""
        if self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGINT)
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._reader.join(timeout=5)
        return self.popen.returncode

    @classmethod
    def stop_all(cls) -> None:
        for p in reversed(cls._all):
            p.stop(timeout=5)
        cls._all.clear()


def wait_http(url: str, timeout: float = 30.0, status: int = 200) -> requests.Response:
    """Poll `url` until it answers `status` (bounded). Polls every 0.1 s; fails with the last error."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            r = requests.get(url, timeout=2)
            if r.status_code == status:
                return r
            last = f"HTTP {r.status_code}: {r.text[:200]}"
        except requests.RequestException as e:
            last = e
        time.sleep(0.1)  # poll interval of a bounded readiness wait, not a fixed delay
    raise AssertionError(f"{url} not ready within {timeout}s (last: {last})")


class Target:
    """The reference ERP as a real subprocess on a free port (`--port 0`, URL read from its output)."""

    def __init__(self, tmp: Path, *extra: str, name: str = "target", db: Path | None = None):
        args = [PY, "-m", "erp_target", "--port", "0", "--db", str(db or tmp / f"{name}.db"), *extra]
        self.proc = Proc(args, name=name, log_dir=tmp)
        m = self.proc.expect(r"listening on (http://127\.0\.0\.1:(\d+))", timeout=90)
        self.url = m.group(1)
        self.port = int(m.group(2))
        wait_http(self.url + "/health", timeout=30)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def login(self, username: str, password: str | None = None) -> str:
        r = requests.post(
            self.url + "/auth/login",
            json={"username": username, "password": password or SEED_PASSWORD},
            timeout=10,
        )
        r.raise_for_status()
        return r.json()["access_token"]

    def stop(self) -> int | None:
        return self.proc.stop()


SEED_PASSWORD = os.environ.get("ERP_SEED_PASSWORD", "erpload-demo")
