"""Test-only locustfile: one request per open-model iteration, nothing else (the coordinated-omission proof)."""

from locust import FastHttpUser, constant, task

from erpload.plugin import ProfileShape  # noqa: F401  (profile shape + erpload plugin)
from erpload.users.pacing import paced


class Pinger(FastHttpUser):
    """Takes an arrival token, sends GET /ping, takes the next token (no think time, no login)."""

    wait_time = paced(constant(0))
    network_timeout = 10.0
    connection_timeout = 10.0

    @task
    def ping(self) -> None:
        self.client.get("/ping", name="/ping")
