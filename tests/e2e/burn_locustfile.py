"""Test-only locustfile: a user that burns CPU without think time, to saturate its load generator."""

import time

from locust import User, constant, task

from erpload.plugin import ProfileShape  # noqa: F401  (profile shape + erpload plugin)


class Burner(User):
    """Spins on the CPU for 50 ms per task and never waits: its process runs at ~100 % of a core."""

    wait_time = constant(0)  # Locust still yields to other greenlets (reports, heartbeats) between tasks

    @task
    def burn(self) -> None:
        deadline = time.perf_counter() + 0.05
        while time.perf_counter() < deadline:
            pass
