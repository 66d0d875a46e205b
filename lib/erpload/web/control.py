"""Run control from the web UI: Stop pressed while a profile is still running interrupts the run.

Headless, a signal before the profile's end makes the run ABORTED (exit 5). In the web UI the
process lives on after Stop, so by the time it quits the clock is past the profile's end and the
run would read as complete ("PASS"). The Stop request is therefore recorded as it happens, through
`environment.erpload.mark_interrupted(reason)`. A profile that ends by itself (its shape's tick
returned None, Locust stops the runner without /stop) is a normal end and is not marked.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import request
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING

from erpload.locust.shapes import current_profile
from erpload.web.login import is_authorized

__all__ = ["install_stop_control", "interrupt_reason"]
log = logging.getLogger("erpload")


def interrupt_reason(environment: Environment) -> str | None:
    """What a Stop right now would interrupt ('stopped from the web UI at 12.3s'), or None if nothing."""
    runner = environment.runner
    run = getattr(environment, "erpload", None)
    if runner is None or run is None or current_profile(environment) is None:
        return None  # no profile: Stop is how a plain run ends
    if runner.state not in (STATE_SPAWNING, STATE_RUNNING):
        return None
    shape = getattr(runner, "shape_greenlet", None)
    if shape is None or shape.dead:
        return None  # the profile finished by itself: a normal end
    return f"stopped from the web UI at {run.recorder.elapsed():.1f}s"


def install_stop_control(environment: Environment, web_ui: Any) -> None:
    """Mark the run interrupted when the UI's Stop (POST /stop) cuts a running profile short."""

    @web_ui.app.before_request
    def _stop_interrupts() -> None:
        if request.endpoint != "locust.stop" or request.method != "POST" or not is_authorized(web_ui):
            return None
        reason = interrupt_reason(environment)
        run = getattr(environment, "erpload", None)
        if reason is None or run is None:
            return None
        run.mark_interrupted(reason)  # logs it, and makes the verdict ABORTED
        return None
