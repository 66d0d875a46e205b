"""Percentile truth: users hitting nginx's server-timed /bench/delay, with erpload installed (fine buckets).

Every process (local, or each worker) also records every raw, unrounded response time Locust
reports through the `request` event and writes them to $BENCH_PROBE_DIR/raw-<pid>.json at
`quitting`; bench/erpbench/percentiles.py compares them with erpload's summary.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from locust import FastHttpUser, constant, events, task
from locust.env import Environment

import erpload.plugin  # noqa: F401  (fine buckets, summary.json via --report-dir)

OUT_DIR = os.environ.get("BENCH_PROBE_DIR", "")
_samples: list[float] = []


class DelayUser(FastHttpUser):
    """Calls GET /bench/delay back to back (nginx sleeps 100, 250 or 1050 ms before answering)."""

    wait_time = constant(0)

    @task
    def delayed(self) -> None:
        """One GET of the server-timed endpoint."""
        self.client.get("/bench/delay", name="/bench/delay")


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    """Every process: record raw response times; write them at quitting."""

    def on_request(
        response_time: float | None, name: str, exception: BaseException | None = None, **_: Any
    ) -> None:
        """Keep the unrounded response time of every /bench/delay request."""
        if name == "/bench/delay" and response_time is not None:
            _samples.append(response_time)

    def on_quitting(**_: Any) -> None:
        """Write this process's samples."""
        if OUT_DIR:
            Path(OUT_DIR, f"raw-{os.getpid()}.json").write_text(json.dumps(_samples))

    environment.events.request.add_listener(on_request)
    environment.events.quitting.add_listener(on_quitting)
