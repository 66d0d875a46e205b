"""ProfileDispatcher: the exact role mix of a stage, for new and running users, spread across workers.

Locust's dispatcher applies a shape's `user_classes` to new users only (locust#2270), so a later
stage's mix never re-balances running users. `ProfileDispatcher` fixes that: given `RoleTargets`
(the exact count per user class) it starts and stops users of each class, spread across workers,
at the stage's rate. The runners spawn/stop per class from the successive per-worker dicts it
yields, in LocalRunner and MasterRunner alike. Without RoleTargets it is Locust's own dispatcher.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Generator, Iterable, Mapping

import gevent
from locust.dispatch import UsersDispatcher

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
