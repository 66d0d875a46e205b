"""erpload.users.pacing.start_paced: a user of a role paced per operation begins with a wait for a token.

Locust's TaskSet.run picks a random task when its queue is empty, right after on_start and before any
wait_time; start_paced queues a first step that sends nothing, so the paced wait_time runs first.
The whole path, against the reference ERP: tests/e2e/test_rates_first_task.py.
"""

from __future__ import annotations

from collections import deque
from types import SimpleNamespace
from typing import Any

from erpload.users.pacing import RATES_ATTR, await_token, start_paced


class Rates:
    """The `environment.erpload_rates` side start_paced reads: which roles are paced now."""

    def __init__(self, roles: set[str]) -> None:
        self.roles = roles

    def paces(self, user: Any) -> bool:
        return type(user).__name__ in self.roles


class Planner:
    def __init__(self, rates: Rates | None) -> None:
        self.environment = SimpleNamespace(**({RATES_ATTR: rates} if rates is not None else {}))
        self._taskset_instance = SimpleNamespace(_task_queue=deque())
        self._taskset_instance.schedule_task = lambda fn, first=False: (
            self._taskset_instance._task_queue.appendleft(fn)
            if first
            else self._taskset_instance._task_queue.append(fn)
        )


def test_a_paced_role_starts_with_the_token_wait_and_sends_nothing_in_it() -> None:
    user = Planner(Rates({"Planner"}))
    start_paced(user)
    assert list(user._taskset_instance._task_queue) == [await_token]  # Locust runs it, then wait_time
    assert await_token(user) is None


def test_an_unpaced_role_or_no_rates_keeps_locusts_first_pick() -> None:
    for user in (Planner(Rates({"CuttingOperator"})), Planner(None)):
        start_paced(user)
        assert not user._taskset_instance._task_queue
