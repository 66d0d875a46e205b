"""Open model: iterations paced at the profile's total rate; dropped when no user is free; summed on the master."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gevent
import locust.runners
import pytest
from locust import User, constant, task
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.runners import STATE_STOPPED, Runner

from erpload.core.errors import InternalError
from erpload.locust.arrival import arrival_totals, install_arrival, wait_for_token
from erpload.locust.exchange import Exchange
from erpload.locust.shapes import ProfileShape, install_shape_support
from erpload.users.pacing import paced

HOLD_S = 4.0  # plus a 1 s ramp from 0: planned = rate * (0.5 + HOLD_S)


def _profile(tmp: Path, rate: float, users: int) -> Path:
    path = tmp / "open.yaml"
    path.write_text(
        f"name: open\ndescription: open model test\nroles: {{CuttingOperator: 1}}\noptions: {{arrival_backlog: 1}}\n"
        f"stages:\n  - {{duration: 1s, arrival_rate: {rate}, users: {users}, spawn_rate: 100}}\n"
        f"  - {{duration: {HOLD_S:g}s, arrival_rate: {rate}/s, users: {users}}}\n"
    )
    return path


def _user_class(service_s: float, done: dict[int, int]) -> type[User]:
    """A CuttingOperator whose one-task iteration takes `service_s`; counts iterations per environment."""

    class CuttingOperator(User):
        wait_time = paced(constant(30))  # closed-model think time: never reached while the open model runs

        def on_start(self) -> None:
            wait_for_token(self)  # the first iteration waits for a token too

        @task
        def iteration(self) -> None:
            done[id(self.environment)] = done.get(id(self.environment), 0) + 1
            gevent.sleep(service_s)  # stands for the requests of one workflow iteration

    return CuttingOperator


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        gevent.sleep(0.05)


@pytest.fixture
def runners() -> Iterator[list[Runner]]:
    made: list[Runner] = []
    yield made
    for r in made:
        r.quit()


def _env(cls: type[User], profile: Path | None) -> Environment:
    opts = get_parser(default_config_files=[]).parse_args([])
    opts.load_profile = str(profile) if profile else None
    env = Environment(
        user_classes=[cls], shape_class=ProfileShape() if profile else None, parsed_options=opts
    )
    install_shape_support(env)
    return env


def _exchange(env: Environment) -> Exchange:
    """The worker -> master path erpload.plugin installs: the arrival counters ride it, nothing else."""
    exchange = Exchange()
    exchange.install(env)
    return exchange


def _run_local(tmp: Path, runners: list[Runner], rate: float, users: int, service_s: float):
    done: dict[int, int] = {}
    env = _env(_user_class(service_s, done), _profile(tmp, rate, users))
    runners.append(env.create_local_runner())
    install_arrival(env, None)  # a local runner: no worker reports to carry
    env.runner.start_shape()
    _wait(lambda: env.runner.state == STATE_STOPPED, HOLD_S + 10, "the profile to end")
    print(
        f"\nrate {rate}/s, {users} users x {service_s}s: {arrival_totals(env)}, iterations run {done.get(id(env))}"
    )
    return arrival_totals(env), done.get(id(env), 0)


def test_rate_above_capacity_drops_iterations_and_achieves_capacity(tmp_path: Path, runners) -> None:
    totals, iterations = _run_local(tmp_path, runners, rate=20, users=2, service_s=0.5)  # capacity 4/s
    planned_want = 20 * (0.5 + HOLD_S)
    assert abs(totals["planned"] - planned_want) <= 4, totals
    capacity = 2 / 0.5 * (1 + HOLD_S)
    assert capacity * 0.7 <= totals["started"] <= capacity + 3, (totals, capacity)
    assert totals["dropped"] >= planned_want - capacity - 5, totals
    assert 0 <= totals["planned"] - totals["started"] - totals["dropped"] <= 1 + 2  # backlog + in flight
    assert abs(iterations - totals["started"]) <= 2  # one task per token


def test_ample_users_achieve_the_planned_rate(tmp_path: Path, runners) -> None:
    totals, iterations = _run_local(tmp_path, runners, rate=10, users=10, service_s=0.05)
    planned_want = 10 * (0.5 + HOLD_S)
    assert abs(totals["planned"] - planned_want) <= 3, totals
    assert totals["dropped"] == 0, totals
    assert totals["started"] >= totals["planned"] - 1, totals
    assert abs(iterations - totals["started"]) <= 1


def test_total_rate_is_split_over_workers_and_summed_on_the_master(
    tmp_path: Path, runners, monkeypatch
) -> None:
    monkeypatch.setattr(locust.runners, "WORKER_REPORT_INTERVAL", 0.5)
    done: dict[int, int] = {}
    cls = _user_class(0.05, done)
    master_env = _env(cls, _profile(tmp_path, rate=10, users=10))
    master = master_env.create_master_runner("127.0.0.1", 0)
    runners.append(master)
    install_arrival(master_env, _exchange(master_env))
    workers = []
    for _ in range(2):
        env = _env(cls, None)
        runners.append(env.create_worker_runner("127.0.0.1", master.server.port))
        workers.append(install_arrival(env, _exchange(env)))
    _wait(lambda: len(master.clients.ready) == 2, 10, "2 workers")
    master.start_shape()
    _wait(lambda: master.state == STATE_STOPPED, HOLD_S + 15, "the profile to end")
    per_worker = [w.counts for w in workers]
    summed = {k: sum(c[k] for c in per_worker) for k in ("planned", "started", "dropped")}
    _wait(lambda: arrival_totals(master_env) == summed, 5, f"the master to sum {per_worker}")
    totals = arrival_totals(master_env)
    print(f"\nmaster totals {totals}; per worker {per_worker}")
    assert abs(totals["planned"] - 10 * (0.5 + HOLD_S)) <= 4, totals
    assert totals["dropped"] == 0 and totals["started"] >= totals["planned"] - 2, totals
    for counts in per_worker:  # 5 users each: about half the rate each
        assert 0.3 <= counts["planned"] / totals["planned"] <= 0.7, per_worker


def test_workers_and_master_need_the_exchange(runners) -> None:
    """No private worker -> master path: without the run's Exchange the counters could not reach the master."""
    master_env = _env(_user_class(0.05, {}), None)
    master = master_env.create_master_runner("127.0.0.1", 0)
    runners.append(master)
    with pytest.raises(InternalError, match="MasterRunner needs the run's Exchange"):
        install_arrival(master_env, None)
    worker_env = _env(_user_class(0.05, {}), None)
    runners.append(worker_env.create_worker_runner("127.0.0.1", master.server.port))
    with pytest.raises(InternalError, match="WorkerRunner needs the run's Exchange"):
        install_arrival(worker_env, None)
    listeners = len(worker_env.events.report_to_master._handlers)
    exchange = _exchange(worker_env)
    install_arrival(worker_env, exchange)
    assert len(worker_env.events.report_to_master._handlers) == listeners + 1  # the exchange's own, only
    assert "arrival" in exchange._providers
