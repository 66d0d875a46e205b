"""Requests in flight in this process: registered when sent, removed when answered, failures when cut off.

A request still waiting when its user is stopped (end of the run, ramp-down) never fires Locust's
request event: a target that answers one byte a second would show "4 requests, 0 failures". The
session registers every request here; one cut off by GreenletExit, or still open when the test
stops (`erpload.locust.inflight` drains the registry at test_stop), is fired as a failure with
its name and how long it had been waiting. Requests cut off younger than `GRACE_S` are only
counted in `ignored`: every run ends with a few users mid-request, and those are not the target's fault.
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GRACE_S", "IN_FLIGHT", "InFlight", "InFlightAtStop", "Meter"]

log = logging.getLogger(__name__)
GRACE_S = 1.0


@dataclass
class Meter:
    """Progress of one request: when it started and how many response bytes arrived (capped at `limit`)."""

    limit: int
    received: int = 0
    started: float = field(default_factory=time.monotonic)


class InFlightAtStop(Exception):
    """A request that was still waiting for its response when its user or the test stopped."""


@dataclass
class _Entry:
    request_type: str
    name: str
    url: str
    context: dict[str, Any]
    hook: Any  # the Environment's request EventHook
    meter: Meter
    start_wall: float


class InFlight:
    """This process's open requests; `abandon`/`drain` fire a failure for each one cut off."""

    def __init__(self) -> None:
        self._open: dict[int, _Entry] = {}
        self._ids = itertools.count()
        self.ignored = 0  # cut off younger than GRACE_S: not reported

    def __len__(self) -> int:
        return len(self._open)

    def start(
        self, request_type: str, name: str, url: str, context: dict[str, Any], hook: Any, meter: Meter
    ) -> int:
        """Register a request about to be sent; returns the token for `finish`/`abandon`."""
        token = next(self._ids)
        self._open[token] = _Entry(request_type, name, url, context, hook, meter, time.time())
        return token

    def finish(self, token: int) -> None:
        """The request completed (Locust reports it, success or failure)."""
        self._open.pop(token, None)

    def abandon(self, token: int, why: str = "in flight when its user stopped") -> None:
        """The request was cut off (GreenletExit): fire it as a failure now."""
        entry = self._open.pop(token, None)
        if entry is not None:
            self._fire(entry, why)

    def drain(self, why: str = "in flight at stop") -> int:
        """Fire every request still open as a failure (test_stop); returns how many were reported."""
        entries, self._open = list(self._open.values()), {}
        return sum(self._fire(entry, why) for entry in entries)

    def _fire(self, entry: _Entry, why: str) -> bool:
        waited = time.monotonic() - entry.meter.started
        if waited < GRACE_S:
            self.ignored += 1
            return False
        got = "some bytes received" if entry.meter.received else "no byte received"
        # whole seconds: a bounded set of texts keeps Locust's error table small (waits end at the deadline)
        message = f"{why}: no complete response after {int(waited)} s ({got})"
        try:
            entry.hook.fire(
                request_type=entry.request_type,
                name=entry.name,
                response_time=waited * 1000.0,
                response_length=entry.meter.received,
                response=None,
                context=entry.context,
                exception=InFlightAtStop(message),
                start_time=entry.start_wall,
                url=entry.url,
            )
        except Exception:
            log.exception("erpload: reporting an in-flight request failed")
        return True


IN_FLIGHT = InFlight()
"""The process-wide registry (one per process: Locust runs one Environment per process)."""
