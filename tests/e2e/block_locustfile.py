"""Test-only locustfile: users whose task blocks far past the profile's end (a graceful stop outlasts it)."""

import gevent
from locust import User, constant, task

from erpload.plugin import ProfileShape  # noqa: F401  (profile shape + erpload plugin)


class Blocker(User):
    """Records one sample, then blocks in its task: with --stop-timeout, stopping it waits that long."""

    wait_time = constant(0.1)

    @task
    def hold(self) -> None:
        self.environment.events.request.fire(
            request_type="TASK",
            name="hold",
            response_time=1.0,
            response_length=0,
            exception=None,
            context={},
        )
        gevent.sleep(300)  # a long job: a graceful stop waits up to --stop-timeout for it
