"""Worker side of the health checks: a final report and a goodbye on a graceful quit; exit when the master is gone.

See erpload.locust.health for the master side and why Locust alone is not enough.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import STATE_RUNNING, STATE_SPAWNING, WorkerRunner

from erpload.core.errors import ExitCode

log = logging.getLogger("erpload.locust.health")

BYE = "erpload_bye"
HARD_EXIT_S = 15.0  # a worker that cannot shut down cleanly after losing its master is ended anyway


def opt(environment: Environment, name: str, default: float) -> float:
    """A float option of this process, or `default` when unset (or no parsed options)."""
    value = getattr(environment.parsed_options, name, None) if environment.parsed_options else None
    return float(value) if value else default


class WorkerSide:
    """Final report + goodbye on a graceful quit; exit by itself when the master goes silent."""

    def __init__(self, environment: Environment) -> None:
        self.env = environment
        self.runner: WorkerRunner = environment.runner  # type: ignore[assignment]
        self.requests = 0  # requests this process made in the current run
        self.last_master_beat: float | None = None

    def install(self, exchange: Any = None) -> None:
        """Register; requests are counted through `exchange.listen` (erpload's one request listener) if given."""
        ev = self.env.events
        ev.test_start.add_listener(self._on_test_start)
        if exchange is not None:
            exchange.listen(self._on_request)
        else:
            ev.request.add_listener(self._on_request)
        ev.heartbeat_received.add_listener(self._on_heartbeat)
        ev.quitting.add_listener(
            self._on_quitting
        )  # fires before Locust's own "quit" message (reverse order)
        if getattr(self.env.parsed_options, "worker", False):  # a real `locust --worker` process only:
            gevent.spawn(self._watchdog)  # it may end the process, never an in-process test's worker

    def _on_test_start(self, **_: Any) -> None:
        self.requests = 0

    def _on_request(self, *_: Any, **__: Any) -> None:
        self.requests += 1

    def _on_heartbeat(self, **_: Any) -> None:
        self.last_master_beat = time.monotonic()

    def payload(self) -> dict[str, Any]:
        """With every report: requests made so far in this run (they are in this report's stats)."""
        return {"requests": self.requests}

    def _on_quitting(self, **_: Any) -> None:
        """Leaving while users run (SIGTERM/SIGINT): stop them, flush the last stats, say goodbye."""
        runner = self.runner
        if runner.state not in (STATE_RUNNING, STATE_SPAWNING):
            return  # the master told us to quit (it already has our final report) or nothing ran
        users = runner.user_count
        try:
            runner.stop()
            runner._send_stats()  # the last <3 s of samples, which Locust's own SIGTERM path drops
            runner.send_message(
                BYE,
                {"index": runner.worker_index, "users": users, "requests": self.requests, "pid": os.getpid()},
            )
            log.info(
                "erpload: worker %s leaving: %d users stopped, final report sent (%d requests in this run)",
                runner.worker_index,
                users,
                self.requests,
            )
        except Exception as e:  # the master may be gone: nothing more to do than leave
            log.warning("erpload: worker %s could not send its final report: %s", runner.worker_index, e)

    def _watchdog(self) -> None:
        timeout = opt(self.env, "master_timeout", 15.0)
        while True:
            gevent.sleep(1.0)
            beat = self.last_master_beat
            if beat is None or time.monotonic() - beat <= timeout:
                continue
            runner = self.runner
            log.error(
                "erpload: no heartbeat from the master at %s:%s for %.0fs (--master-timeout): "
                "this worker stops (exit %d)",
                runner.master_host,
                runner.master_port,
                timeout,
                int(ExitCode.RUN_INVALID),
            )
            self.env.process_exit_code = int(ExitCode.RUN_INVALID)
            gevent.spawn_later(HARD_EXIT_S, _hard_exit, int(ExitCode.RUN_INVALID))
            runner.quit()  # ends the main greenlet: Locust's normal shutdown path, then exit 4
            return


def _hard_exit(code: int) -> None:
    log.error("erpload: worker did not shut down within %.0fs; exiting (exit %d)", HARD_EXIT_S, code)
    logging.shutdown()
    os._exit(code)
