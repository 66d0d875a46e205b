"""Supervisors: floor dashboards that watch work-order events live over a WebSocket."""

from __future__ import annotations

from locust import between, task

from erpload.users.checks import Probe
from erpload.users.ws import WsUser


class Supervisor(WsUser):
    """Production supervisor: keeps the live event stream open, glances at the dashboard and the WO queues."""

    role_key = "ppic"  # planners' accounts: they may read every department's queue
    wait_time = between(5, 15)  # a dashboard mostly watches
    rbac_probes = (Probe("list_users"),)

    @task(3)
    def dashboard(self) -> None:
        """Refresh the dashboard cards (and reconnect the stream if it dropped)."""
        self.ensure_ws()
        self.open_dashboard()

    @task(2)
    def queue(self) -> None:
        """Look at the work orders in progress."""
        self.call("list_work_orders", params={"status": "in_progress", "page_size": 20}, required=("items",))

    @task(1)
    def probe(self) -> None:
        """Try the user admin screen (RBAC probe)."""
        self.rbac_probe()
