"""Open model: workflow iterations per second regardless of response time, paced in every process.

The master (or local runner) turns the profile's TOTAL rate into per-process shares, in proportion
to each worker's users, and sends them in an `erpload_arrival` message. Each process paces tokens
at its share; an idle user takes one token per iteration (`wait_for_token`). A token that finds no
idle user waits in a small backlog or is dropped and counted. Counters are per run: planned
(tokens issued), started (tokens taken), dropped. Workers ship them through the Exchange
(erpload.locust.exchange) under data["erpload"]["arrival"]; the master keeps each worker's latest
and sums them. Every token carries its due time (intended start); the user that takes it times its
iteration's requests from there too (erpload.locust.intended). Users take tokens in their wait_time (`erpload.users.pacing.paced`), which finds this
process's state as `environment.erpload_arrival`.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import gevent
from gevent.event import AsyncResult, Event
from locust.env import Environment
from locust.runners import STATE_MISSING, STATE_STOPPED, LocalRunner, MasterRunner, WorkerRunner
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_STOPPING, LOCUST_STATE_WAITING

from erpload.core.errors import InternalError
from erpload.locust.exchange import Exchange
from erpload.locust.intended import begin_iteration, end_iteration, recorder_of
from erpload.users.pacing import PACER_ATTR

log = logging.getLogger(__name__)

MSG = "erpload_arrival"
KEY = "arrival"
SCHEDULE_INTERVAL = 0.25  # seconds between rate updates on the master
RESEND_INTERVAL = 2.0  # resend unchanged shares (late workers, lost messages)
COUNTERS = ("planned", "started", "dropped")


class Arrival:
    """Per-process open-model state: the local rate, the pacer, waiting users and counters."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.active = False
        self.rate = 0.0  # this process's iterations per second
        self.backlog_max = 2
        self.run = 0  # the run the counters belong to (set by share messages)
        self.counts = dict.fromkeys(COUNTERS, 0)
        self.backlog = 0
        self._due: deque[float] = deque()  # intended start (perf_counter) of each backlog token
        self._waiters: deque[AsyncResult] = deque()
        self._wake = Event()
        self._pacer: gevent.Greenlet | None = None
        self._schedule: gevent.Greenlet | None = None  # master / local only
        self._rate_fn: Callable[[], float | None] | None = None
        self._workers: dict[str, dict[str, int]] = {}  # master: client_id -> latest counters of this run
        self._run_id = 0  # master / local: the run whose shares are being published
        self._last_shares: dict[str | None, float] = {}
        self._was_open = False

    # -- every process that runs users --------------------------------------------------------------
    def apply(self, data: dict[str, Any]) -> None:
        """Take a share message: {run, active, rate, backlog}; a new run resets the counters."""
        if data["run"] != self.run:
            self.run, self.counts, self.backlog = data["run"], dict.fromkeys(COUNTERS, 0), 0
            self._due.clear()
        self.backlog_max = int(data.get("backlog", self.backlog_max))
        if not data["active"]:
            self.deactivate()
            return
        self.active, self.rate = True, max(0.0, float(data["rate"]))
        self._wake.set()
        if self._pacer is None or self._pacer.dead:
            self._pacer = self._spawn(self._pace)

    def deactivate(self) -> None:
        """Stop pacing; waiting users return to their think time. Counters stay for the final report."""
        self.active, self.rate, self.backlog = False, 0.0, 0
        self._due.clear()
        if self._pacer is not None and self._pacer is not gevent.getcurrent():
            self._pacer.kill(block=False)
        self._pacer = None
        while self._waiters:
            self._waiters.popleft().set(False)

    def _spawn(self, fn: Callable[[], None]) -> gevent.Greenlet:
        runner = self.environment.runner
        return runner.greenlet.spawn(fn) if runner is not None else gevent.spawn(fn)

    def _pace(self) -> None:
        """Issue tokens at `self.rate` (evenly spaced); re-read the rate at least every 0.1 s."""
        credit, last = 0.0, time.perf_counter()
        while self.active:
            now = time.perf_counter()
            credit += self.rate * (now - last)
            last = now
            while credit >= 1.0:  # each token carries the moment it was due (its intended start)
                due = now - (credit - 1.0) / self.rate if self.rate > 0 else now
                credit -= 1.0
                self._issue(due)
            if self.rate <= 0:
                credit = 0.0
                self._wake.clear()
                self._wake.wait(0.5)
                last = time.perf_counter()
            else:
                gevent.sleep(min(max((1.0 - credit) / self.rate, 0.001), 0.1))

    def _issue(self, due: float) -> None:
        self.counts["planned"] += 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.ready():
                waiter.set(due)
                return
        if self.backlog < self.backlog_max:
            self.backlog += 1
            self._due.append(due)
        else:
            self.counts["dropped"] += 1

    def take(self, user: Any) -> bool:
        """Block until a token is issued (True) or the open model ends (False)."""
        end_iteration()  # the user's previous iteration (if any) is over
        if not self.active or getattr(user, "_state", None) == LOCUST_STATE_STOPPING:
            return False
        if self.backlog > 0:
            self.backlog -= 1
            self.counts["started"] += 1
            self._began(self._due.popleft() if self._due else time.perf_counter())
            return True
        waiter = AsyncResult()
        self._waiters.append(waiter)
        was_running = getattr(user, "_state", None) == LOCUST_STATE_RUNNING
        if was_running:  # e.g. called from on_start: waiting users may be stopped at once
            user._state = LOCUST_STATE_WAITING
        try:
            got = waiter.get() is not False
        except BaseException:
            if waiter.ready() and waiter.value is not False:
                self.counts["dropped"] += 1  # handed a token, then stopped before using it
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if was_running and user._state == LOCUST_STATE_WAITING:
                user._state = LOCUST_STATE_RUNNING
        if got:
            self.counts["started"] += 1
            self._began(float(waiter.value))
        return got

    def _began(self, due: float) -> None:
        """The current user starts an iteration due at `due`: time its requests from there too."""
        late = begin_iteration(due, time.perf_counter())
        recorder = recorder_of(self.environment)
        if recorder is not None:
            recorder.iteration_started(late)

    # -- master / local: turn the total rate into shares ------------------------------------------
    def schedule(self, rate_fn: Callable[[], float | None] | None, backlog: int) -> None:
        """Start (rate_fn given) or stop publishing shares for a new run."""
        self.stop_schedule()
        self._run_id = max(int(time.time() * 1000), self._run_id + 1)
        self._workers = {}
        was_open, self._rate_fn, self.backlog_max = self._was_open, rate_fn, backlog
        self._was_open = rate_fn is not None
        if rate_fn is None:
            if was_open:  # workers switch back to the closed model
                self._publish(0.0, active=False)
        else:
            self._publish(rate_fn() or 0.0, active=True)  # before any user spawns
            log.info(
                "erpload: open model: pacing the profile's arrival rate (backlog %d per process)", backlog
            )
            self._schedule = self._spawn(self._schedule_loop)

    def stop_schedule(self) -> None:
        if self._schedule is not None and self._schedule is not gevent.getcurrent():
            self._schedule.kill(block=False)
        self._schedule = None

    def _schedule_loop(self) -> None:
        last_sent = -1.0
        while self._rate_fn is not None:
            gevent.sleep(SCHEDULE_INTERVAL)
            total = self._rate_fn()
            force = time.monotonic() - last_sent > RESEND_INTERVAL
            if self._publish(total or 0.0, active=True, force=force):
                last_sent = time.monotonic()

    def _publish(self, total: float, active: bool, force: bool = True) -> bool:
        """Send each process its share of `total`; True if anything was sent."""
        runner = self.environment.runner
        if isinstance(runner, MasterRunner):
            nodes = [c for c in runner.clients.values() if c.state not in (STATE_MISSING, STATE_STOPPED)]
            users = sum(c.user_count for c in nodes)
            shares = {
                c.id: total * c.user_count / users if users else total / max(len(nodes), 1) for c in nodes
            }
        else:
            shares = {None: total}
        rounded = {k: round(v, 6) for k, v in shares.items()}
        if not force and rounded == self._last_shares:
            return False
        self._last_shares = rounded
        for client_id, share in shares.items():
            data = {"run": self._run_id, "active": active, "rate": share, "backlog": self.backlog_max}
            runner.send_message(MSG, data, client_id=client_id)  # type: ignore[union-attr]
        return True

    def merge(self, client_id: str, payload: Any) -> None:
        """Master: keep a worker's latest counters for the current run."""
        if isinstance(payload, dict) and payload.get("run") == self._run_id:
            self._workers[client_id] = {k: int(payload.get(k, 0)) for k in COUNTERS}

    def report(self) -> dict[str, int]:
        """Worker: this process's counters, tagged with the run."""
        return {"run": self.run, **self.counts}

    def totals(self) -> dict[str, int]:
        """Counters of the whole run (master: summed over workers)."""
        if isinstance(self.environment.runner, MasterRunner):
            return {k: sum(w[k] for w in self._workers.values()) for k in COUNTERS}
        return dict(self.counts)


def _state(environment: Environment) -> Arrival | None:
    return getattr(environment, PACER_ATTR, None)


def install_arrival(environment: Environment, exchange: Exchange | None) -> Arrival:
    """Register the open-model listeners on this process (call in `init`, every process; idempotent).

    Shares go master -> workers in `erpload_arrival` messages; the counters come back through the
    Exchange (`exchange.provide` on workers, `exchange.merge` on the master) under data["erpload"]["arrival"].
    A local runner needs no exchange (None); a worker or master does.
    """
    state = _state(environment)
    if state is not None:
        return state
    runner = environment.runner
    state = Arrival(environment)
    if isinstance(runner, WorkerRunner | MasterRunner):
        if exchange is None:
            raise InternalError(
                f"install_arrival on a {type(runner).__name__} needs the run's Exchange "
                "(erpload.plugin.install passes run.exchange): the counters would never reach the master"
            )
        if isinstance(runner, WorkerRunner):
            exchange.provide(KEY, state.report)
        else:
            exchange.merge(KEY, state.merge)
    if isinstance(runner, WorkerRunner | LocalRunner):
        runner.register_message(MSG, lambda environment, msg, **_: state.apply(msg.data))
    setattr(environment, PACER_ATTR, state)  # where erpload.users.pacing.paced finds it

    def on_test_stop(**_: Any) -> None:
        state.stop_schedule()
        state.deactivate()

    environment.events.test_stop.add_listener(on_test_stop)
    return state


def configure(environment: Environment, rate_fn: Callable[[], float | None] | None, backlog: int = 2) -> None:
    """Master/local, at a run's start: follow `rate_fn()` (total iterations/s) or, with None, closed model."""
    state = _state(environment)
    if state is None:
        if rate_fn is None:
            return  # closed model and no open-model state: nothing to switch off
        state = install_arrival(environment, None)  # a local runner; a master raises (needs the exchange)
    state.schedule(rate_fn, backlog)


def wait_for_token(user: Any) -> bool:
    """While the open model is active, block until this user may start one iteration (True).

    Returns False at once when the open model is not active. `erpload.users.pacing.paced` does the
    same for every ErpUser's wait_time; call this where a user must wait outside it (e.g. on_start).
    """
    state = _state(user.environment)
    return state.take(user) if state is not None else False


def arrival_totals(environment: Environment) -> dict[str, int]:
    """{planned, started, dropped} for the current or last run (summed over workers on the master)."""
    state = _state(environment)
    return state.totals() if state is not None else dict.fromkeys(COUNTERS, 0)
