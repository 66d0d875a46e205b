"""Worker health in distributed runs: lost or departed workers make the run INVALID, never a silent pass.

Locust alone lets a run pass with a third of its load missing: a SIGKILLed worker is only marked
"missing" after ~4 s of silence and the run still exits 0; a worker stopped with SIGTERM drops up to
3 s of unreported stats; a worker whose master died waits 60 s; too few workers exit 1 (which our
exit codes reserve for request failures). Here:

- master: a worker silent for `--worker-lost-timeout` (default 3 s) mid-run, or gone without saying
  goodbye, is "worker lost" -> `run.mark_invalid` (exit 4). The run continues to the end of its
  profile on the remaining workers so the reports still show what happened; the verdict is INVALID.
- worker: on a graceful quit mid-run (SIGTERM/SIGINT) it stops its users, sends a final stats report
  and then an `erpload_bye` message; the master checks it received every request the worker counted.
  If the remaining workers do not take over its users within a grace period: "worker left" (exit 4).
- worker: no heartbeat from the master for `--master-timeout` (default 15 s) -> exit 4 by itself.
- master: `--expect-workers` not reached within `--expect-workers-max-wait` -> a message naming
  expected vs connected workers and how to fix it, exit 2 (nothing was sent to the target).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import STATE_MISSING, STATE_RUNNING, STATE_SPAWNING, MasterRunner, WorkerRunner

from erpload.core.errors import ExitCode

log = logging.getLogger("erpload.locust.health")

BYE = "erpload_bye"
POLL_S = 0.5
LEFT_GRACE_S = (
    8.0  # > 2 worker report intervals: time for the remaining workers to report the re-dispatched users
)
HARD_EXIT_S = 15.0  # a worker that cannot shut down cleanly after losing its master is ended anyway


def add_options(parser: Any) -> None:
    """Distributed-run options (every process reads its own; none shown in the web UI)."""
    parser.add_argument(
        "--master-timeout",
        type=float,
        default=15.0,
        env_var="ERPLOAD_MASTER_TIMEOUT",
        include_in_web_ui=False,
        help="worker: exit (code 4) after N s without a heartbeat from the master (default 15; "
        "Locust alone waits 60)",
    )
    parser.add_argument(
        "--worker-lost-timeout",
        type=float,
        default=3.0,
        env_var="ERPLOAD_WORKER_LOST_TIMEOUT",
        include_in_web_ui=False,
        help="master: a worker silent for N s mid-run is lost and the run INVALID (default 3)",
    )


def install_health(environment: Environment, run: Any) -> None:
    """Install the side of the health checks this process needs (master or worker; nothing when local)."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        _WorkerSide(environment).install()
    elif isinstance(runner, MasterRunner):
        _MasterWatch(environment, run).install()


def _opt(environment: Environment, name: str, default: float) -> float:
    value = getattr(environment.parsed_options, name, None) if environment.parsed_options else None
    return float(value) if value else default


class _WorkerSide:
    """Final report + goodbye on a graceful quit; exit by itself when the master goes silent."""

    def __init__(self, environment: Environment) -> None:
        self.env = environment
        self.runner: WorkerRunner = environment.runner  # type: ignore[assignment]
        self.requests = 0  # requests this process made in the current run
        self.last_master_beat: float | None = None

    def install(self) -> None:
        ev = self.env.events
        ev.test_start.add_listener(self._on_test_start)
        ev.request.add_listener(self._on_request)
        ev.heartbeat_received.add_listener(self._on_heartbeat)
        ev.quitting.add_listener(
            self._on_quitting
        )  # fires before Locust's own "quit" message (reverse order)
        if getattr(self.env.parsed_options, "worker", False):  # a real `locust --worker` process only:
            gevent.spawn(self._watchdog)  # it may end the process, never an in-process test's worker

    def _on_test_start(self, **_: Any) -> None:
        self.requests = 0

    def _on_request(self, **_: Any) -> None:
        self.requests += 1

    def _on_heartbeat(self, **_: Any) -> None:
        self.last_master_beat = time.monotonic()

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
        timeout = _opt(self.env, "master_timeout", 15.0)
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


class _Node:
    """What the master knows about one worker during a run."""

    __slots__ = ("index", "seen", "users", "received", "alive")

    def __init__(self, index: int, now: float) -> None:
        self.index = index
        self.seen = now  # monotonic time of its last heartbeat or report
        self.users = 0  # last user count it had while healthy
        self.received = 0  # requests merged from its reports in this run
        self.alive = True


class _MasterWatch:
    """Detect lost and departed workers while a run is live; explain a short worker count."""

    def __init__(self, environment: Environment, run: Any) -> None:
        self.env = environment
        self.run = run
        self.runner: MasterRunner = environment.runner  # type: ignore[assignment]
        self.nodes: dict[str, _Node] = {}
        self.left: list[dict[str, Any]] = []  # graceful departures awaiting the re-dispatch check
        self.active = False
        self.timeout = _opt(environment, "worker_lost_timeout", 3.0)
        self._greenlet: Any = None

    def install(self) -> None:
        ev = self.env.events
        ev.test_start.add_listener(self._on_test_start)
        ev.test_stopping.add_listener(self._on_stop)
        ev.quitting.add_listener(self._on_stop)
        ev.heartbeat_sent.add_listener(self._on_heartbeat)
        ev.worker_report.add_listener(self._on_report)
        self.runner.register_message(BYE, self._on_bye)
        self.run.finalizers.append(self._finalize)
        logging.getLogger("locust.main").addHandler(_TooFewWorkers(self.env))

    # -- events ----------------------------------------------------------------------------------
    def _on_test_start(self, **_: Any) -> None:
        self.nodes.clear()
        self.left.clear()
        self.timeout = _opt(self.env, "worker_lost_timeout", 3.0)
        self.active = True
        if self._greenlet is None or self._greenlet.dead:
            self._greenlet = gevent.spawn(self._watch)

    def _on_stop(self, **_: Any) -> None:
        self.active = False

    def _node(self, client_id: str) -> _Node:
        node = self.nodes.get(client_id)
        if node is None:
            node = self.nodes[client_id] = _Node(self.runner.get_worker_index(client_id), time.monotonic())
        return node

    def _on_heartbeat(self, client_id: str, **_: Any) -> None:
        if self.active:
            self._node(client_id).seen = time.monotonic()

    def _on_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        if not self.active and client_id not in self.nodes:
            return
        node = self._node(client_id)
        node.seen = time.monotonic()
        total = data.get("stats_total") or {}
        node.received += int(total.get("num_requests", 0) or 0)

    def _on_bye(self, environment: Environment, msg: Any, **_: Any) -> None:
        node = self.nodes.get(msg.node_id)
        data = msg.data or {}
        sent, received = int(data.get("requests", 0)), node.received if node else 0
        flushed = "complete" if received >= sent else f"INCOMPLETE: {received} of {sent} requests received"
        if node is not None:
            node.alive = False
        if not self.active:
            return
        at = self.run.recorder.elapsed()
        users = int(data.get("users", 0))
        log.warning(
            "erpload: worker %s left at %.1fs with %d users; final report %s (%d of %d requests received)",
            data.get("index"),
            at,
            users,
            flushed,
            received,
            sent,
        )
        self.run.recorder.timeline.mark_event(at, f"worker {data.get('index')} left ({users} users)")
        self.left.append(
            {
                "index": data.get("index"),
                "users": users,
                "at_s": at,
                "deadline": time.monotonic() + LEFT_GRACE_S,
                "flushed": flushed,
            }
        )

    # -- the watch loop --------------------------------------------------------------------------
    def _watch(self) -> None:
        last = time.monotonic()
        while True:
            gevent.sleep(POLL_S)
            now = time.monotonic()
            lagging = now - last > POLL_S + 1.0  # our own loop stalled: heartbeats may simply be queued
            last = now
            if not self.active or lagging:
                continue
            try:
                self._check(now)
            except Exception:  # the watch must never take the master down
                log.exception("erpload: worker health check failed")

    def _check(self, now: float) -> None:
        clients = {c.id: c for c in self.runner.clients.all}
        for cid, c in clients.items():
            node = self._node(cid)
            if node.alive and c.state != STATE_MISSING and c.user_classes_count:
                node.users = sum(c.user_classes_count.values())
        for cid, node in self.nodes.items():
            if not node.alive:
                continue
            c = clients.get(cid)
            silent = now - node.seen
            if silent > self.timeout or (c is not None and c.state == STATE_MISSING):
                self._lost(node, silent, "stopped reporting")
            elif c is None:  # removed by Locust without our goodbye (e.g. a worker without erpload)
                self._lost(node, silent, "disconnected without a final report", reason="worker left")
        for entry in list(self.left):
            if now >= entry["deadline"]:
                self.left.remove(entry)
                self._check_redelivered(entry)

    def _lost(self, node: _Node, silent: float, what: str, reason: str = "worker lost") -> None:
        node.alive = False
        at = max(0.0, self.run.recorder.elapsed() - silent)
        self.run.mark_invalid(
            reason,
            f"worker {node.index} {what} at {at:.1f}s; {node.users} users lost "
            f"(detected after {silent:.1f}s of silence)",
        )

    def _check_redelivered(self, entry: dict[str, Any]) -> None:
        runner = self.runner
        have, want = runner.user_count, runner.target_user_count
        if runner.worker_count == 0 or have < want:
            self.run.mark_invalid(
                "worker left",
                f"worker {entry['index']} left at {entry['at_s']:.1f}s with "
                f"{entry['users']} users; {LEFT_GRACE_S:.0f}s later the remaining "
                f"{runner.worker_count} worker(s) ran {have} of {want} users",
            )
        else:
            log.info(
                "erpload: the %d users of worker %s now run on the remaining %d worker(s)",
                entry["users"],
                entry["index"],
                runner.worker_count,
            )

    def _finalize(self, run: Any) -> None:
        for entry in self.left:  # the run ended before the check: its load was not re-delivered in time
            run.mark_invalid(
                "worker left",
                f"worker {entry['index']} left at {entry['at_s']:.1f}s with "
                f"{entry['users']} users; the run ended before they were re-dispatched",
            )
        self.left.clear()


class _TooFewWorkers(logging.Handler):
    """Turns Locust's bare "Gave up waiting for workers to connect" (exit 1) into an actionable error (exit 2)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(logging.ERROR)
        self.env = environment

    def emit(self, record: logging.LogRecord) -> None:
        if not record.getMessage().startswith("Gave up waiting for workers"):
            return
        runner: MasterRunner = self.env.runner  # type: ignore[assignment]
        opts = self.env.parsed_options
        ready = [f"index {runner.get_worker_index(c.id)} ({c.id})" for c in runner.clients.ready]
        port = getattr(opts, "master_bind_port", 5557)
        log.error(
            "erpload: only %d of %d expected workers connected within --expect-workers-max-wait %ss "
            "(connected: %s). Nothing was sent to the target. Fix: start the missing workers "
            "(locust -f locustfiles/ --worker --master-host <this host> --master-port %s), check that TCP port %s "
            "on this host is reachable from them, or lower --expect-workers. Exit %d.",
            len(ready),
            getattr(opts, "expect_workers", 0),
            getattr(opts, "expect_workers_max_wait", 0),
            ", ".join(ready) or "none",
            port,
            port,
            int(ExitCode.CONFIG_INVALID),
        )
        runner.quit()  # tells the connected workers to quit, as Locust would
        logging.shutdown()
        os._exit(int(ExitCode.CONFIG_INVALID))
