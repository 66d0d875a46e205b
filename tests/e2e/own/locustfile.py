"""A user's own locustfile: their user classes + one import for profiles, role mix, SLA verdict and reports."""

from locust import FastHttpUser, between, task

from erpload.plugin import ProfileShape  # noqa: F401  (the one documented import)


class HealthWatcher(FastHttpUser):
    """Someone else's user class, knowing nothing about erpload."""

    wait_time = between(0.05, 0.2)

    @task
    def health(self) -> None:
        self.client.get("/health")


class MetricsScraper(FastHttpUser):
    wait_time = between(0.2, 0.5)

    @task
    def metrics(self) -> None:
        self.client.get("/metrics")
