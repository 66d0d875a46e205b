"""SIGINT/SIGTERM on a headless master (or local run): an interruption, reported as such.

Locust installs its SIGTERM handler only after `start_automatic_run()`, which blocks for a whole
shape run: until then SIGTERM (how Docker/Kubernetes stop a container) kills the process with no
report at all, and afterwards Locust's handler skips --html. Ctrl+C raises KeyboardInterrupt in
whichever greenlet happens to run (a traceback from the middle of a log call). gevent's loop-level
watchers run between greenlets instead: the handler records the interruption on the run
(`ErploadRun.mark_interrupted`, so the verdict is ABORTED however long the graceful stop takes)
and ends the shape (or quits the runner when no shape runs); Locust's normal end-of-run path does
the rest (--html, `quitting` -> our reports, exit code). A second signal exits at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

import gevent
from locust.env import Environment

from erpload.core.errors import ExitCode

log = logging.getLogger("erpload")


def install_graceful_signals(environment: Environment, run: Any) -> None:
    """Handle SIGINT/SIGTERM on a headless master or local runner (the web UI keeps Locust's own)."""
    if not getattr(environment.parsed_options, "headless", False):
        return
    seen: list[int] = []

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if seen:
            sys.stderr.write(f"erpload: second {name}: exiting at once (exit {int(ExitCode.ABORTED)})\n")
            sys.stderr.flush()
            os._exit(int(ExitCode.ABORTED))
        seen.append(signum)
        run.mark_interrupted(f"{name} received")
        log.warning(
            "erpload: got %s: stopping the run and writing reports (send it again to exit at once)", name
        )
        quit_headless_run(environment)

    for signum in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(signum, on_signal, signum)


def quit_headless_run(environment: Environment) -> None:
    """End a headless run early (signal, live SLA abort) so that the runner is stopped exactly once.

    Locust's main greenlet waits on the shape and then quits the runner itself: end only the shape
    then. Quitting the runner from here as well would stop it twice at once, and the second stop()
    re-stops users still finishing their task under --stop-timeout (Locust raises on that).
    """
    runner = environment.runner
    if runner is None:
        return
    shape = getattr(runner, "shape_greenlet", None)
    if shape is not None and not shape.dead:
        shape.kill(block=False)
    else:
        gevent.spawn(runner.quit)
