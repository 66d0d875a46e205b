"""Per-role stats and the erpload payload that rides Locust's worker reports: both halves in one place.

Every process logs each request into a per-role `StatsEntry` (Locust's own class, so bucketing,
serialisation and merging are exactly Locust's). Workers ship what they logged since their last
report under `data["erpload"]` every WORKER_REPORT_INTERVAL and reset it; the master merges it.
Other modules add their own sub-keys with `Exchange.provide(key, fn)` (worker side: fn() -> payload,
called once per report) and `Exchange.merge(key, fn)` (master side: fn(client_id, payload)).

This is THE worker -> master path for periodic data, laid out like Locust's own
`stats.setup_distributed_stats_event_listeners`: `on_report_to_master` (serialize, then reset) and
`on_worker_report` (unserialize, extend) sit side by side and `install` registers them together.
Riding it: "roles" (here), "tallies" (plugin), "health" (erpload.locust.health), "resources"
(erpload.locust.resources), "arrival" (erpload.locust.arrival), "intended" (erpload.locust.intended),
"looplag" (erpload.locust.looplag), "stages" (erpload.locust.stage_stats). No other module listens to
`report_to_master` / `worker_report` itself (tests/integration/test_runtime_exchange.py checks).

It is also erpload's one `request` listener: `Exchange.listen(fn)` adds a consumer that the single
listener calls as fn(request_type, name, response_time, exception) after logging the role stats
(a worker's request count), so a request costs one listener call with Locust's keyword copy instead
of one per consumer (docs/performance.md). `listen(fn, detail=True)` consumers (the stage book,
intended-start timing, correctness counts per second) get the values every view needs, computed once
per request: fn(request_type, name, response_time, exception, role, now, bucket) with `now` =
time.time() at the event and `bucket` = `fine_bucket(response_time)` (None without a time).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import locust.stats as locust_stats
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner
from locust.stats import RequestStats, StatsEntry

from erpload.core.histogram import fine_bucket
from erpload.users.pacing import CONTROL

log = logging.getLogger(__name__)

KEY = "erpload"
ROLE_METHOD = "ROLE"  # StatsEntry.method for a role aggregate (name = user class name)
Consumer = Callable[[str, str, float | None, BaseException | None], None]
# fn(request_type, name, response_time, exception, role, now, bucket): see the module docstring
DetailConsumer = Callable[[str, str, float | None, Any, str | None, float, int | None], None]


class Exchange:
    """Per-process erpload state shared between workers and master."""

    def __init__(self) -> None:
        self.role_stats = RequestStats(use_response_times_cache=False)
        self._providers: dict[str, Callable[[], Any]] = {}
        self._mergers: dict[str, Callable[[str, Any], None]] = {}
        self._listeners: list[Consumer] = []
        self._detailed: list[DetailConsumer] = []

    def provide(self, key: str, fn: Callable[[], Any]) -> None:
        """Worker side: add `fn()`'s result to every report under data['erpload'][key]."""
        self._providers[key] = fn

    def merge(self, key: str, fn: Callable[[str, Any], None]) -> None:
        """Master side: call fn(client_id, payload) for data['erpload'][key] of every worker report."""
        self._mergers[key] = fn

    def listen(self, fn: Callable[..., None], detail: bool = False) -> None:
        """Every process: call fn(request_type, name, response_time, exception) for every request.

        With `detail`, fn(request_type, name, response_time, exception, role, now, bucket): the role
        from the request context (or None), `now` = time.time() at the event, `bucket` =
        `fine_bucket(response_time)` (None without a time), computed once for every consumer.
        """
        (self._detailed if detail else self._listeners).append(fn)

    # -- every process ---------------------------------------------------------------------------
    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int = 0,
        exception: BaseException | None = None,
        context: dict | None = None,
        response: Any = None,  # named, like every key Locust's request event sends: an empty **_
        start_time: Any = None,
        url: Any = None,
        **_: Any,
    ) -> None:
        """Log the request into its role's aggregate (role from the request context), then the consumers."""
        now = time.time()
        bucket = None if response_time is None else fine_bucket(response_time)
        role = context.get("role") if context else None
        if role is not None:
            entry = self.role_stats.entries[(role, ROLE_METHOD)]
            if entry.use_response_times_cache:  # never for role_stats; Locust's own path then
                entry.log(response_time, response_length or 0)
            else:  # StatsEntry.log (Locust 2.47) inline, on the shared time and bucket
                entry.num_requests += 1
                entry.num_reqs_per_sec[int(now)] += 1
                entry.last_request_timestamp = now
                if response_time is None:
                    entry.num_none_requests += 1
                else:
                    entry.total_response_time += response_time
                    low = entry.min_response_time
                    if low is None or response_time < low:
                        entry.min_response_time = response_time
                    if response_time > entry.max_response_time:
                        entry.max_response_time = response_time
                    to_bucket = locust_stats.bucket_response_time  # what Locust buckets with now
                    key = bucket if to_bucket is fine_bucket else to_bucket(response_time)
                    entry.response_times[key] += 1
                entry.total_content_length += response_length or 0
            if exception is not None:
                entry.log_error(exception)
        for fn in self._detailed:
            try:
                fn(request_type, name, response_time, exception, role, now, bucket)
            except CONTROL:
                raise
            except Exception:  # like Locust's EventHook: one broken consumer never loses the others
                log.exception("erpload: request consumer %r failed", fn)
        for fn in self._listeners:
            try:
                fn(request_type, name, response_time, exception)
            except CONTROL:
                raise
            except Exception:
                log.exception("erpload: request consumer %r failed", fn)

    # -- worker ----------------------------------------------------------------------------------
    def on_report_to_master(self, client_id: str, data: dict[str, Any]) -> None:
        payload: dict[str, Any] = {"roles": self.role_stats.serialize_stats()}
        for key, fn in self._providers.items():
            try:
                payload[key] = fn()
            except Exception:  # a broken provider must never stop stats reporting
                log.exception("erpload: report provider %r failed", key)
        data[KEY] = payload

    # -- master ----------------------------------------------------------------------------------
    def on_worker_report(self, client_id: str, data: dict[str, Any]) -> None:
        payload = data.get(KEY)
        if not isinstance(payload, dict):
            return
        for row in payload.get("roles") or ():
            incoming = StatsEntry.unserialize(row, self.role_stats)
            self.role_stats.entries[(incoming.name, incoming.method)].extend(incoming)
        for key, fn in self._mergers.items():
            if key in payload:
                try:
                    fn(client_id, payload[key])
                except Exception:
                    log.exception("erpload: merging %r from %s failed", key, client_id)

    def install(self, environment: Environment) -> None:
        """Register the listeners this process needs."""
        environment.events.request.add_listener(self.on_request)
        runner = environment.runner
        if isinstance(runner, WorkerRunner):
            environment.events.report_to_master.add_listener(self.on_report_to_master)
        elif isinstance(runner, MasterRunner):
            environment.events.worker_report.add_listener(self.on_worker_report)

    def role_counts(self, environment: Environment) -> dict[str, int]:
        """Running users per user class, as the master (or local runner) sees them."""
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            return dict(runner.reported_user_classes_count)
        return dict(runner.user_classes_count) if runner is not None else {}


def add_counts(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    """Recursively add nested dicts of numbers (`{"a": {"x": 1}} + {"a": {"x": 2}}`)."""
    for key, value in more.items():
        if isinstance(value, dict):
            add_counts(into.setdefault(key, {}), value)
        elif isinstance(value, int | float):
            into[key] = into.get(key, 0) + value
    return into


class CumulativeTallies:
    """Per-process cumulative counters (RBAC violations, conflicts, sessions, stock ledger).

    Workers send their running totals with every report; the master keeps the latest payload per
    worker (so a lost report costs nothing and a lost worker's last totals still count) and sums.
    """

    def __init__(self, read: Callable[[], dict[str, Any]]) -> None:
        self.read = read
        self.by_client: dict[str, dict[str, Any]] = {}

    def reset(self) -> None:
        self.by_client.clear()

    def on_payload(self, client_id: str, payload: Any) -> None:
        if isinstance(payload, dict):
            self.by_client[client_id] = payload

    def totals(self, environment: Environment) -> dict[str, Any]:
        if not isinstance(environment.runner, MasterRunner):
            return self.read()
        out: dict[str, Any] = {}
        for payload in self.by_client.values():
            add_counts(out, payload)
        return out


def tag_roles(user_classes: list[type]) -> None:
    """Make every user class put `role` (its class name) into its requests' context.

    Per-role stats read the role from the request event's context. `ErpUser` sets it itself; a
    user's own classes get a cached per-class dict (no per-request allocation), or, when they
    define their own context(), a merge of theirs with the role.
    """
    from locust import User

    from erpload.users.base import ErpUser  # sets the role itself, with no per-request cost

    for cls in user_classes:
        own = cls.context
        if issubclass(cls, ErpUser):
            continue
        if own is User.context:
            cls._erpload_role_ctx = {"role": cls.__name__}
            cls.context = _cached_role_context  # type: ignore[method-assign]
        elif "role" not in _probe(own, cls):
            cls._erpload_role_ctx = {"role": cls.__name__}
            cls.context = _merged_role_context(own)  # type: ignore[method-assign]


def _cached_role_context(self: Any) -> dict[str, Any]:
    return self._erpload_role_ctx


def _merged_role_context(own: Callable[[Any], dict]) -> Callable[[Any], dict]:
    def context(self: Any) -> dict[str, Any]:
        return {**own(self), **self._erpload_role_ctx}

    return context


def _probe(own: Callable[[Any], dict], cls: type) -> dict[str, Any]:
    """What the class's own context() returns on a bare instance ({} if it needs a live user)."""
    try:
        result = own(object.__new__(cls))
    except Exception:
        return {}
    return result if isinstance(result, dict) else {}


def drain_workers_before_quit(environment: Environment) -> None:
    """On the master, make `runner.quit()` wait (bounded) until every live worker sent its final stats.

    Locust's master sends "quit" and kills its receive loop 0.5 s later, while each worker first
    stops its users (up to --stop-timeout), then sends its last stats and a "quit" back: with users
    mid-request those last requests never reached the verdict (measured: 18 of 310 requests). Here
    the master sends "quit" itself and keeps listening until every live worker has answered "quit"
    (it is then removed from `runner.clients`), at most --stop-timeout + 5 s, then quits as Locust does.
    """
    import gevent
    from locust.rpc import Message
    from locust.runners import STATE_MISSING

    runner = environment.runner
    if not isinstance(runner, MasterRunner):
        return
    original_quit = runner.quit

    def quit_after_final_reports() -> None:
        live = [c.id for c in runner.clients.all if c.state != STATE_MISSING]
        if live:
            runner.stop(send_stop_to_client=False)
            for client_id in live:
                runner.server.send_to_client(Message("quit", None, client_id))
            deadline = time.monotonic() + environment.stop_timeout + 5.0
            while time.monotonic() < deadline and any(
                cid in runner.clients and runner.clients[cid].state != STATE_MISSING for cid in live
            ):
                gevent.sleep(0.1)
            if any(cid in runner.clients for cid in live):
                log.warning(
                    "erpload: %d worker(s) did not send a final report in time",
                    sum(cid in runner.clients for cid in live),
                )
        original_quit()

    runner.quit = quit_after_final_reports  # type: ignore[method-assign]
