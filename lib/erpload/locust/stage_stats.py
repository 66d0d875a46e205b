"""Per-stage numbers of a run: each request filed under its stage where it is made, summed on the master.

    install_stage_stats(environment, run)   # erpload.plugin.install, every process

- every process files each request into a `StageBook` (erpload.core.stagebook) under the stage its
  process is in (0 until told otherwise), through erpload's one request listener (`Exchange.listen`);
- the master (or local runner) learns a stage from `erpload_stage` (ProfileShape) and tells the
  workers in an `erpload_stage_now` message; a worker whose report shows another stage (a late
  joiner, a lost message) is told again;
- a worker ships what it filed since its last report through the Exchange (data["erpload"]["stages"],
  THE worker -> master path: the same report that carries Locust's own stats, so the two add up to
  the same totals) and the master absorbs it;
- `stage_views()` gives the recorder one window Snapshot per stage ("stage:NAME", extra: index,
  start_s, end_s, ramp), which `report.summary` turns into summary.json's `stages`.
"""

from __future__ import annotations

import logging
from typing import Any

from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from erpload.core.snapshot import Snapshot
from erpload.core.stagebook import VIEW_PREFIX, StageBook

log = logging.getLogger("erpload")
MSG = "erpload_stage_now"
KEY = "stages"


class StageStats:
    """This process's stage book and, on the master or local runner, the stages seen so far."""

    def __init__(self, environment: Environment, run: Any) -> None:
        self.env = environment
        self.run = run
        self.book = StageBook()
        self.current = 0
        self.stages: list[dict[str, Any]] = []  # master/local: {index, name, start_s, ramp}

    def reset(self, **_: Any) -> None:
        self.book.clear()
        self.current = 0
        self.stages = []

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        exception: Any,
        role: str | None,
        now: float,
        bucket: int | None,
    ) -> None:
        """File one request under the current stage (an `Exchange.listen(..., detail=True)` consumer)."""
        self.book.record(
            self.current, request_type, name, role, response_time, True if exception else False, bucket
        )

    # -- master / local ------------------------------------------------------------------------
    def on_stage(self, index: int, name: str, start_s: float, plan: Any = None, **_: Any) -> None:
        ramp = not bool(getattr(plan, "steady", True)) if plan is not None else False
        at = self.run.recorder.elapsed()
        self.stages.append({"index": int(index), "name": str(name), "start_s": at, "ramp": ramp})
        self.current = int(index)
        runner = self.env.runner
        if isinstance(runner, MasterRunner):
            runner.send_message(MSG, {"index": self.current})

    def on_payload(self, client_id: str, payload: Any) -> None:
        """Master: add a worker's stage rows; re-tell a worker that is in another stage."""
        if not isinstance(payload, dict):
            return
        try:
            self.book.absorb(payload.get("parts") or {})
        except ValueError as e:
            log.error("erpload: stage stats from %s dropped: %s", client_id, e)
            self.run.mark_invalid("stage stats unreadable", f"worker {client_id}: {e}")
        if payload.get("at") != self.current and self.stages:
            self.env.runner.send_message(MSG, {"index": self.current}, client_id=client_id)  # type: ignore[union-attr]

    def views(self) -> dict[str, Snapshot]:
        """One window Snapshot per stage seen, in order; the last one ends now."""
        out: dict[str, Snapshot] = {}
        now = self.run.recorder.elapsed()
        for i, st in enumerate(self.stages):
            end = self.stages[i + 1]["start_s"] if i + 1 < len(self.stages) else now
            extra = {"index": st["index"], "start_s": st["start_s"], "end_s": end, "ramp": st["ramp"]}
            out[VIEW_PREFIX + st["name"]] = self.book.snapshot(st["index"], end - st["start_s"], extra)
        return out

    # -- worker --------------------------------------------------------------------------------
    def on_message(self, environment: Environment, msg: Any, **_: Any) -> None:
        data = msg.data if isinstance(msg.data, dict) else {}
        index = data.get("index")
        if isinstance(index, int) and index >= 0:
            self.current = index

    def report(self) -> dict[str, Any]:
        return {"at": self.current, "parts": self.book.take()}


def install_stage_stats(environment: Environment, run: Any) -> StageStats:
    """Register the per-stage listeners on this process (every process; after the Exchange exists)."""
    state = StageStats(environment, run)
    environment.events.test_start.add_listener(state.reset)
    run.exchange.listen(state.on_request, detail=True)  # through erpload's one request listener
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.register_message(MSG, state.on_message)
        run.exchange.provide(KEY, state.report)
    else:
        environment.events.erpload_stage.add_listener(state.on_stage)
        run.recorder.stage_views = state.views
        if isinstance(runner, MasterRunner):
            run.exchange.merge(KEY, state.on_payload)
    environment.stage_stats = state  # type: ignore[attr-defined]
    return state
