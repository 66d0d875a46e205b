"""ProfileShape: drive a Locust run from a load profile, with the exact role mix in every stage.

Locust's dispatcher applies a shape's `user_classes` to new users only (locust#2270), so a later
stage's mix never re-balances running users. `ProfileDispatcher` fixes that: given `RoleTargets`
(the exact count per user class) it starts and stops users of each class, spread across workers,
at the stage's rate. The runners spawn/stop per class from the successive per-worker dicts it
yields, in LocalRunner and MasterRunner alike. Without a profile both behave like plain Locust.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Generator, Iterable, Mapping
from typing import Any

import gevent
from locust.dispatch import UsersDispatcher
from locust.env import Environment
from locust.event import EventHook
from locust.runners import STATE_INIT, STATE_STOPPED
from locust.shape import LoadTestShape

from erpload.core.errors import ConfigError, ExitCode
from erpload.locust import arrival
from erpload.profile.model import Profile, StagePlan, load_profile, stage_plan, target_at

log = logging.getLogger(__name__)


class RoleTargets(list):
    """The user classes to run, carrying the exact count per class; equal only if the counts are."""

    def __init__(self, classes: Iterable[type], counts: Mapping[str, int]) -> None:
        super().__init__(classes)
        self.counts = dict(counts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RoleTargets) and self.counts == other.counts and list.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None  # type: ignore[assignment]


class ProfileDispatcher(UsersDispatcher):
    """A UsersDispatcher that honours RoleTargets exactly, for new and running users; plain otherwise."""

    def __init__(self, worker_nodes: list, user_classes: list[type]) -> None:
        super().__init__(worker_nodes=worker_nodes, user_classes=user_classes)
        self._targets: dict[str, int] | None = None

    def new_dispatch(
        self, target_user_count: int, spawn_rate: float, user_classes: list | None = None
    ) -> None:
        """Start a dispatch cycle; RoleTargets switch this dispatcher to exact per-class counts."""
        counts = getattr(user_classes, "counts", None)
        if counts is None and self._targets is None:
            return super().new_dispatch(target_user_count, spawn_rate, user_classes)
        if not (spawn_rate > 0 and math.isfinite(spawn_rate)):
            raise ValueError(f"spawn_rate must be a finite number > 0, got {spawn_rate}")
        if counts is not None:
            names = [c.__name__ for c in self._original_user_classes]
            if unknown := sorted(set(counts) - set(names)):
                log.warning("erpload: no user class for %s; those users are not started", ", ".join(unknown))
            self._targets = {n: int(counts.get(n, 0)) for n in names}
        self._target_user_count = sum(self._targets.values())  # type: ignore[union-attr]
        self._spawn_rate = spawn_rate
        self._user_count_per_dispatch_iteration = max(1, math.floor(spawn_rate))
        self._wait_between_dispatch = self._user_count_per_dispatch_iteration / spawn_rate
        self._initial_users_on_workers = self._users_on_workers
        self._users_on_workers = self._fast_users_on_workers_copy(self._initial_users_on_workers)
        self._current_user_count = self.get_current_user_count()
        self._dispatcher_generator = self._exact_dispatcher()
        self._dispatch_iteration_durations.clear()

    def _totals(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for counts in self._users_on_workers.values():
            for name, n in counts.items():
                totals[name] = totals.get(name, 0) + n
        return totals

    def _moves(self) -> list[tuple[str, int]]:
        """Unit starts (+1) and stops (-1) per class, each class's moves spread evenly over the cycle."""
        keyed = []
        for name, current in self._totals().items():
            delta = self._targets.get(name, 0) - current  # type: ignore[union-attr]
            for j in range(abs(delta)):
                keyed.append(((j + 0.5) / abs(delta), name, 1 if delta > 0 else -1))
        return [(name, sign) for _, name, sign in sorted(keyed)]

    def _load(self, worker_id: str, name: str) -> tuple[int, int]:
        counts = self._users_on_workers[worker_id]
        return sum(counts.values()), counts[name]

    def _place(self, name: str) -> None:
        """Start one user of `name` on the worker with the fewest users (then fewest of that class)."""
        nodes = self._worker_nodes
        best = min(range(len(nodes)), key=lambda i: (*self._load(nodes[i].id, name), i))
        self._users_on_workers[nodes[best].id][name] += 1

    def _take(self, name: str) -> None:
        """Stop one user of `name` on the worker with the most users (then most of that class)."""
        ids = [wid for wid, counts in self._users_on_workers.items() if counts.get(name, 0) > 0]
        if ids:
            self._users_on_workers[max(ids, key=lambda w: self._load(w, name))][name] -= 1

    def _exact_dispatcher(self) -> Generator[dict[str, dict[str, int]]]:
        self._dispatch_in_progress = True
        yielded = False
        if self._rebalance:
            self._rebalance = False
            yielded = True
            yield self._users_on_workers
        moves = self._moves()
        step = self._user_count_per_dispatch_iteration
        for i in range(0, len(moves), step):
            t0 = time.perf_counter()
            for name, sign in moves[i : i + step]:
                self._place(name) if sign > 0 else self._take(name)
            self._current_user_count = self.get_current_user_count()
            yielded = True
            yield self._users_on_workers
            if self._rebalance:
                self._rebalance = False
                yield self._users_on_workers
            elapsed = time.perf_counter() - t0
            self._dispatch_iteration_durations.append(elapsed)
            if i + step < len(moves):
                gevent.sleep(max(0.0, self._wait_between_dispatch - elapsed))
        if not yielded:  # the runner still needs one dispatch to report "spawning complete"
            yield self._users_on_workers
        self._dispatch_in_progress = False

    def _prepare_rebalance(self) -> None:
        """Workers changed: spread the current per-class totals over the new set of workers."""
        if self._targets is None:
            return super()._prepare_rebalance()
        totals = self._totals()
        names = [c.__name__ for c in self._original_user_classes]
        self._users_on_workers = {w.id: {n: 0 for n in names} for w in self._worker_nodes}
        for name in sorted(totals):
            for _ in range(totals[name]):
                self._place(name)
        self._rebalance = True


class ProfileShape(LoadTestShape):
    """Follows the profile named by --load-profile (re-read at every run start); plain -u/-r/-t without one."""

    use_common_options = True

    def __init__(self, profile_path: str | None = None) -> None:
        super().__init__()
        self.profile_path = profile_path  # overrides --load-profile (library use)
        self.profile: Profile | None = None
        self.plan: tuple[StagePlan, ...] = ()
        self.stage_index = -1
        self._new_run = True
        self._failed = False
        self._tick: tuple[int, float, RoleTargets] | None = None
        self._pending: Callable[..., None] | None = None  # stage announcement waiting for test_start
        self._applied: dict[str, Any] | None = None  # environment settings before any profile changed them

    def reset_time(self) -> None:
        """start_shape: restart the clock and begin a new run at the next tick.

        MasterRunner.start() calls this again from inside our first tick (at test_start); that call
        is ignored so the 1 s ticks stay aligned with whole-second stage boundaries.
        """
        if self.runner is not None and gevent.getcurrent() is self.runner.shape_greenlet:
            return
        super().reset_time()
        self._new_run = True

    @property
    def environment(self) -> Environment:
        return self.runner.environment  # type: ignore[union-attr]

    def _begin_run(self) -> None:
        env = self.environment
        self._new_run, self._failed, self.stage_index, self._tick = False, False, -1, None
        self._cancel_pending()
        path = self.profile_path or getattr(env.parsed_options, "load_profile", None)
        self.profile, self.plan = None, ()
        if path:
            try:
                self.profile = load_profile(path, known_roles=[c.__name__ for c in env.user_classes])
            except ConfigError as e:
                log.error("%s", e.render())
                self._failed = True
                if getattr(env.parsed_options, "headless", False) and env.process_exit_code is None:
                    env.process_exit_code = int(ExitCode.CONFIG_INVALID)
                return
            install_shape_support(env)
            self.plan = stage_plan(self.profile)
            self._apply_settings(env, self.profile)
            log.info(
                "erpload: load profile %s (%s, %d stages, %.0fs)",
                self.profile.name,
                path,
                len(self.profile.stages),
                self.profile.duration_s,
            )
        if self.profile is not None and self.profile.is_open:
            arrival.configure(env, self._arrival_rate, backlog=self.profile.options.arrival_backlog)
        else:
            arrival.configure(env, None)

    def _apply_settings(self, env: Environment, profile: Profile) -> None:
        """The profile's host (unless -H / the form gave one) and stop timeout, undone for the next run."""
        if self._applied is None:
            self._applied = {"stop_timeout": env.stop_timeout, "host": None}
        if profile.host and (not env.host or env.host == self._applied["host"]):
            env.host = self._applied["host"] = profile.host
        timeout = profile.options.stop_timeout_s
        env.stop_timeout = self._applied["stop_timeout"] if timeout is None else timeout

    def _arrival_rate(self) -> float | None:
        target = target_at(self.profile, self.get_run_time(), self.plan) if self.profile else None
        return target.arrival_rate if target else None

    def tick(self) -> tuple[int, float] | tuple[int, float, RoleTargets] | None:
        """(users, spawn rate, RoleTargets) for the current stage; None when the profile (or -t) is over."""
        if self._new_run:
            self._begin_run()
        if self._failed:
            return None
        t = self.get_run_time()
        opts = self.environment.parsed_options
        run_time = getattr(opts, "run_time", None)
        if run_time and t >= run_time:
            return None
        if self.profile is None:
            users = getattr(opts, "num_users", None)
            return (1 if users is None else int(users)), float(getattr(opts, "spawn_rate", None) or 1.0)
        target = target_at(self.profile, t, self.plan)
        if target is None:
            return None
        if target.stage_index != self.stage_index:
            self._enter_stage(target.stage_index, target.stage_per_role, t)
        return self._tick

    def _enter_stage(self, index: int, counts: Mapping[str, int], t: float) -> None:
        """Compute the stage's tick once: its end counts, at its rate (or what finishes it on time)."""
        sp = self.plan[index]
        self.stage_index = index
        classes = self.environment.user_classes
        full = {c.__name__: int(counts.get(c.__name__, 0)) for c in classes}
        previous = self._tick[2].counts if self._tick else {}
        if self._tick is None or full != previous:
            moves = sum(abs(n - previous.get(name, 0)) for name, n in full.items())
            rate = sp.stage.spawn_rate or (moves / max(sp.end_s - t, 0.1) if moves else 1.0)
            self._tick = (
                sum(full.values()),
                rate,
                RoleTargets([c for c in classes if full[c.__name__]], full),
            )
        log.info(
            "erpload: stage %d/%d %r at %.1fs -> %s",
            index + 1,
            len(self.plan),
            sp.stage.name,
            t,
            dict(sorted((k, v) for k, v in full.items() if v)),
        )
        self._announce(sp)

    def _announce(self, sp: StagePlan) -> None:
        """Fire `erpload_stage`; before the run's test_start has fired, right after it instead."""
        events = self.environment.events
        hook = getattr(events, "erpload_stage", None)
        if hook is None:
            return

        def fire(**_: Any) -> None:
            self._cancel_pending()
            hook.fire(
                index=sp.index, name=sp.stage.name, start_s=self.get_run_time(), plan=sp, profile=self.profile
            )

        self._cancel_pending()
        if self.runner.state in (STATE_INIT, STATE_STOPPED):  # type: ignore[union-attr]
            # the first tick comes before test_start, whose listeners reset stats and run records;
            # listeners added now run after those registered at init
            self._pending = fire
            events.test_start.add_listener(fire)
        else:
            fire()

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self.environment.events.test_start.remove_listener(self._pending)
            self._pending = None


def install_shape_support(environment: Environment) -> None:
    """Use ProfileDispatcher for this environment and add the `erpload_stage` event (idempotent)."""
    current = environment.dispatcher_class
    if not issubclass(current, ProfileDispatcher):
        if current is not UsersDispatcher:
            log.warning("erpload: replacing custom dispatcher %s with ProfileDispatcher", current.__name__)
        environment.dispatcher_class = ProfileDispatcher
    if getattr(environment.events, "erpload_stage", None) is None:
        environment.events.erpload_stage = (
            EventHook()
        )  # fired on entering a stage: index, name, start_s, plan, profile


def current_profile(environment: Environment) -> Profile | None:
    """The profile the running (or last) ProfileShape run follows, or None."""
    shape: Any = environment.shape_class
    return shape.profile if isinstance(shape, ProfileShape) else None
