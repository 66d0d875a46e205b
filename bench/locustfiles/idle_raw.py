"""Idle users on plain Locust (no erpload import): memory per user, baseline.

$BENCH_IDLE_LOGIN=1: each user logs in once in on_start (POST /auth/login + GET /auth/me, keeping
its keep-alive connection), as a role user does; otherwise on_start sends nothing. Then the user
sleeps (wait_time 1 h; its one task does nothing).
"""

from __future__ import annotations

import json
import os

from locust import FastHttpUser, constant, task

LOGIN = os.environ.get("BENCH_IDLE_LOGIN", "") == "1"
ACCOUNT = {"username": "cutting001", "password": ""}
if os.environ.get("ERPLOAD_CREDENTIALS"):
    with open(os.environ["ERPLOAD_CREDENTIALS"]) as f:
        ACCOUNT = json.load(f)["cutting"][0]


class IdleRawUser(FastHttpUser):
    """FastHttpUser that (optionally) logs in, then waits an hour between no-op tasks."""

    wait_time = constant(3600)

    def on_start(self) -> None:
        """Log in (POST /auth/login, GET /auth/me) when $BENCH_IDLE_LOGIN=1, else nothing."""
        if LOGIN:
            resp = self.client.post("/auth/login", json=ACCOUNT)
            self.auth = {"Authorization": "Bearer " + json.loads(resp.content)["access_token"]}
            self.client.get("/auth/me", headers=self.auth)

    @task
    def idle(self) -> None:
        """Nothing: the user only exists."""
