"""Quality control: inspectors work through pending QC tests and record pass/fail results."""

from __future__ import annotations

import random
from typing import Any

from locust import between, task

from erpload.users.checks import Probe, item_ids, pop_random
from erpload.users.shopfloor import ShopFloorUser

PASS_SHARE = 0.9  # most lots pass; the rest go back to finishing as rework
DEFECT_NOTES = ("open seam", "skipped stitch", "shade mismatch", "loose thread", "wrong label", "stain")


class QcInspector(ShopFloorUser):
    """QC inspector: lists pending tests, inspects a lot, submits the result (mostly pass, some fail)."""

    role_key = "qc"
    wait_time = between(5, 15)  # inspecting a sample of the lot takes a while
    rbac_probes = (
        Probe("audit_log"),
        Probe("list_receipts"),
        Probe("list_work_orders", params={"department": "finishing"}),
        Probe("record_finishing", json={"work_order_id": 0, "quantity": 1}),
    )

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.pending: list[Any] = []  # ids of pending tests seen on the list

    @task(5)
    def review_pending(self) -> None:
        """Open the list of lots waiting for inspection."""
        body = self.call(
            "list_qc_tests", params={"status": "pending", "page_size": 50}, required=("items", "total")
        )
        if body is not None:
            self.pending = item_ids(body)

    @task(10)
    def inspect_lot(self) -> None:
        """Inspect one pending lot and submit the result; 409 means a colleague already did."""
        if not self.pending:
            self.review_pending()
        if not self.pending:
            return
        test_id = pop_random(self.pending)
        passed = random.random() < PASS_SHARE
        result: dict[str, Any] = {
            "passed": passed,
            "defects": random.randint(0, 2) if passed else random.randint(3, 20),
        }
        if not passed:
            result["notes"] = random.choice(DEFECT_NOTES)
        expected = "passed" if passed else "failed"
        self.call(
            "submit_qc_result",
            path={"id": test_id},
            json=result,
            ok_conflict=True,
            required=("test.id", "test.status", "next"),
            validate=lambda b: (
                None
                if b["test"]["status"] == expected
                else f"submitted {expected} but the test is now {b['test']['status']!r}"
            ),
        )

    @task(2)
    def review_history(self) -> None:
        """Look back at recently passed or failed lots."""
        self.call(
            "list_qc_tests",
            params={
                "status": random.choice(("passed", "failed")),
                "page": random.randint(1, 3),
                "page_size": 50,
            },
            required=("items", "total"),
        )
