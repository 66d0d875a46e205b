"""WebSocket order and loss on the master: the ws_* SLA metrics and summary.json `correctness.websocket`.

Supervisors (erpload.users.ws) count every stream's messages into their process's Tallies.ws
(erpload.core.wsorder); the counts ride the "tallies" payload of THE worker -> master path
(erpload.locust.exchange.CumulativeTallies: latest totals per worker, summed). Here, master / local only:

- SLA extra metrics `ws_out_of_order`, `ws_lost`, `ws_duplicated` (messages, summed over every
  supervisor's streams; not measured without a tracked stream with a sequenced message, so a rule on
  them fails closed) and `ws_messages_per_s` (messages received across all supervisors / run seconds);
- a finalizer that adds `websocket` to the run's `correctness` section (shown by the reports as the
  WebSocket figures), with the fan-out arithmetic: events/s x connected supervisors = messages/s.
"""

from __future__ import annotations

import logging
from typing import Any

from locust.env import Environment
from locust.runners import WorkerRunner

from erpload.core.wsorder import order_metric, ws_figures

log = logging.getLogger("erpload")
METRICS = {"ws_out_of_order": "out_of_order", "ws_lost": "lost", "ws_duplicated": "duplicated"}


def install_ws_order(environment: Environment, run: Any) -> None:
    """Register the ws_* metrics and the `correctness.websocket` finalizer (master / local only).

    Call after install_correctness: its finalizer replaces `run.correctness`, this one adds to it.
    """
    if isinstance(environment.runner, WorkerRunner):
        return

    def counts() -> dict[str, Any]:
        return dict(run.tallies.totals(environment).get("ws", {}))

    for name, key in METRICS.items():
        run.extra_providers[name] = lambda key=key: order_metric(counts(), key)

    final: dict[str, Any] = {}  # the end-of-run figures: the rule reads the same number the report shows
    environment.events.test_start.add_listener(lambda **_: final.clear())  # a new run (web UI) measures anew

    def per_s() -> float | None:
        figures = final or ws_figures(counts(), run.recorder.elapsed())
        return None if not figures else figures["messages_per_s"]

    run.extra_providers["ws_messages_per_s"] = per_s

    def finalize(run: Any) -> None:
        figures = ws_figures(counts(), run.recorder.elapsed())
        if figures is None:
            return
        final.update(figures)  # finalizers run before the verdict's rules are evaluated
        if not isinstance(getattr(run, "correctness", None), dict):
            run.correctness = {}
        run.correctness["websocket"] = figures
        bad = {k: figures[k] for k in ("out_of_order", "duplicated", "lost") if figures[k]}
        if bad:
            log.error(
                "erpload: WebSocket order: %s of %d messages received on %d stream(s)",
                ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in bad.items()),
                figures["messages_received"],
                figures["streams"],
            )

    run.finalizers.append(finalize)
