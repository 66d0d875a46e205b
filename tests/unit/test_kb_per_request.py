"""The target's KiB per request divides by the target's HTTP requests only (erpload.locust.resources).

WebSocket rows ("WS": one connection carries many event/broadcast messages) and the suite's own failure
records ("TASK", "LOGIN": nothing was sent) are in Locust's total; counted in, they diluted a 64 KiB
per-request leak to ~26 KiB in the demo.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from locust import User, task
from locust.env import Environment

from erpload.core.series import ProcessSeries
from erpload.locust.resources import ResourceMonitor, target_requests

LEAK_KB = 64.0


class Idle(User):
    """A user class so an Environment can be built."""

    @task
    def nothing(self) -> None:
        pass


class LeakyTarget:
    """A target whose RSS grows LEAK_KB per HTTP request it served (counted by the test, not the suite)."""

    last_error = ""

    def __init__(self) -> None:
        self.served = 0

    def sample(self) -> dict[str, float]:
        return {"cpu_percent": 5.0, "rss_mb": 100.0 + self.served * LEAK_KB / 1024.0}


def _log(env: Environment, method: str, name: str, n: int) -> None:
    for _ in range(n):
        env.stats.log_request(method, name, 10.0, 100)


def test_only_http_request_types_count() -> None:
    env = Environment(user_classes=[Idle])
    _log(env, "GET", "/dashboard", 5)
    _log(env, "POST", "/warehouse/stock/[sku]/adjust", 3)
    _log(env, "WS", "WS work-order-event", 40)
    _log(env, "WS", "WS broadcast", 10)
    _log(env, "TASK", "MyUser.on_start", 2)
    _log(env, "LOGIN", "/auth/login", 1)
    assert env.stats.total.num_requests == 61 and target_requests(env.stats) == 8


def test_kb_per_request_is_not_diluted_by_websocket_messages() -> None:
    env = Environment(user_classes=[Idle])
    env.create_local_runner()
    clock = SimpleNamespace(t=0.0)
    run: Any = SimpleNamespace(recorder=SimpleNamespace(elapsed=lambda: clock.t), profile=None, invalid=[])
    mon = ResourceMonitor(env, run)
    mon.on_test_start()
    target = mon.target = LeakyTarget()  # type: ignore[assignment]
    diluted = ProcessSeries("target-by-total")
    for step in range(60):  # 2 min, a sample every 2 s: the leak analysis needs >= 30 s after warm-up
        clock.t = step * 2.0
        _log(env, "GET", "/dashboard", 15)
        _log(env, "POST", "/qc/inspections", 5)
        target.served += 20
        _log(env, "WS", "WS work-order-event", 45)  # supervisors' event stream: many rows per request
        _log(env, "WS", "WS broadcast", 5)
        mon._sample_target(clock.t)
        diluted.add(clock.t, target.sample(), env.stats.total.num_requests)  # what was divided before
    leak = next(row for row in mon.section()["leaks"] if row["key"] == "target")
    assert leak["verdict"] == "leak", leak
    assert leak["kb_per_request"] == pytest.approx(LEAK_KB, rel=0.01), leak
    before = diluted.leak().kb_per_request
    assert before is not None and before == pytest.approx(LEAK_KB * 20 / 70, rel=0.01)  # the old figure
