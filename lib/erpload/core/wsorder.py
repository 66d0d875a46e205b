"""Order and loss of a WebSocket event stream (pure): out-of-order, duplicated and lost messages.

The reference ERP numbers its events with one global `seq` (1, 2, 3, ... per target process) and sends
every event to every connected subscriber in seq order, without gaps; its `hello` carries `seq`, the
number of the last event before the subscription, so a stream's first event is hello.seq + 1
(docs/erp-api.md). One `StreamOrder` per connection therefore knows which seqs it must receive:

- in order: the next seq (the highest seen + 1);
- a gap: a higher seq; the skipped seqs become *missing*;
- out of order: a missing seq that arrives after a later one (it is then no longer missing);
- duplicated: a seq this stream already received, or one from before the stream started;
- lost: a missing seq still missing once `window` later seqs arrived (the bounded reorder window),
  or when the stream closes (a later seq did arrive, so it was skipped, not cut off by the close).
  A seq that arrives after being declared lost turns from lost into out of order (the last
  LOST_MEMORY lost seqs per stream are remembered; an older one counts as duplicated).

Messages published while a supervisor was disconnected are not lost: the ERP promises no replay,
so each connection is a new stream starting at its own hello. They are counted apart, as
`missed_disconnected` (next hello.seq - the highest seq of the previous stream), never as a failure.
Without a hello seq the first event starts the stream; events without an integer seq are `unsequenced`
(nothing can be judged from them). Counts go into a shared mapping (one per process: Tallies.ws).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import MutableMapping
from typing import Any

WINDOW = 64  # seqs: a missing message may arrive this many seqs late before it is lost
LOST_MEMORY = 1024  # lost seqs remembered per stream (a later arrival turns lost -> out_of_order)
COUNTS = (
    "received",  # every event (not the hello)
    "in_order",
    "out_of_order",
    "duplicated",
    "lost",
    "unsequenced",
    "expected",  # seqs the streams should have received: highest seq - start, summed over streams
    "streams",  # connections whose order was tracked
    "missed_disconnected",  # published while disconnected: not lost (no replay promised)
)


def seq_of(value: Any) -> int | None:
    """The event's seq as an int, or None (absent, a bool, a float, a string)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class StreamOrder:
    """Order/loss detector of one connection's event stream; adds its counts into `counts`."""

    def __init__(self, counts: MutableMapping[str, Any], start: int | None = None, window: int = WINDOW):
        if window < 1:
            raise ValueError(f"window must be >= 1 seq, got {window}")
        self.counts = counts
        self.window = window
        self.start = start  # seq of the last event before this stream (None: the first event decides)
        self.next = None if start is None else start + 1  # the seq expected next
        self.missing: OrderedDict[int, None] = OrderedDict()  # skipped seqs, oldest first
        self._lost: deque[int] = deque(maxlen=LOST_MEMORY)
        self._lost_set: set[int] = set()
        self.closed = False
        counts["streams"] = counts.get("streams", 0) + 1

    def _add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    @property
    def highest(self) -> int | None:
        """The highest seq received so far (None before the first)."""
        return None if self.next is None else self.next - 1

    def observe(self, seq: Any) -> str:
        """Count one received event; returns its verdict: in_order, out_of_order, duplicated or unsequenced."""
        self._add("received")
        s = seq_of(seq)
        if s is None:
            self._add("unsequenced")
            return "unsequenced"
        if self.next is None:  # no hello seq: this event starts the stream
            self.start, self.next = s - 1, s
        if s == self.next:
            verdict = "in_order"
            self.next += 1
        elif s > self.next:
            self._gap(self.next, s)
            self.next = s + 1
            verdict = "in_order"  # it is in order; the skipped ones are the problem
        elif s in self.missing:
            del self.missing[s]
            verdict = "out_of_order"
        elif s in self._lost_set:
            self._lost_set.discard(s)
            self._add("lost", -1)
            verdict = "out_of_order"
        else:  # already received, older than the window and not known lost, or before the stream started
            verdict = "duplicated"
        self._add(verdict)
        self._expire()
        return verdict

    def _gap(self, first: int, upto: int) -> None:
        """Seqs first..upto-1 were skipped: missing (only the last `window` can still arrive in time)."""
        beyond = max(0, (upto - first) - self.window)
        if beyond:
            self._add("lost", beyond)
        for m in range(first + beyond, upto):
            self.missing[m] = None

    def _expire(self) -> None:
        """Missing seqs that fell out of the reorder window are lost."""
        assert self.next is not None
        floor = self.next - 1 - self.window
        while self.missing:
            oldest = next(iter(self.missing))
            if oldest >= floor:
                break
            self.missing.popitem(last=False)
            self._declare_lost(oldest)

    def _declare_lost(self, seq: int) -> None:
        self._add("lost")
        if len(self._lost) == self._lost.maxlen:
            self._lost_set.discard(self._lost[0])
        self._lost.append(seq)
        self._lost_set.add(seq)

    def close(self) -> None:
        """The stream ended: every still-missing seq is lost (a later one arrived); idempotent."""
        if self.closed:
            return
        self.closed = True
        while self.missing:
            seq, _ = self.missing.popitem(last=False)
            self._declare_lost(seq)
        if self.next is not None and self.start is not None:
            self._add("expected", self.next - 1 - self.start)


def missed_between(previous_highest: int | None, hello_seq: Any) -> int:
    """Events published between two streams of one supervisor (not lost: no replay is promised)."""
    s = seq_of(hello_seq)
    if previous_highest is None or s is None:
        return 0
    return max(0, s - previous_highest)


def ws_figures(counts: dict[str, Any], duration_s: float) -> dict[str, Any] | None:
    """summary.json `correctness.websocket` from the summed counts; None when no stream was tracked.

    Fan-out: every event goes to every connected supervisor, so messages/s = events/s x connected
    supervisors; `connected_supervisors` is stream-seconds / run seconds (the mean), `events_per_s`
    the seqs a stream should receive per connected second.
    """
    streams = int(counts.get("streams", 0))
    if streams <= 0:
        return None
    received = int(counts.get("received", 0))
    stream_s = float(counts.get("stream_seconds", 0.0))
    out: dict[str, Any] = {
        "messages_received": received,
        "messages_per_s": round(received / duration_s, 2) if duration_s > 0 else None,
        "streams": streams,
        "out_of_order": int(counts.get("out_of_order", 0)),
        "duplicated": int(counts.get("duplicated", 0)),
        "lost": int(counts.get("lost", 0)),
        "unsequenced": int(counts.get("unsequenced", 0)),
        "missed_disconnected": int(counts.get("missed_disconnected", 0)),
        "reorder_window": WINDOW,
    }
    if duration_s > 0 and stream_s > 0:
        connected = stream_s / duration_s
        events = int(counts.get("expected", 0)) / stream_s
        out["connected_supervisors"] = round(connected, 2)
        out["events_per_s"] = round(events, 2)
        out["fan_out"] = (
            f"{events:.2f} events/s x {connected:.2f} connected supervisors = "
            f"{events * connected:.2f} messages/s expected, {out['messages_per_s']} received"
        )
    return out


def order_metric(counts: dict[str, Any], key: str) -> int | None:
    """ws_out_of_order / ws_lost / ws_duplicated: None (not measured) without a tracked, sequenced message."""
    if int(counts.get("streams", 0)) <= 0:
        return None
    judged = int(counts.get("received", 0)) - int(counts.get("unsequenced", 0))
    return int(counts.get(key, 0)) if judged > 0 else None
