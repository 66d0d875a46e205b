"""Open-model pacing as a wait_time wrapper (the locust-plugins way: a function of the user, set on the class).

`paced(between(3, 8))` waits for an arrival token while the profile's open model is active (then the
next iteration starts at once) and otherwise returns the wrapped think time, or the run's
ERPLOAD_THINK_TIME override. `ErpUser` wraps every subclass's own `wait_time` with it.

Locust picks a user's first task at random right after `on_start`, before any wait_time: so a role
paced per operation (a profile's `rates:`) would start with one unpaced task. `start_paced(user)`,
called from `ErpUser.on_start`, queues a first step that sends nothing; the wait after it takes the
first token, whose operation runs next.

The tokens come from whatever `erpload.locust.arrival.install_arrival` attached to the user's
Environment as `environment.erpload_arrival` (anything with `take(user) -> bool`), and the
per-operation rates from `environment.erpload_rates` (`take(user) -> bool | None`, `paces(user) -> bool`,
erpload.locust.oprates): this package sits below erpload.locust and never imports it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from locust.exception import InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately, StopTest, StopUser

from erpload.users.settings import current

log = logging.getLogger(__name__)
PACER_ATTR = "erpload_arrival"  # the Environment attribute erpload.locust.arrival sets
INTENDED_ATTR = "erpload_intended"  # ... and erpload.locust.intended
RATES_ATTR = (
    "erpload_rates"  # ... and erpload.locust.oprates (per-operation rates: take(user) -> bool | None)
)
CONTROL = (StopUser, StopTest, InterruptTaskSet, RescheduleTask, RescheduleTaskImmediately)
WaitTime = Callable[[Any], float]


def paced(wait_time: WaitTime) -> WaitTime:
    """Wrap a wait_time: 0 s after an open-model token, else the run's think-time override or `wait_time`."""
    if getattr(wait_time, "erpload_paced", False):
        return wait_time

    def wait(user: Any) -> float:
        env = getattr(user, "environment", None)
        pacer, rates = getattr(env, PACER_ATTR, None), getattr(env, RATES_ATTR, None)
        if pacer is not None or rates is not None:  # block for a token while the open model is active
            try:
                got = rates.take(user) if rates is not None else None  # None: no rate for this user's role
                if got is None and pacer is not None:
                    got = pacer.take(user)
                if got:
                    return 0.0
            except CONTROL:
                raise
            except Exception as e:  # a pacing bug must not kill the user: count it, fall back to think time
                _pacing_failed(user, e)
        think = current().think_time
        seconds = think[0] + random.random() * (think[1] - think[0]) if think is not None else wait_time(user)
        recorder = getattr(env, INTENDED_ATTR, None)
        if recorder is not None:  # closed model: blocked-vs-think warning (erpload.locust.intended)
            recorder.thought(seconds)
        return seconds

    wait.erpload_paced = True  # type: ignore[attr-defined]
    wait.wrapped = wait_time  # type: ignore[attr-defined]
    wait.__doc__ = f"paced({getattr(wait_time, '__qualname__', wait_time)!s})"
    return wait


def start_paced(user: Any) -> None:
    """From on_start: a user whose role is paced per operation begins with a wait for a token, not a random task."""
    rates = getattr(getattr(user, "environment", None), RATES_ATTR, None)
    taskset = getattr(user, "_taskset_instance", None)
    if rates is None or taskset is None or not rates.paces(user):
        return
    taskset.schedule_task(await_token, first=True)


def await_token(user: Any) -> None:
    """The first step of a rates-paced user: sends nothing; the wait_time after it takes the first token."""


def _pacing_failed(user: Any, e: Exception) -> None:
    report = getattr(user, "_suite_error", None)
    if report is not None:
        report("wait_for_token", e)
    else:
        log.exception("erpload: open-model pacing failed for %s", type(user).__name__)
