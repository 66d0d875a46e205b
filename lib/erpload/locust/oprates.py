"""Per-operation arrival rates (a profile's `rates:`, erpload.profile.rates), paced in every process.

As erpload.locust.arrival: the master (or local runner) splits each operation's TOTAL rate into
per-process shares, in proportion to each worker's users of that role, sent in `erpload_rates`
messages. A token goes to an idle user of its role, which runs that task next (`schedule_task`), or
waits in a per-role backlog (`arrival_backlog`), or is dropped. Counters {stage: {ROLE.TASK:
[planned, started, dropped]}} ride the Exchange under data["erpload"]["rates"]. Users find this as
`environment.erpload_rates` (pacing.RATES_ATTR); roles without rates keep their think time.
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
from locust.runners import STATE_MISSING, STATE_STOPPED, MasterRunner, WorkerRunner
from locust.user.task import LOCUST_STATE_RUNNING, LOCUST_STATE_STOPPING, LOCUST_STATE_WAITING

from erpload.core.errors import ConfigError
from erpload.locust.exchange import Exchange
from erpload.locust.rate_checks import check_tasks, task_names
from erpload.profile import Profile
from erpload.profile.rates import rate_keys, rates_at, split_key, split_rates, sum_counts
from erpload.users.pacing import RATES_ATTR

log = logging.getLogger(__name__)

MSG = "erpload_rates"
KEY = "rates"
SCHEDULE_INTERVAL = 0.25  # seconds between rate updates on the master
RESEND_INTERVAL = 2.0  # resend unchanged shares (late workers, lost messages)
Counts = dict[str, dict[str, list[int]]]  # stage name -> ROLE.TASK -> [planned, started, dropped]


class OpRates:
    """Per-process state: the shares, the pacer, waiting users per role and counters per stage."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.active = False
        self.run = 0
        self.stage = ""
        self.shares: dict[str, float] = {}  # ROLE.TASK -> this process's tokens per second
        self.backlog_max = 2
        self.counts: Counts = {}
        self._backlog: dict[str, deque[tuple[str, float]]] = {}  # role -> (key, due) tokens
        self._waiters: dict[str, deque[AsyncResult]] = {}  # role -> users waiting for a token
        self._roles: set[str] = set()  # roles with a rate this run (their users wait for tokens)
        self._wake = Event()
        self._pacer: gevent.Greenlet | None = None
        self._schedule: gevent.Greenlet | None = None
        self._workers: dict[str, Counts] = {}
        self._run_id = 0
        self._last: dict[str | None, dict[str, float]] = {}
        self._tasks: dict[type, dict[str, Callable[..., Any]]] = {}
        self._missing: set[str] = set()

    # -- every process that runs users --------------------------------------------------------------
    def apply(self, data: dict[str, Any]) -> None:
        """A share message: {run, active, stage, rates: {key: share}, backlog}; a new run resets the counters."""
        if data["run"] != self.run:
            self.run, self.counts = data["run"], {}
            self._backlog.clear()
        self.backlog_max = int(data.get("backlog", self.backlog_max))
        if not data["active"]:
            self.deactivate()
            return
        self.stage = str(data.get("stage", ""))
        self.shares = {str(k): max(0.0, float(v)) for k, v in data["rates"].items()}
        self._roles = {split_key(k)[0] for k in self.shares}
        self.active = True
        self._wake.set()
        if self._pacer is None or self._pacer.dead:
            self._pacer = self._spawn(self._pace)

    def deactivate(self) -> None:
        """Stop pacing; waiting users return to their think time. Counters stay for the final report."""
        self.active, self.shares, self._roles = False, {}, set()
        self._backlog.clear()
        if self._pacer is not None and self._pacer is not gevent.getcurrent():
            self._pacer.kill(block=False)
        self._pacer = None
        for waiters in self._waiters.values():
            while waiters:
                waiters.popleft().set(False)

    def _spawn(self, fn: Callable[[], None]) -> gevent.Greenlet:
        runner = self.environment.runner
        return runner.greenlet.spawn(fn) if runner is not None else gevent.spawn(fn)

    def _pace(self) -> None:
        """Issue each operation's tokens at its share (evenly spaced); re-read the shares every 0.1 s at most."""
        credit: dict[str, float] = {}
        last = time.perf_counter()
        while self.active:
            now = time.perf_counter()
            for key, rate in list(self.shares.items()):
                c = credit.get(key, 0.0) + rate * (now - last)
                while c >= 1.0:
                    c -= 1.0
                    self._issue(key, now - c / rate)
                credit[key] = c
            last = now
            total = sum(self.shares.values())
            if total <= 0:
                self._wake.clear()
                self._wake.wait(0.5)
                last = time.perf_counter()
            else:
                need = min((1.0 - credit.get(k, 0.0)) / r for k, r in self.shares.items() if r > 0)
                gevent.sleep(min(max(need, 0.001), 0.1))

    def _count(self, key: str, what: int) -> None:
        self.counts.setdefault(self.stage, {}).setdefault(key, [0, 0, 0])[what] += 1

    def _issue(self, key: str, due: float) -> None:
        self._count(key, 0)
        role = split_key(key)[0]
        waiters = self._waiters.get(role)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.ready():
                waiter.set((key, due))
                return
        backlog = self._backlog.setdefault(role, deque())
        if len(backlog) < self.backlog_max:
            backlog.append((key, due))
        else:
            self._count(key, 2)

    def paces(self, user: Any) -> bool:
        """Whether the user's role is paced per operation now (its tasks run on tokens only)."""
        return self.active and type(user).__name__ in self._roles

    def take(self, user: Any) -> bool | None:
        """None: no rate for the user's role; else block for a token and schedule its task (True) or end (False)."""
        role = type(user).__name__
        if not self.paces(user):
            return None
        if getattr(user, "_state", None) == LOCUST_STATE_STOPPING:
            return False
        backlog = self._backlog.get(role)
        if backlog:
            return self._start(user, backlog.popleft()[0])
        waiter = AsyncResult()
        self._waiters.setdefault(role, deque()).append(waiter)
        was_running = getattr(user, "_state", None) == LOCUST_STATE_RUNNING
        if was_running:
            user._state = LOCUST_STATE_WAITING  # a waiting user may be stopped at once
        try:
            got = waiter.get()
        except BaseException:
            if waiter.ready() and waiter.value is not False:
                self._count(waiter.value[0], 2)  # handed a token, then stopped before using it
            raise
        finally:
            waiters = self._waiters.get(role)
            if waiters is not None and waiter in waiters:
                waiters.remove(waiter)
            if was_running and user._state == LOCUST_STATE_WAITING:
                user._state = LOCUST_STATE_RUNNING
        return False if got is False else self._start(user, got[0])

    def _start(self, user: Any, key: str) -> bool:
        cls = type(user)
        tasks = self._tasks.get(cls) or self._tasks.setdefault(cls, task_names(cls))
        fn = tasks.get(split_key(key)[1])
        taskset = getattr(user, "_taskset_instance", None)
        if fn is None or taskset is None:
            self._count(key, 2)
            if key not in self._missing:
                self._missing.add(key)
                log.error("erpload: rates: %s has no task for %s; its tokens are dropped", cls.__name__, key)
            return False
        self._count(key, 1)
        taskset.schedule_task(fn, first=True)
        return True

    # -- master / local: turn each operation's total rate into shares -----------------------------
    def schedule(self, profile: Profile | None, clock: Callable[[], float]) -> None:
        """Start (a profile with rates) or stop publishing shares for a new run."""
        self.stop_schedule()
        self._run_id = max(int(time.time() * 1000), self._run_id + 1)
        self._workers, self._last = {}, {}
        if profile is None or not profile.has_rates:
            if self._roles or self.active:
                self._publish("", {}, active=False)
            return
        stages, keys, backlog = profile.stages, rate_keys(profile.stages), profile.options.arrival_backlog

        def publish(force: bool) -> bool:
            at = rates_at(stages, clock())
            index, rates = at if at is not None else (len(stages) - 1, dict.fromkeys(keys, 0.0))
            return self._publish(stages[index].name, rates, active=True, backlog=backlog, force=force)

        publish(True)  # before any user spawns
        log.info("erpload: per-operation rates: pacing %s (backlog %d per role)", ", ".join(keys), backlog)

        def loop() -> None:
            last_sent = time.monotonic()
            while True:
                gevent.sleep(SCHEDULE_INTERVAL)
                if publish(time.monotonic() - last_sent > RESEND_INTERVAL):
                    last_sent = time.monotonic()

        self._schedule = self._spawn(loop)

    def stop_schedule(self) -> None:
        if self._schedule is not None and self._schedule is not gevent.getcurrent():
            self._schedule.kill(block=False)
        self._schedule = None

    def _publish(
        self, stage: str, rates: dict[str, float], active: bool, backlog: int = 2, force: bool = True
    ) -> bool:
        runner = self.environment.runner
        if isinstance(runner, MasterRunner):
            nodes = [c for c in runner.clients.values() if c.state not in (STATE_MISSING, STATE_STOPPED)]
            shares = split_rates(rates, {c.id: c.user_classes_count for c in nodes})
        else:
            shares = {None: dict(rates)}
        rounded = {k: {op: round(v, 6) for op, v in s.items()} for k, s in shares.items()}
        if not force and rounded == self._last:
            return False
        self._last = rounded
        for client_id, share in shares.items():
            data = {"run": self._run_id, "active": active, "stage": stage, "rates": share, "backlog": backlog}
            runner.send_message(MSG, data, client_id=client_id)  # type: ignore[union-attr]
        return True

    def merge(self, client_id: str, payload: Any) -> None:
        """Master: keep a worker's latest counters for the current run."""
        if isinstance(payload, dict) and payload.get("run") == self._run_id:
            self._workers[client_id] = payload.get("counts") or {}

    def report(self) -> dict[str, Any]:
        """Worker: this process's counters, tagged with the run."""
        return {"run": self.run, "counts": self.counts}

    def totals(self) -> Counts:
        """Counters of the whole run, per stage and operation (master: summed over workers)."""
        parts = self._workers.values() if isinstance(self.environment.runner, MasterRunner) else [self.counts]
        return sum_counts(parts)


def install_rates(
    environment: Environment, exchange: Exchange | None, profile_of: Callable[[], Any]
) -> OpRates:
    """Register the per-operation pacing on this process (every process, at init; idempotent).

    `profile_of()` gives the run's profile at test start (master / local); `erpload.plugin` passes
    `erpload.locust.shapes.current_profile`. The shape's clock paces the rates.
    """
    state = getattr(environment, RATES_ATTR, None)
    if isinstance(state, OpRates):
        return state
    runner = environment.runner
    state = OpRates(environment)
    if isinstance(runner, WorkerRunner):
        exchange.provide(KEY, state.report)  # type: ignore[union-attr]
    elif isinstance(runner, MasterRunner):
        exchange.merge(KEY, state.merge)  # type: ignore[union-attr]
    if not isinstance(runner, MasterRunner):
        runner.register_message(MSG, lambda environment, msg, **_: state.apply(msg.data))  # type: ignore[union-attr]
    setattr(environment, RATES_ATTR, state)  # where erpload.users.pacing finds it

    def on_test_start(**_: Any) -> None:
        if isinstance(runner, WorkerRunner):
            return
        profile = profile_of()
        try:  # headless runs checked this at init (validate_rates); a profile picked in the web UI, here
            if profile is not None and profile.has_rates:
                check_tasks(profile, list(environment.user_classes))
        except ConfigError as e:
            log.error("%s", e.render())
            environment.process_exit_code = int(e.exit_code)
            profile = None
            gevent.spawn_later(0, runner.quit)  # type: ignore[union-attr]
        shape = environment.shape_class
        state.schedule(profile, shape.get_run_time if shape is not None else (lambda: 0.0))

    def on_test_stop(**_: Any) -> None:
        state.stop_schedule()
        state.deactivate()

    environment.events.test_start.add_listener(on_test_start)
    environment.events.test_stop.add_listener(on_test_stop)
    return state


def rate_totals(environment: Environment) -> Counts:
    """{stage: {ROLE.TASK: [planned, started, dropped]}} of the current or last run."""
    state = getattr(environment, RATES_ATTR, None)
    return state.totals() if isinstance(state, OpRates) else {}
