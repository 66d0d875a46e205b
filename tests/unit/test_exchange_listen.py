"""erpload's one request listener (Exchange.on_request): role stats, then every consumer, isolated."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from erpload.locust.exchange import ROLE_METHOD, Exchange


def test_one_listener_logs_the_role_and_calls_every_consumer_even_after_one_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ex = Exchange()
    seen: list[tuple[Any, ...]] = []

    def broken(*_: Any) -> None:
        raise RuntimeError("consumer bug")

    ex.listen(broken)
    ex.listen(lambda *args: seen.append(args))
    err = ValueError("HTTP 500")
    with caplog.at_level(logging.ERROR):
        ex.on_request("GET", "/x", 12.0, 100, exception=err, context={"role": "Admin"})
        ex.on_request("POST", "/y", 3.0, 0, exception=None, context=None)  # no role: consumers still see it
    assert seen == [("GET", "/x", 12.0, err), ("POST", "/y", 3.0, None)]
    entry = ex.role_stats.entries[("Admin", ROLE_METHOD)]
    assert (entry.num_requests, entry.num_failures) == (1, 1)
    assert len(ex.role_stats.entries) == 1
    assert (
        sum("consumer bug" in r.getMessage() or "request consumer" in r.getMessage() for r in caplog.records)
        == 2
    )
