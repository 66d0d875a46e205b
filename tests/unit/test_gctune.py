"""GC tuning on processes that run users (erpload.locust.gctune): freeze after each spawn step, thresholds.

In-process Environments with erpload installed (erpload.plugin.install), a local runner, and a
master + worker pair over real ZeroMQ on loopback: the worker freezes on the master's word.
"""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Callable, Iterator
from types import SimpleNamespace

import gevent
import pytest
from locust import User, constant, task
from locust.env import Environment

from erpload.locust import gctune
from erpload.plugin import install


class Idle(User):
    wait_time = constant(0.05)

    @task
    def nothing(self) -> None:
        self.me = self  # a cycle, as a real user's session makes: only the collector frees it


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        gevent.sleep(0.05)


@pytest.fixture(autouse=True)
def _collector_restored() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*saved)


def _local(gc_tuning: str | None = None) -> tuple[Environment, gctune.GcTuning]:
    env = Environment(user_classes=[Idle])
    if gc_tuning is not None:
        env.parsed_options = SimpleNamespace(gc_tuning=gc_tuning)
    env.create_local_runner()
    install(env)
    return env, env.erpload_gc  # type: ignore[attr-defined]


def test_local_run_freezes_after_spawning_and_raises_thresholds() -> None:
    default = gc.get_threshold()
    assert default != gctune.THRESHOLDS
    env, tuning = _local()
    runner = env.runner
    runner.start(6, spawn_rate=100)
    _wait(lambda: tuning.freezes, 10, "the freeze after spawning completes")
    assert gc.get_threshold() == gctune.THRESHOLDS
    assert gc.get_freeze_count() > 0
    assert tuning.freezes[0]["users"] == 6 and tuning.freezes[0]["pause_ms"] >= 0
    runner.stop()
    assert gc.get_threshold() == default  # back as Python had it
    assert gc.get_freeze_count() == 0  # a later run can free this one's users
    runner.quit()


def _user_refs(runner: object) -> list[weakref.ref]:
    """Weak references to the running users, once each has run a task (its cycle made)."""
    users = [g.args[0] for g in runner.user_greenlets]  # type: ignore[attr-defined]
    assert len(users) == 6
    _wait(lambda: all(hasattr(u, "me") for u in users), 10, "every user's first task")
    return [weakref.ref(u) for u in users]


def test_a_ramp_down_releases_the_frozen_users_it_stopped() -> None:
    env, tuning = _local()
    runner = env.runner
    runner.start(6, spawn_rate=100)
    _wait(lambda: len(tuning.freezes) == 1, 10, "the first freeze")
    refs = _user_refs(runner)
    runner.start(2, spawn_rate=100)  # a stage with fewer users
    _wait(lambda: len(tuning.freezes) == 2, 10, "the freeze after the ramp down")
    assert tuning.freezes[1]["users"] == 2
    alive = [r for r in refs if r() is not None]
    assert len(alive) == 2, f"{len(alive)} of 6 users alive after ramping down to 2 (frozen garbage?)"
    runner.quit()


def test_gc_tuning_off_leaves_the_collector_alone() -> None:
    default = gc.get_threshold()
    env, tuning = _local("off")
    runner = env.runner
    runner.start(4, spawn_rate=100)
    _wait(lambda: runner.user_count == 4 and runner.state == "running", 10, "spawning")
    gevent.sleep(0.2)
    assert gc.get_threshold() == default
    assert gc.get_freeze_count() == 0 and tuning.freezes == []
    runner.quit()


def test_the_option_reads_on_unless_off() -> None:
    env = Environment(user_classes=[Idle])
    assert gctune.enabled(env)  # no parsed options (a library use): the default
    env.parsed_options = SimpleNamespace(gc_tuning="OFF")
    assert not gctune.enabled(env)
    env.parsed_options = SimpleNamespace(gc_tuning="on")
    assert gctune.enabled(env)


def test_a_worker_freezes_when_the_master_says_spawning_is_complete() -> None:
    master_env = Environment(user_classes=[Idle])
    master = master_env.create_master_runner("127.0.0.1", 0)
    install(master_env)
    assert getattr(master_env, "erpload_gc", None) is None  # the master runs no users: not tuned
    worker_env = Environment(user_classes=[Idle])
    worker = worker_env.create_worker_runner("127.0.0.1", master.server.port)
    install(worker_env)
    tuning = worker_env.erpload_gc  # type: ignore[attr-defined]
    try:
        _wait(lambda: len(master.clients.ready) == 1, 15, "the worker to connect")
        master.start(3, spawn_rate=100)
        _wait(lambda: tuning.freezes, 15, "the worker's freeze")
        assert tuning.freezes[-1]["users"] == 3
        assert gc.get_freeze_count() > 0 and gc.get_threshold() == gctune.THRESHOLDS
        master.start(5, spawn_rate=100)  # the next stage: frozen again after it
        _wait(lambda: len(tuning.freezes) == 2, 15, "the second step's freeze")
        assert tuning.freezes[-1]["users"] == 5
        master.stop()
        _wait(lambda: not tuning.active, 15, "the worker's test_stop")
        assert gc.get_freeze_count() == 0
    finally:
        master.quit()
        worker.quit()
