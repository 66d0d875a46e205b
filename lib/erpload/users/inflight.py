"""Requests in flight in this process: registered when sent, removed when answered, failures when cut off.

A request still waiting when its user is stopped (end of the run, ramp-down) never fires Locust's
request event: a target that answers one byte a second would show "4 requests, 0 failures". The
session registers every request here; one cut off by GreenletExit, or still open when the test
stops (`erpload.locust.inflight` drains the registry at test_stop), is fired as a failure with
its name and how long it had been waiting. Requests cut off younger than `GRACE_S` are only
counted in `ignored`: every run ends with a few users mid-request, and those are not the target's fault.

One object per request (`Meter`, slots): the registry entry, the byte meter the transport caps,
and the request's start times, so registering a request costs one small allocation.
"""

from __future__ import annotations

import logging
from time import perf_counter, time
from typing import Any

__all__ = ["GRACE_S", "IN_FLIGHT", "InFlight", "InFlightAtStop", "Meter"]

log = logging.getLogger(__name__)
GRACE_S = 1.0


class Meter:
    """One request: what its failure report needs, when it started, how many response bytes arrived.

    `started` is `time.perf_counter()` (the request's response time and deadline run from it),
    `start_wall` is `time.time()` (Locust's `start_time`); `received` is capped at `limit`.
    """

    __slots__ = (
        "limit",
        "received",
        "started",
        "start_wall",
        "request_type",
        "name",
        "url",
        "context",
        "hook",
    )

    def __init__(
        self,
        limit: int,
        request_type: str = "",
        name: str = "",
        url: str = "",
        context: dict[str, Any] | None = None,
        hook: Any = None,  # the Environment's request EventHook
    ) -> None:
        self.limit, self.received = limit, 0
        self.request_type, self.name, self.url, self.context, self.hook = (
            request_type,
            name,
            url,
            context,
            hook,
        )
        self.start_wall = time()
        self.started = perf_counter()


class InFlightAtStop(Exception):
    """A request that was still waiting for its response when its user or the test stopped."""


class InFlight:
    """This process's open requests; `abandon`/`drain` fire a failure for each one cut off."""

    def __init__(self) -> None:
        self._open: dict[Meter, None] = {}  # an insertion-ordered set of the open requests
        self.ignored = 0  # cut off younger than GRACE_S: not reported

    def __len__(self) -> int:
        return len(self._open)

    def start(
        self, request_type: str, name: str, url: str, context: dict[str, Any] | None, hook: Any, limit: int
    ) -> Meter:
        """Register a request about to be sent; returns its entry (the token for `finish`/`abandon`)."""
        meter = Meter(limit, request_type, name, url, context, hook)
        self._open[meter] = None
        return meter

    def finish(self, token: Meter) -> None:
        """The request completed (Locust reports it, success or failure)."""
        self._open.pop(token, None)

    def abandon(self, token: Meter, why: str = "in flight when its user stopped") -> None:
        """The request was cut off (GreenletExit): fire it as a failure now."""
        if token in self._open:
            del self._open[token]
            self._fire(token, why)

    def drain(self, why: str = "in flight at stop") -> int:
        """Fire every request still open as a failure (test_stop); returns how many were reported."""
        entries, self._open = list(self._open), {}
        return sum(self._fire(entry, why) for entry in entries)

    def _fire(self, entry: Meter, why: str) -> bool:
        waited = perf_counter() - entry.started
        if waited < GRACE_S:
            self.ignored += 1
            return False
        got = "some bytes received" if entry.received else "no byte received"
        # whole seconds: a bounded set of texts keeps Locust's error table small (waits end at the deadline)
        message = f"{why}: no complete response after {int(waited)} s ({got})"
        try:
            entry.hook.fire(
                request_type=entry.request_type,
                name=entry.name,
                response_time=waited * 1000.0,
                response_length=entry.received,
                response=None,
                context=entry.context if entry.context is not None else {},
                exception=InFlightAtStop(message),
                start_time=entry.start_wall,
                url=entry.url,
            )
        except Exception:
            log.exception("erpload: reporting an in-flight request failed")
        return True


IN_FLIGHT = InFlight()
"""The process-wide registry (one per process: Locust runs one Environment per process)."""
