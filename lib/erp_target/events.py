"""Work-order events over a WebSocket: `GET /ws/events?token=JWT` pushes every business change as JSON.

Each state change that succeeds (claim, note, cutting/sewing/finishing step, QC result, receipt,
stock adjust, new MO) becomes one event ``{"seq", "type", "created_at", "by", "data"}`` where
`created_at` is the server's epoch time in milliseconds (float) taken right after the change
committed, so a client on the same clock measures event latency as ``now_ms - created_at``.
Served with simple-websocket (wsproto) on the gevent pywsgi server: one greenlet per connection.

Order: `seq` is one global counter per target process (1, 2, 3, ...), assigned when the event is
published; every subscriber gets every event published while it is connected, in seq order, with no
gaps (a subscriber QUEUE_MAX events behind is disconnected instead). The hello carries `seq`, the
last seq before the subscription, so a stream's first event is hello.seq + 1. No replay: events
published while a client was disconnected are not sent after it reconnects. The fault switches
`ws_drop_rate` (an event is not sent on a connection) and `ws_reorder_rate` (an event is held back
and sent right after the next one) break this on purpose, per connection.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import gevent.queue
from flask import Blueprint, Flask, Response, current_app, g, request
from simple_websocket import ConnectionClosed, Server

from .errors import ApiError
from .faults import AbortConnection
from .rbac import ENDPOINTS, route
from .state import state

log = logging.getLogger(__name__)
bp = Blueprint("events", __name__)
EXTENSION = "erp_target.events"
WS_PATH = "/ws/events"
QUERY_TOKEN_PATHS = frozenset(
    {WS_PATH}
)  # rows that also take the token as ?token= (no headers on a WS handshake)
QUEUE_MAX = 10_000  # a subscriber this far behind is disconnected instead of growing memory without bound
EVENT_TYPES = {
    ("POST", "/ppic/manufacturing-orders"): "mo.created",
    ("POST", "/production/work-orders/{id}/claim"): "work_order.claimed",
    ("PATCH", "/production/work-orders/{id}"): "work_order.note",
    ("POST", "/production/cutting"): "work_order.step",
    ("POST", "/production/sewing"): "work_order.step",
    ("POST", "/production/finishing"): "work_order.step",
    ("POST", "/qc/tests/{id}/result"): "qc.result",
    ("POST", "/warehouse/receipts/{id}/receive"): "receipt.received",
    ("POST", "/warehouse/stock/{sku}/adjust"): "stock.adjusted",
}


class EventHub:
    """Fan-out of encoded events to one bounded queue per connected subscriber."""

    def __init__(self) -> None:
        self.subscribers: set[gevent.queue.Queue] = set()
        self.seq = 0

    def subscribe(self) -> gevent.queue.Queue:
        q: gevent.queue.Queue = gevent.queue.Queue(QUEUE_MAX)
        self.subscribers.add(q)
        return q

    def unsubscribe(self, q: gevent.queue.Queue) -> None:
        self.subscribers.discard(q)

    def publish(self, kind: str, by: str, data: Any) -> dict[str, Any] | None:
        """Encode once, queue for every subscriber; returns the event (None when nobody listens)."""
        if not self.subscribers:
            return None
        self.seq += 1
        event = {
            "seq": self.seq,
            "type": kind,
            "created_at": round(time.time() * 1000, 3),
            "by": by,
            "data": data,
        }
        text = json.dumps(event, separators=(",", ":"))
        for q in list(self.subscribers):
            try:
                q.put_nowait(text)
            except gevent.queue.Full:
                self.subscribers.discard(q)
                q.put_nowait(None)  # never blocks: get() drains; None tells the sender to hang up
        return event


def hub() -> EventHub:
    """The app's EventHub."""
    return current_app.extensions[EXTENSION]


def publish_after(response: Response) -> Response:
    """after_request: turn a successful business change into an event."""
    if response.status_code not in (200, 201):
        return response
    op = ENDPOINTS.get(request.endpoint or "")
    kind = EVENT_TYPES.get((op.method, op.path)) if op else None
    if kind is None:
        return response
    h = hub()
    if not h.subscribers:
        return response
    data = response.get_json(silent=True)
    if kind == "work_order.step" and isinstance(data, dict):
        if (data.get("work_order") or {}).get("status") == "done":
            kind = "work_order.done"
    if kind == "stock.adjusted" and isinstance(data, dict) and data.get("replayed"):
        return response  # a replay changed nothing
    who = getattr(g, "principal", None)
    h.publish(kind, who.username if who else "", data)
    return response


class _Upgraded(Response):
    """What the view returns after a WebSocket session: no HTTP response may follow on that socket."""

    def __call__(self, environ: Any, start_response: Any) -> Any:  # type: ignore[override]
        raise AbortConnection(reset=False, label="101")


@route(bp, "GET", WS_PATH)
def ws_events() -> Response:
    """Upgrade to a WebSocket and stream events until the client closes (or the server stops)."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise ApiError(400, "bad_request", f"GET {WS_PATH} needs a WebSocket upgrade (Upgrade: websocket)")
    st = state()
    ws = Server.accept(request.environ)
    h = hub()
    q = h.subscribe()
    start = h.seq  # no yield since subscribe(): every later event reaches q
    who = getattr(g, "principal", None)
    held: str | None = None  # ws_reorder_rate: an event sent after the next one
    try:
        hello = {
            "type": "hello",
            "seq": start,
            "created_at": round(time.time() * 1000, 3),
            "user": who.to_json() if who else None,
        }
        ws.send(json.dumps(hello))
        while ws.connected and not st.faults.stopping.is_set():
            try:
                text = q.get(timeout=1.0)
            except gevent.queue.Empty:
                if held is not None:  # nothing followed it: send it late, still in order
                    ws.send(held)
                    held = None
                continue
            if text is None:
                break
            fate = st.faults.ws_fate()
            if fate == "drop":
                continue
            if fate == "hold" and held is None:
                held = text
                continue
            ws.send(text)
            if held is not None:
                st.faults.on_inject("ws_reorder")
                ws.send(held)
                held = None
    except ConnectionClosed:
        pass
    finally:
        h.unsubscribe(q)
        try:
            ws.close()
        except Exception:  # noqa: BLE001 - closing a dead socket
            pass
    return _Upgraded()


# Werkzeug routes an `Upgrade: websocket` request only to rules marked websocket=True (and a plain GET only
# to the others): the same view serves both, so a plain GET still gets the JSON 401/400 of the contract.
bp.add_url_rule(WS_PATH, endpoint="ws_events", view_func=ws_events, methods=["GET"], websocket=True)


def install(app: Flask) -> None:
    """Register the blueprint, the hub and the publishing hook on `app`."""
    app.extensions[EXTENSION] = EventHub()
    app.register_blueprint(bp)
    app.after_request(publish_after)
