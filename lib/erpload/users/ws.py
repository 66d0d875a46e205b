"""WebSocket user base: holds one connection to the ERP's event stream and records latencies as Locust requests.

Uses websocket-client (blocking sockets, so gevent's monkey-patching makes it cooperative). Recorded
through `environment.events.request` with request_type "WS", so SLA rules apply:

- ``WS connect``: TCP + HTTP upgrade handshake time (ms);
- ``WS work-order-event``: event latency, server `created_at` (epoch ms) to receipt here (same clock);
- ``WS broadcast``: per event, time from creation until every supervisor connected in this process
  received it (response_length = how many); with N users in one process that is broadcast-to-N.

Every connection is also one ordered stream (erpload.core.wsorder.StreamOrder, started from the
hello's `seq`): out-of-order, duplicated and lost messages, messages received and connected seconds
are counted into the process's Tallies.ws, shipped to the master with the other tallies
(erpload.locust.wsorder turns them into the ws_* SLA metrics).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import gevent
import websocket

from erpload.core.tallies import tallies_for
from erpload.core.wsorder import StreamOrder, missed_between, seq_of
from erpload.users.base import ErpUser

CONNECT, EVENT, BROADCAST = "WS connect", "WS work-order-event", "WS broadcast"
EVENTS_OP = "events"  # the API map's WebSocket operation: path, and the query parameter carrying the token
_connected: set[int] = set()  # ids of users with an open connection in this process
_fanout: dict[
    int, list[float]
] = {}  # event seq -> [expected receivers, received, max latency ms, first seen]


class WsUser(ErpUser):
    """Abstract: an ErpUser that also listens on the ERP's event stream (operation `events`) for the whole session."""

    abstract = True
    ws_timeout = 10.0

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.ws: websocket.WebSocket | None = None
        self._reader: gevent.Greenlet | None = None
        self.events_seen = 0
        self.order: StreamOrder | None = None  # the current connection's stream (None until its hello)
        self._last_seq: int | None = None  # highest seq of the previous stream (reconnect: not lost)
        self._connected_at = 0.0
        self.ws_path = self.api_map.url_path(EVENTS_OP)  # base path + the operation's path

    def on_start(self) -> None:
        """Log in (ErpUser), then connect the event stream."""
        super().on_start()
        if self.token:
            self.connect_ws()

    def on_stop(self) -> None:
        self.close_ws()

    def _fire(self, name: str, ms: float, length: int, exc: BaseException | None = None) -> None:
        self.environment.events.request.fire(
            request_type="WS",
            name=name,
            response_time=ms,
            response_length=length,
            response=None,
            context=self.context(),
            exception=exc,
            start_time=time.time(),
            url=self.ws_path,
        )

    def connect_ws(self) -> None:
        """Open the stream; record the handshake time (or the failure)."""
        param = self.api_map.op(EVENTS_OP).token_param
        host = (self.host or "").replace("https://", "wss://").replace("http://", "ws://").rstrip("/")
        url = host + self.ws_path
        if param:  # the token in the query string, as the map says; else in the auth header
            url += ("&" if "?" in url else "?") + urlencode({param: self.token})
        header = None if param else [f"{k}: {v}" for k, v in self._auth.items()]
        t0 = time.perf_counter()
        try:
            ws = websocket.create_connection(
                url, header=header, timeout=self.ws_timeout, enable_multithread=False
            )
        except Exception as e:
            self._fire(CONNECT, (time.perf_counter() - t0) * 1000, 0, e)
            return
        self._fire(CONNECT, (time.perf_counter() - t0) * 1000, 0)
        self.ws = ws
        self._connected_at = time.monotonic()
        _connected.add(id(self))
        self._reader = gevent.spawn(self._read_loop, ws)

    def close_ws(self) -> None:
        _connected.discard(id(self))
        self._end_stream()
        if self._reader is not None:
            self._reader.kill(block=False)
            self._reader = None
        if self.ws is not None:
            try:
                self.ws.close(timeout=1)
            except Exception:  # noqa: BLE001 - the peer may be gone already
                pass
            self.ws = None

    def _read_loop(self, ws: websocket.WebSocket) -> None:
        ws.settimeout(None)  # idle floors are quiet: wait for the next event however long it takes
        while True:
            try:
                text = ws.recv()
            except Exception as e:  # closed by the server (restart, outage) or the network
                _connected.discard(id(self))
                if self.ws is ws:
                    self._end_stream()
                    self._fire(EVENT, 0, 0, ConnectionError(f"event stream closed: {type(e).__name__}"))
                    self.ws = None
                return
            now = time.time() * 1000
            try:
                event = json.loads(text)
                created = float(event["created_at"])
            except (ValueError, KeyError, TypeError) as e:
                self._fire(EVENT, 0, len(text or ""), ValueError(f"bad event: {type(e).__name__}"))
                continue
            if event.get("type") == "hello":
                self._start_stream(event.get("seq"))
                continue
            if self.order is None:  # no hello: the first event starts the stream
                self._start_stream(None)
            assert self.order is not None
            self.order.observe(event.get("seq"))
            latency = max(0.0, now - created)
            self.events_seen += 1
            self._fire(EVENT, latency, len(text))
            self._fanout(int(event.get("seq", 0)), latency, now)

    def _start_stream(self, hello_seq: Any) -> None:
        counts = tallies_for(self.environment).ws
        self._close_order()
        gap = missed_between(self._last_seq, hello_seq)
        if gap:
            counts["missed_disconnected"] += gap
        self.order = StreamOrder(counts, seq_of(hello_seq))

    def _close_order(self) -> None:
        order, self.order = self.order, None
        if order is not None:
            order.close()
            self._last_seq = order.highest if order.highest is not None else self._last_seq

    def _end_stream(self) -> None:
        """Close the stream's order check (still-missing seqs are lost) and count its connected seconds."""
        self._close_order()
        if self._connected_at:
            tallies_for(self.environment).ws["stream_seconds"] += time.monotonic() - self._connected_at
            self._connected_at = 0.0

    def _fanout(self, seq: int, latency: float, now: float) -> None:
        row = _fanout.get(seq)
        if row is None:
            row = _fanout[seq] = [float(len(_connected)), 0.0, 0.0, now]
            for old in [s for s, r in _fanout.items() if now - r[3] > 10_000]:
                _fanout.pop(old, None)  # receivers that left never complete an event: forget it
        row[1] += 1
        row[2] = max(row[2], latency)
        if row[1] >= row[0]:
            _fanout.pop(seq, None)
            self._fire(BROADCAST, row[2], int(row[1]))

    def ensure_ws(self) -> None:
        """Reconnect a dropped stream (after a restart or an outage)."""
        if self.ws is None and self.token:
            self.connect_ws()
