"""Fault switches (latency, errors, hangs, malformed bodies, resets, leaks, slow DB, racy stock, outage, RBAC hole)."""

from __future__ import annotations

import json
import logging
import random
import re
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import gevent
import gevent.event
import gevent.lock
from gevent import select as gselect

log = logging.getLogger(__name__)

SOCKET_KEY = "erp_target.socket"  # environ key where the server's handler puts the client socket
EXEMPT_PATHS = frozenset({"/health", "/metrics", "/admin/faults"})  # faults must never lock us out
HANG_MAX_S = 3600.0  # safety net: a hung request whose client never closes is dropped after an hour
MAX_MS = 600_000.0
MAX_LEAK_KB = 1_048_576
MAX_OUTAGE_S = 3600.0

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class AbortConnection(Exception):
    """Raised through the WSGI stack so the server handler drops the connection (RST if `reset`)."""

    def __init__(self, reset: bool, label: str | None = None):
        super().__init__("reset" if reset else "hang")
        self.reset = reset
        self.label = label or ("reset" if reset else "hang")  # the status label in /metrics


class FaultError(ValueError):
    """A bad fault key or value; `field` names the key."""

    def __init__(self, field: str, detail: str):
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


@dataclass(frozen=True)
class FaultState:
    """The current fault switches; all off by default. `*_path` are regexes searched in the path."""

    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    latency_path: str | None = None
    error_rate: float = 0.0
    error_path: str | None = None
    hang_rate: float = 0.0
    hang_path: str | None = None
    malformed_rate: float = 0.0
    malformed_path: str | None = None
    reset_rate: float = 0.0
    reset_path: str | None = None
    leak_kb: int = 0
    slow_db_ms: float = 0.0
    racy_stock: bool = False
    outage_s: float = 0.0  # refuse every request (connection reset) for N s from the PUT: an API restart
    rbac_hole_path: str | None = None  # regex: any authenticated role may call matching paths (broken RBAC)
    ws_drop_rate: float = 0.0  # share of WebSocket events not sent on a connection (each connection draws)
    ws_reorder_rate: float = 0.0  # share of WebSocket events held back and sent after the next one
    capacity_slots: int = 0  # serve at most N requests at once, each holding its slot capacity_ms (0: off)
    capacity_ms: float = 0.0  # fixed service time per request: a crisp capacity of slots / capacity_ms

    def to_json(self) -> dict[str, Any]:
        """The state as the JSON object of `GET /admin/faults`."""
        return asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> FaultState:
        """A new state with `changes` applied; raises FaultError naming the first bad key."""
        known = {f.name: f for f in fields(self)}
        clean: dict[str, Any] = {}
        for key, value in changes.items():
            if key not in known:
                raise FaultError(key, f"unknown fault switch; known: {', '.join(known)}")
            clean[key] = _check(key, value)
        return replace(self, **clean)


def _check(key: str, value: Any) -> Any:
    """Validate one switch value; returns it normalised."""
    if key.endswith("_path"):
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise FaultError(key, f"must be a regex string or null, got {json.dumps(value)}")
        try:
            re.compile(value)
        except re.error as e:
            raise FaultError(key, f"invalid regex {value!r}: {e}") from None
        return value
    if key == "racy_stock":
        if not isinstance(value, bool):
            raise FaultError(key, f"must be true or false, got {json.dumps(value)}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # NaN != NaN
        raise FaultError(key, f"must be a number, got {json.dumps(value)}")
    if key.endswith("_rate"):
        if not 0.0 <= value <= 1.0:
            raise FaultError(key, f"must be between 0 and 1, got {value}")
        return float(value)
    if key == "capacity_slots":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
            raise FaultError(key, f"must be an integer between 0 and 10000, got {json.dumps(value)}")
        return value
    if key == "leak_kb":
        if not isinstance(value, int) or not 0 <= value <= MAX_LEAK_KB:
            raise FaultError(key, f"must be an integer between 0 and {MAX_LEAK_KB}, got {value}")
        return value
    if key == "outage_s":
        if not 0.0 <= value <= MAX_OUTAGE_S:
            raise FaultError(key, f"must be between 0 and {MAX_OUTAGE_S:.0f} s, got {value}")
        return float(value)
    if not 0.0 <= value <= MAX_MS:
        raise FaultError(key, f"must be between 0 and {MAX_MS:.0f} ms, got {value}")
    return float(value)


class Faults:
    """The live switches plus the fault RNG, the leak store and the shutdown event hangs wait on."""

    def __init__(self, state: FaultState, seed: int | None = None):
        self.state = state
        self.rng = random.Random(seed)  # own RNG: never disturbs (or is disturbed by) other randomness
        self.leaked: list[bytes] = []  # never freed on purpose (leak_kb)
        self.stopping = gevent.event.Event()
        self.on_inject: Callable[[str], None] = lambda kind: None
        self._regex: dict[str, re.Pattern[str]] = {}
        self.outage_until = time.monotonic() + state.outage_s if state.outage_s > 0 else 0.0
        self.slots = gevent.lock.Semaphore(max(state.capacity_slots, 1))  # capacity_slots

    def in_outage(self) -> bool:
        """True while an `outage_s` window set by the last update is running."""
        return self.outage_until > 0 and time.monotonic() < self.outage_until

    def rbac_hole(self, path: str) -> bool:
        """True if `rbac_hole_path` is set and matches `path` (role checks skipped there)."""
        pattern = self.state.rbac_hole_path
        return pattern is not None and self._matches(pattern, path)

    def ws_fate(self) -> str:
        """One WebSocket event on one connection: 'drop' (ws_drop_rate), 'hold' (ws_reorder_rate) or 'send'."""
        if self._hits(self.state.ws_drop_rate, None, ""):
            self.on_inject("ws_drop")
            return "drop"
        return "hold" if self._hits(self.state.ws_reorder_rate, None, "") else "send"

    def update(self, changes: Mapping[str, Any]) -> FaultState:
        """Apply a partial update atomically (all keys valid, or nothing changes)."""
        self.state = self.state.updated(changes)
        if changes.get("capacity_slots"):  # a new limit; requests queued on the old one finish there
            self.slots = gevent.lock.Semaphore(self.state.capacity_slots)
        if "outage_s" in changes:  # the window starts now; 0 ends a running one
            self.outage_until = time.monotonic() + self.state.outage_s if self.state.outage_s > 0 else 0.0
        log.warning("fault switches now: %s", {k: v for k, v in self.state.to_json().items() if v})
        return self.state

    def _hits(self, rate: float, pattern: str | None, path: str) -> bool:
        if rate <= 0.0 or not self._matches(pattern, path):
            return False
        return rate >= 1.0 or self.rng.random() < rate

    def _matches(self, pattern: str | None, path: str) -> bool:
        if pattern is None:
            return True
        rx = self._regex.get(pattern)
        if rx is None:
            rx = self._regex[pattern] = re.compile(pattern)
        return rx.search(path) is not None

    def db_delay(self, queries: int = 1) -> None:
        """slow_db_ms: sleep per query, cooperatively (never while holding the write lock)."""
        ms = self.state.slow_db_ms
        if ms > 0 and queries > 0:
            gevent.sleep(ms * queries / 1000.0)

    def middleware(self, app: WsgiApp) -> WsgiApp:
        """Wrap a WSGI app so every non-exempt request passes through the switches."""

        def faulty(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            path = environ.get("PATH_INFO", "")
            s = self.state
            if path in EXEMPT_PATHS:
                return app(environ, start_response)
            if self.in_outage():
                self.on_inject("outage")
                raise AbortConnection(reset=True)  # like a restarting API: no answer, connection reset
            if s.capacity_slots > 0:  # a load-dependent bottleneck: queue for a slot, hold it capacity_ms
                with self.slots:
                    gevent.sleep(s.capacity_ms / 1000.0)
            if s.leak_kb > 0:
                self.leaked.append(b"x" * (s.leak_kb * 1024))  # filled, so the pages are really touched
            if s.latency_ms > 0 and self._matches(s.latency_path, path):
                jitter = self.rng.uniform(-s.latency_jitter_ms, s.latency_jitter_ms)
                gevent.sleep(max(0.0, s.latency_ms + jitter) / 1000.0)
            if self._hits(s.hang_rate, s.hang_path, path):
                self.on_inject("hang")
                self._hang(environ)
                raise AbortConnection(reset=False)
            if self._hits(s.error_rate, s.error_path, path):
                self.on_inject("error")
                body = json.dumps({"error": "internal", "detail": "injected fault: error_rate"}).encode()
                start_response("500 INTERNAL SERVER ERROR", _headers(len(body)))
                return [body]
            reset = self._hits(s.reset_rate, s.reset_path, path)
            malformed = not reset and self._hits(s.malformed_rate, s.malformed_path, path)
            if not (reset or malformed):
                return app(environ, start_response)
            captured: list[Any] = []
            chunks = app(environ, lambda status, headers, exc_info=None: captured.extend((status, headers)))
            try:
                body = b"".join(chunks)
            finally:
                close = getattr(chunks, "close", None)
                if close is not None:
                    close()
            if reset:
                self.on_inject("reset")
                # Headers promise the whole body; send half of it, then the handler closes with RST.
                write = start_response(captured[0], _headers(len(body), captured[1]))
                write(body[: len(body) // 2])
                raise AbortConnection(reset=True)
            self.on_inject("malformed")
            cut = body[: max(1, len(body) // 2)]  # a proper prefix of a JSON object never parses
            start_response("200 OK", _headers(len(cut)))
            return [cut]

        return faulty

    def _hang(self, environ: dict[str, Any]) -> None:
        """Do not answer until the client gives up (closes), the server stops, or HANG_MAX_S passes."""
        sock: socket.socket | None = environ.get(SOCKET_KEY)
        deadline = time.monotonic() + HANG_MAX_S
        while not self.stopping.is_set() and time.monotonic() < deadline:
            if sock is None:
                self.stopping.wait(0.25)
                continue
            readable, _, _ = gselect.select([sock], [], [], 0.25)
            if not readable:
                continue
            try:
                if not sock.recv(1, socket.MSG_PEEK):
                    return  # EOF: the client timed out and closed
            except OSError:
                return
            self.stopping.wait(0.25)  # pipelined bytes, client still there: keep not answering


def _headers(length: int, original: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    kept = [(k, v) for k, v in (original or []) if k.lower() not in ("content-length", "content-type")]
    return [("Content-Type", "application/json"), ("Content-Length", str(length)), *kept]
