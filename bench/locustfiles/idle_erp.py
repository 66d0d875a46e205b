"""Idle users on erpload's ErpUser base with the plugin installed: memory per user.

$BENCH_IDLE_LOGIN=1: ErpUser's own on_start (pooled account, POST /auth/login with its checks, GET
/auth/me), against the bench's nginx; otherwise on_start is disabled. Then the user sleeps (think
time 1 h; its one task does nothing).
"""

from __future__ import annotations

import os

from locust import constant, task

import erpload.plugin  # noqa: F401  (installs erpload in every process, as locustfiles/harness.py does)
from erpload.users.base import ErpUser

LOGIN = os.environ.get("BENCH_IDLE_LOGIN", "") == "1"


class IdleErpUser(ErpUser):
    """A cutting operator that (optionally) logs in, then thinks for an hour between no-op tasks."""

    role_key = "cutting"
    wait_time = constant(3600)

    def on_start(self) -> None:
        """ErpUser's own on_start (pooled account, checked login) when $BENCH_IDLE_LOGIN=1, else nothing."""
        if LOGIN:
            super().on_start()

    @task
    def idle(self) -> None:
        """Nothing: the user only exists."""
