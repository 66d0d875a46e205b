"""Test-only locustfile: a user that blocks its process's event loop (not the CPU) in every task.

`time.sleep` unpatched by gevent holds the whole loop while the process sits idle: the CPU rule
cannot see it, the loop-lag rule (erpload.locust.looplag) must.
"""

from gevent import monkey
from locust import User, constant, task

from erpload.plugin import ProfileShape  # noqa: F401  (profile shape + erpload plugin)

blocking_sleep = monkey.get_original("time", "sleep")


class LoopBlocker(User):
    """Records one sample, then blocks the event loop for 200 ms; thinks 300 ms (cooperatively)."""

    wait_time = constant(0.3)

    @task
    def block(self) -> None:
        self.environment.events.request.fire(
            request_type="TASK",
            name="block",
            response_time=200.0,
            response_length=0,
            exception=None,
            context={},
        )
        blocking_sleep(0.2)  # e.g. a blocking driver gevent did not patch
