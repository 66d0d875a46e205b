"""Shop-floor operators (cutting, sewing, finishing): pull work orders from their queue and record progress."""

from __future__ import annotations

import random
from typing import Any

from locust import between, task

from erpload.core.domain import DEPARTMENTS
from erpload.users.checks import Probe, item_ids, pop_random
from erpload.users.shopfloor import ShopFloorUser

NOTES = (
    "bundle checked",
    "needle changed",
    "shade variation noted",
    "machine restarted",
    "waiting for trims",
    "bundle re-counted",
    "marker adjusted",
)
_WO_FIELDS = ("id", "quantity", "quantity_done", "status")


def _probes(department: str) -> tuple[Probe, ...]:
    """What an operator of `department` must not do: admin/planning/warehouse screens, the next station's work."""
    other = DEPARTMENTS[(DEPARTMENTS.index(department) + 1) % len(DEPARTMENTS)]
    return (
        Probe("list_users"),
        Probe("list_orders"),
        Probe("list_work_orders", params={"department": other, "status": "open"}),
        Probe(f"record_{other}", json={"work_order_id": 0, "quantity": 1}),
        Probe("receive_receipt", {"id": 0}, json={}),
    )


class _Operator(ShopFloorUser):
    """An operator at a station: looks at the queue, claims a work order, records bundles until it is done."""

    abstract = True
    department = ""
    wait_time = between(3, 8)  # a bundle at the machine, then the terminal

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.step = f"record_{self.department}"  # the operation recording a bundle at my station
        self.holding: dict[str, Any] | None = None  # the work order I am working on
        self.mine: list[dict[str, Any]] = []  # in-progress work orders already assigned to me
        self.candidates: list[Any] = []  # open work order ids seen on the queue
        self.refresh_mine = True  # re-read my in-progress work orders (at shift start, after an unsure step)

    def on_start(self) -> None:
        """Log in, then look for work orders left in progress under my name (resume the shift)."""
        super().on_start()
        self._load_mine()

    def _load_mine(self) -> None:
        self.refresh_mine = False
        body = self.call(
            "list_work_orders",
            params={
                "department": self.department,
                "status": "in_progress",
                "assignee": self.username,
                "page_size": 20,
            },
            required=("items", "total"),
        )
        if body is not None:
            self.mine = [
                wo
                for wo in body["items"]
                if isinstance(wo, dict)
                and wo.get("assignee") == self.username
                and all(k in wo for k in _WO_FIELDS)
            ][:5]

    @task(6)
    def view_queue(self) -> None:
        """Look at the open work orders of my department."""
        body = self.call(
            "list_work_orders",
            params={"department": self.department, "status": "open", "page_size": 50},
            required=("items", "total"),
        )
        if body is not None:
            self.candidates = item_ids(body)

    @task(18)
    def record_bundle(self) -> None:
        """Record the next bundle on the work order I hold (picking one up first if I hold none)."""
        wo = self.holding or self._pick_up()
        if wo is None:
            return
        left = int(wo["quantity"]) - int(wo["quantity_done"])
        if left <= 0:
            self.holding = None
            return
        body = self.call(
            self.step,
            json={"work_order_id": wo["id"], "quantity": min(left, random.randint(20, 60))},
            required=("work_order.status", "work_order.quantity", "work_order.quantity_done", "next"),
        )
        if body is None:  # refused (409/422) or unsure (fault): re-read my work orders before going on
            self.holding, self.refresh_mine = None, True
        elif body["work_order"]["status"] == "done":
            self.holding = None
        else:
            self.holding = {**wo, **body["work_order"]}

    def _pick_up(self) -> dict[str, Any] | None:
        if self.refresh_mine:
            self._load_mine()
        if self.mine:
            self.holding = self.mine.pop()
            return self.holding
        if not self.candidates:
            self.view_queue()
        if not self.candidates:
            return None
        wo_id = pop_random(self.candidates)
        body = self.call(
            "claim_work_order",
            path={"id": wo_id},
            ok_conflict=True,  # 409: taken already
            required=(*_WO_FIELDS, "assignee"),
            validate=self._claimed_by_me,
        )
        if body is None:  # taken already (409) or refused: the list is stale, read the queue again
            self.candidates = []
        self.holding = body
        return body

    def _claimed_by_me(self, wo: dict[str, Any]) -> str | None:
        if wo.get("status") != "in_progress" or wo.get("assignee") != self.username:
            return "claim answered 200 but the work order is not in progress under my name"
        return None

    @task(2)
    def add_note(self) -> None:
        """Leave a progress note on the work order I hold."""
        if self.holding is None:
            return
        body = self.call(
            "note_work_order",
            path={"id": self.holding["id"]},
            json={"note": random.choice(NOTES)},
            required=("id", "status"),
        )
        if body is None:
            self.holding, self.refresh_mine = None, True


class CuttingOperator(_Operator):
    """Cutting-room operator: pulls cutting work orders and records cut bundles."""

    department = role_key = "cutting"
    rbac_probes = _probes(department)


class SewingOperator(_Operator):
    """Sewing-line operator: pulls sewing work orders and records sewn bundles."""

    department = role_key = "sewing"
    rbac_probes = _probes(department)


class FinishingOperator(_Operator):
    """Finishing operator: pulls finishing (and rework) work orders and records finished bundles."""

    department = role_key = "finishing"
    rbac_probes = _probes(department)
