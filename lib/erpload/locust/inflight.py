"""At test_stop, every request still in flight in this process is a failure ("in flight at stop").

The registry lives in `erpload.users.inflight` (the session registers each request there);
this module only wires its drain to the run's lifecycle. Requests cut off while Locust kills the
users are reported by the session itself; the drain catches the ones no GreenletExit reached
(a user killed without blocking, a custom client). It runs on every process, before a worker's
final report, so the master's verdict counts them.
"""

from __future__ import annotations

import logging
from typing import Any

from locust.env import Environment

from erpload.users.inflight import GRACE_S, IN_FLIGHT

__all__ = ["install_inflight"]

log = logging.getLogger(__name__)


def install_inflight(environment: Environment) -> None:
    """Drain the in-flight registry at each test_stop (idempotent per Environment)."""
    if getattr(environment, "_erpload_inflight", False):
        return
    environment._erpload_inflight = True  # type: ignore[attr-defined]

    def on_test_stop(**_: Any) -> None:
        reported = IN_FLIGHT.drain()
        if reported or IN_FLIGHT.ignored:
            (log.warning if reported else log.debug)(
                "erpload: %d request(s) still in flight at stop (%d under %.0f s not counted)",
                reported,
                IN_FLIGHT.ignored,
                GRACE_S,
            )
        IN_FLIGHT.ignored = 0

    environment.events.test_stop.add_listener(on_test_stop)
