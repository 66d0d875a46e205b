"""Latency from intended start (open model): what a user arriving on schedule waited, stalls included.

Coordinated omission: a generator that waits for each answer sends fewer requests while the ERP
stalls, so its percentiles (timed from the send) hide the stall. wrk2 times every request from when
it *should* have been sent. Our open model already schedules iterations: `erpload.locust.arrival`
gives every token its scheduled (intended) time, and the user that takes it calls `begin_iteration`.

Definition, for a request of an iteration scheduled at I and started (token taken) at S >= I:

    intended-start latency = response_time + (S - I)   (= completion - (I + (send - S)))

i.e. the request's intended send time is where it would have been sent had its iteration started on
schedule. For a one-request iteration this is wrk2's "completion - scheduled start" exactly. For a
multi-request iteration the time spent inside the iteration before the request (earlier steps'
answers, the user's own checks) shifts with it: a real operator who starts on time waits for those
answers too, so that wait belongs to the earlier steps' own latencies, not to this endpoint's. Timing
every step from the iteration's start instead would file "login + list + claim" under the claim's
name and make per-endpoint rules meaningless. The generator-caused delay (no idle user, a token
queued in the backlog, a lagging event loop) is what coordinated omission hides; it is S - I and is
charged to every request of the iteration.

Requests outside an iteration (on_start logins, the closed model) are not recorded here. Iterations
are counted: started, late (started more than LATE_MS after their intended time) with the lateness
distribution; dropped tokens (no user, backlog full) are counted by the arrival state.

Every process that runs users records; workers ship what they recorded since their last report under
data["erpload"]["intended"] (erpload.locust.exchange) and reset; the master adds it up.
"""

from __future__ import annotations

import logging
from typing import Any

from greenlet import getcurrent
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from erpload.core.histogram import Histogram
from erpload.core.snapshot import RequestStats, Snapshot
from erpload.users.pacing import INTENDED_ATTR as ATTR  # where paced() finds the recorder

log = logging.getLogger("erpload")

KEY = "intended"
LATE_MS = 10.0  # above timer and scheduling noise (~1 ms), below anything a person notices
BLOCKED_RATIO = 10.0  # closed model: blocked in requests this many times the think time -> warning
BLOCKED_MIN_S = 30.0  # ... once the users spent at least this long blocked (user-seconds)
_lateness_ms: dict[Any, float] = {}  # user greenlet -> lateness (ms) of the iteration it runs


def begin_iteration(intended: float, started: float) -> float:
    """The current greenlet (a user) starts an iteration scheduled at `intended` (perf_counter s)."""
    late = max(0.0, (started - intended) * 1000.0)
    _lateness_ms[getcurrent()] = late
    return late


def end_iteration() -> None:
    """The current greenlet's iteration is over (it waits for its next token or thinks)."""
    _lateness_ms.pop(getcurrent(), None)


def _pair() -> list[RequestStats]:
    return [RequestStats("", ""), RequestStats("", "")]  # [from send, from intended start]


class IntendedRecorder:
    """Per-process histograms per endpoint (from send, from intended start) and iteration lateness."""

    def __init__(self, environment: Environment) -> None:
        self.env = environment
        self.endpoints: dict[tuple[str, str], list[RequestStats]] = {}
        self.lateness = Histogram()
        self.started = 0
        self.late = 0
        self.blocked_s = 0.0  # closed model: user-seconds in requests outside iterations
        self.think_s = 0.0  # user-seconds of think time returned by paced wait_times
        self.warned = False

    def reset(self, **_: Any) -> None:
        self.endpoints, self.lateness, self.started, self.late = {}, Histogram(), 0, 0
        self.blocked_s, self.think_s, self.warned = 0.0, 0.0, False
        _lateness_ms.clear()

    # -- every process that runs users -------------------------------------------------------------
    def iteration_started(self, late_ms: float) -> None:
        self.started += 1
        self.lateness.add(late_ms)
        if late_ms > LATE_MS:
            self.late += 1

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        exception: Any = None,
        role: str | None = None,
        now: float | None = None,
        bucket: int | None = None,
    ) -> None:
        """Time one request from its iteration's intended start (an `Exchange.listen(..., detail=True)`
        consumer: `bucket` is `fine_bucket(response_time)`, shared with the other views)."""
        if response_time is None:
            return
        late = _lateness_ms.get(getcurrent())
        if late is None:
            self.blocked_s += response_time / 1000.0
            return
        key = (request_type, name)
        pair = self.endpoints.get(key)
        if pair is None:
            pair = self.endpoints[key] = _pair()
        pair[0].record(response_time, False, None, bucket)
        pair[1].record(response_time + late)

    def thought(self, seconds: float) -> None:
        """A paced wait_time returned `seconds` of think time (closed model)."""
        self.think_s += seconds
        if (
            not self.warned
            and self.blocked_s >= BLOCKED_MIN_S
            and self.blocked_s > BLOCKED_RATIO * self.think_s
        ):
            self.warned = True
            log.warning(
                "erpload: users spent %.0f s blocked in requests and %.0f s thinking (%.0fx): in the closed "
                "model a slow answer also delays the user's next request (a waiting operator also waits), "
                "so fewer requests reach a stalled ERP and the percentiles under-state the stall; use an "
                "open-model profile (arrival_rate) to time requests from their intended start",
                self.blocked_s,
                self.think_s,
                self.blocked_s / max(self.think_s, 1e-9),
            )

    # -- worker -> master ------------------------------------------------------------------------
    def payload(self) -> dict[str, Any]:
        """Worker: what was recorded since the last report; then reset (Locust's own stats do the same)."""
        rows = [[m, n, _ser(s), _ser(i)] for (m, n), (s, i) in self.endpoints.items()]
        out = {
            "endpoints": rows,
            "lateness": _ser_hist(self.lateness),
            "started": self.started,
            "late": self.late,
        }
        self.endpoints, self.lateness, self.started, self.late = {}, Histogram(), 0, 0
        return out

    def on_payload(self, client_id: str, payload: Any) -> None:
        """Master: add one worker report's share."""
        if not isinstance(payload, dict):
            return
        for m, n, s, i in payload.get("endpoints") or ():
            pair = self.endpoints.get((m, n))
            if pair is None:
                pair = self.endpoints[(m, n)] = _pair()
            pair[0] = pair[0].merge(_de(s))
            pair[1] = pair[1].merge(_de(i))
        self.lateness = self.lateness.merge(_de_hist(payload.get("lateness") or {}))
        self.started += int(payload.get("started", 0))
        self.late += int(payload.get("late", 0))

    # -- master / local: results -----------------------------------------------------------------
    def snapshot(self, duration_s: float) -> Snapshot:
        """The intended-start view for SLA rules (`p99_intended of "GET /x"`): same keys as the requests."""
        snap = Snapshot(duration_s=duration_s)
        for (m, n), (_, intended) in self.endpoints.items():
            snap.add(RequestStats(m, n, intended.count, 0, intended.total_ms, intended.histogram))
        return snap

    def section(self, dropped: int = 0) -> dict[str, Any]:
        """summary.json load.intended: per endpoint both timings; iterations late / dropped; lateness."""
        rows = []
        for (m, n), (send, intended) in sorted(self.endpoints.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            rows.append(
                {
                    "method": m,
                    "name": n,
                    "count": send.count,
                    "send": _stats(send),
                    "intended": _stats(intended),
                }
            )
        return {
            "definition": "response_time + (iteration start - iteration intended start)",
            "late_threshold_ms": LATE_MS,
            "iterations": {"started": self.started, "late": self.late, "dropped": int(dropped)},
            "lateness": _stats_hist(self.lateness),
            "endpoints": rows,
        }


PCTS = {"p50": 0.5, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p99_9": 0.999}


def _stats_hist(h: Histogram) -> dict[str, Any]:
    out: dict[str, Any] = {"count": h.count, "max": h.max}
    out.update({k: h.percentile(p) for k, p in PCTS.items()})
    out["histogram"] = h.to_dict()
    return out


def _stats(rs: RequestStats) -> dict[str, Any]:
    out = _stats_hist(rs.histogram)
    out["avg"] = round(rs.avg_ms, 3) if rs.avg_ms is not None else None
    return out


def _ser_hist(h: Histogram) -> list[Any]:
    # numeric bucket keys: msgpack keeps them (Locust unpacks with strict_map_key=False), so the
    # master copies them instead of parsing a string per bucket (bench/erpbench/master_scale.py)
    return [dict(h.counts), h.min, h.max]


def _de_hist(raw: Any) -> Histogram:
    counts, lo, hi = raw if isinstance(raw, list | tuple) and len(raw) == 3 else ({}, None, None)
    return Histogram.from_dict(counts or {}, lo, hi)


def _ser(rs: RequestStats) -> list[Any]:
    return [rs.count, rs.total_ms, _ser_hist(rs.histogram)]


def _de(raw: Any) -> RequestStats:
    count, total, hist = raw
    return RequestStats("", "", int(count), 0, float(total), _de_hist(hist))


def recorder_of(environment: Environment) -> IntendedRecorder | None:
    """This process's recorder (None before `install_intended`)."""
    return getattr(environment, ATTR, None)


def install_intended(environment: Environment, run: Any) -> IntendedRecorder:
    """Record on every process that runs users; workers ship through the run's Exchange; idempotent."""
    rec = recorder_of(environment)
    if rec is not None:
        return rec
    rec = IntendedRecorder(environment)
    setattr(environment, ATTR, rec)
    runner = environment.runner
    environment.events.test_start.add_listener(rec.reset)
    if not isinstance(runner, MasterRunner):
        run.exchange.listen(rec.on_request, detail=True)  # through erpload's one request listener
    if isinstance(runner, WorkerRunner):
        run.exchange.provide(KEY, rec.payload)
    elif isinstance(runner, MasterRunner):
        run.exchange.merge(KEY, rec.on_payload)
    if not isinstance(runner, WorkerRunner):
        run.recorder.views[KEY] = lambda: rec.snapshot(run.recorder.elapsed())
        run.extra_providers["late_iterations"] = lambda: rec.late if rec.started else None
        run.extra_providers["iteration_lateness_p99"] = lambda: rec.lateness.percentile(0.99)
    return rec
