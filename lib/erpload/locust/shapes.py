"""ProfileShape: drive a Locust run from a load profile, with the exact role mix in every stage.

Each stage's tick carries `RoleTargets` (the exact count per user class), which
`erpload.locust.dispatch.ProfileDispatcher` honours for new and running users alike (Locust's own
dispatcher applies a shape's `user_classes` to new users only, locust#2270). Without a profile the
shape follows plain -u/-r/-t.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import gevent
from locust.dispatch import UsersDispatcher
from locust.env import Environment
from locust.event import EventHook
from locust.runners import STATE_INIT, STATE_STOPPED
from locust.shape import LoadTestShape

from erpload.core.errors import ConfigError, ExitCode
from erpload.locust import arrival
from erpload.locust.capacity import CapacityDriver
from erpload.locust.dispatch import ProfileDispatcher, RoleTargets
from erpload.profile import Profile, StagePlan, load_profile, stage_plan, target_at

__all__ = ["ProfileDispatcher", "ProfileShape", "RoleTargets", "current_profile", "install_shape_support"]
log = logging.getLogger(__name__)


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
        self.capacity: CapacityDriver | None = None  # mode: capacity: the search decides the levels

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
        self.profile, self.plan, self.capacity = None, (), None
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
            if self.profile.capacity is not None:
                self.capacity = CapacityDriver(self, self.profile)
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
        if self.capacity is not None:
            return self.capacity.rate()
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
        if self.capacity is not None:
            return self.capacity.tick(t)
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
