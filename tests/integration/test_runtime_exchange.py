"""The one worker -> master path: every erpload worker datum rides Exchange (data["erpload"][key]).

A master and a worker in-process over real ZeroMQ on port 0, both with erpload installed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import gevent
from locust import User, constant, task
from locust.env import Environment

from erpload.plugin import install


class Pinger(User):
    """Logs one fake request per task: something for the worker's reports to carry."""

    wait_time = constant(0.05)

    @task
    def ping(self) -> None:
        self.environment.events.request.fire(
            request_type="GET", name="/ping", response_time=1.0, response_length=1, exception=None, context={}
        )


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        gevent.sleep(0.1)


def _erpload_listeners(hook) -> list:
    return [h for h in hook._handlers if (getattr(h, "__module__", "") or "").startswith("erpload")]


def test_worker_data_has_one_merge_path_and_health_rides_it() -> None:
    master_env = Environment(user_classes=[Pinger])
    master = master_env.create_master_runner("127.0.0.1", 0)
    master_run = install(master_env)
    worker_env = Environment(user_classes=[Pinger])
    worker = worker_env.create_worker_runner("127.0.0.1", master.server.port)
    worker_run = install(worker_env)
    try:
        # both halves are the Exchange's, registered together; no module listens on its own
        assert _erpload_listeners(master_env.events.worker_report) == [master_run.exchange.on_worker_report]
        assert _erpload_listeners(worker_env.events.report_to_master) == [
            worker_run.exchange.on_report_to_master
        ]
        data: dict = {}
        worker_env.events.report_to_master.fire(client_id="probe", data=data)
        assert data["erpload"]["health"] == {"requests": 0}

        _wait(lambda: len(master.clients.ready) == 1, 15, "the worker to connect")
        master.start(2, spawn_rate=10)
        watch = master_run.health
        # the worker's request count arrives through the exchange (reports every 3 s)
        _wait(lambda: any(n.received > 0 for n in watch.nodes.values()), 20, "a merged health payload")
        node = next(iter(watch.nodes.values()))
        assert node.received <= worker_run.health.requests
    finally:
        worker.quit()
        master.quit()
