"""Stock adjustments that the correctness check can account for: Idempotency-Key, one retry, the ledger.

Every adjustment is booked in the user's Environment tallies (erpload.core.tallies): pending from
the moment it is sent, confirmed (delta added to the ledger) or dropped once the target answers
definitely. What is still pending at the end may or may not have applied (erpload.locust.correctness).
"""

from __future__ import annotations

import uuid
from typing import Any

from erpload.api import reference_map

ADJUST_OP = "adjust_stock"
ADJUST_NAME = reference_map().op(ADJUST_OP).stats_name  # its stats name (maps keep it unless they set `name`)


def adjust_stock(user: Any, sku: str, delta: int, reason: str) -> Any:
    """Operation `adjust_stock` as `user` (an ErpUser); retry once with the same key when unsure."""
    key = uuid.uuid4().hex
    headers = {"Idempotency-Key": key}
    tallies = user.tallies
    tallies.begin_adjust(sku, key, delta)  # pending until the target answers definitely
    for _ in range(2):
        body = user.call(
            ADJUST_OP,
            path={"sku": sku},
            json={"delta": delta, "reason": reason},
            headers=headers,
            required=("sku", "quantity", "delta", "replayed"),
        )
        if body is not None:
            tallies.end_adjust(sku, key)
            tallies.record_stock(
                sku, delta=delta
            )  # once per key: the retry only runs when the first was unsure
            return body
        if 400 <= user.last_status < 500:  # a definite refusal: nothing was applied
            tallies.end_adjust(sku, key)
            return None
    return None  # no answer twice: stays pending (it may have applied)
