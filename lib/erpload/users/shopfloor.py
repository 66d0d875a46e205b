"""ShopFloorUser: what every role at the factory's ERP terminals does besides its own job."""

from __future__ import annotations

from locust import task

from erpload.users.base import ErpUser


class ShopFloorUser(ErpUser):
    """Abstract: a role working the ERP on site (operators, QC, planners, clerks, admins).

    Between its own tasks it glances at the dashboard (weight 2) and, now and then, tries something
    its role may not do (weight 1, `rbac_probes`: 403 expected). Locust's UserMeta adds these @tasks
    to each subclass's own, so a role lists only what is particular to its job.
    """

    abstract = True

    @task(2)
    def dashboard(self) -> None:
        """Glance at the dashboard."""
        self.open_dashboard()

    @task(1)
    def probe(self) -> None:
        """Try something the role may not do (RBAC probe)."""
        self.rbac_probe()
