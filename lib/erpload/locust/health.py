"""Worker health in distributed runs: lost or departed workers make the run INVALID, never a silent pass.

Locust alone lets a run pass with a third of its load missing: a SIGKILLed worker is only marked
"missing" after ~4 s of silence and the run still exits 0; a worker stopped with SIGTERM drops up to
3 s of unreported stats; a worker whose master died waits 60 s; too few workers exit 1 (which our
exit codes reserve for request failures). Here:

- master: a worker silent for `--worker-lost-timeout` (default 3 s) mid-run, or gone without saying
  goodbye, is "worker lost" -> `run.mark_invalid` (exit 4). The run continues to the end of its
  profile on the remaining workers so the reports still show what happened; the verdict is INVALID.
- worker (erpload.locust.health_worker): on a graceful quit mid-run (SIGTERM/SIGINT) it stops its
  users, sends a final stats report and then an `erpload_bye` message; the master checks it received
  every request the worker counted. If the remaining workers do not take over its users within a
  grace period: "worker left" (exit 4).
- worker: no heartbeat from the master for `--master-timeout` (default 15 s) -> exit 4 by itself.
- master: too few workers -> exit 2 (erpload.locust.checks.TooFewWorkers).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import gevent
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from erpload.locust.health_worker import BYE, WorkerSide, opt

log = logging.getLogger("erpload.locust.health")

KEY = "health"  # data["erpload"]["health"] in every worker report: {"requests": n so far in this run}
POLL_S = 0.5
LEFT_GRACE_S = 8.0  # > 2 worker report intervals: for the remaining workers to report the re-dispatched users


def install_health(environment: Environment, run: Any) -> None:
    """Install the side of the health checks this process needs (master or worker; nothing when local).

    Periodic worker data rides the one worker -> master path, `run.exchange` (data["erpload"]["health"]):
    the worker provides its request count with every report, the master merges it.
    """
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        side = run.health = WorkerSide(environment)
        side.install(run.exchange)
        run.exchange.provide(KEY, side.payload)
    elif isinstance(runner, MasterRunner):
        watch = run.health = _MasterWatch(environment, run)
        watch.install()
        run.exchange.merge(KEY, watch.on_payload)


class _Node:
    """What the master knows about one worker during a run."""

    __slots__ = ("index", "seen", "users", "received", "alive")

    def __init__(self, index: int, now: float) -> None:
        self.index = index
        self.seen = now  # monotonic time of its last heartbeat or report
        self.users = 0  # last user count it had while healthy
        self.received = 0  # requests its last merged report covered (cumulative in this run)
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
        self.timeout = opt(environment, "worker_lost_timeout", 3.0)
        self._greenlet: Any = None

    def install(self) -> None:
        ev = self.env.events
        ev.test_start.add_listener(self._on_test_start)
        ev.test_stopping.add_listener(self._on_stop)
        ev.quitting.add_listener(self._on_stop)
        ev.heartbeat_sent.add_listener(self._on_heartbeat)
        self.runner.register_message(BYE, self._on_bye)
        self.run.finalizers.append(self._finalize)

    # -- events ----------------------------------------------------------------------------------
    def _on_test_start(self, **_: Any) -> None:
        self.nodes.clear()
        self.left.clear()
        self.timeout = opt(self.env, "worker_lost_timeout", 3.0)
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

    def on_payload(self, client_id: str, payload: Any) -> None:
        """One worker report's health data (via the exchange): the worker is alive; its requests so far."""
        if not self.active and client_id not in self.nodes:
            return
        node = self._node(client_id)
        node.seen = time.monotonic()
        if isinstance(payload, dict):
            node.received = max(node.received, int(payload.get("requests", 0) or 0))

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
