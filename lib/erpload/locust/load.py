"""summary.json `load`: what load was delivered, and whether it was enough to judge the target by.

A run that did not deliver its load measured the load generator, not the target, so it is INVALID
(exit 4), never a pass:
- open model: more planned iterations dropped than the profile allows (`allow.dropped_iterations`);
- closed model: the users made almost no progress (`progress_check`), or users died in `on_start`.

Users that die in `on_start` (Locust ends a user whose on_start raises: a login refused in a team's
own locustfile does that) never deliver their load, and the running-user count no longer shows them.
`OnStartDeaths` counts them in every process (by the traceback's outermost frame: `User.run`, the
only place Locust reports an on_start error from) with the user-time they still owed. The progress
floor counts that time, and more dead users than the running-users tolerance of
`erpload.core.series.UnderDeliveryDetector` (over 10 % of the planned users and at least 2) is
under-delivery on its own. `allow: {under_delivery: true}` turns both into warnings.

`load.think_time` says which think times were in effect (ERPLOAD_THINK_TIME, or each role's wait_time).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any

from locust import User
from locust.runners import MasterRunner

from erpload.core.series import UnderDeliveryDetector
from erpload.core.tallies import transfer_rates
from erpload.locust import arrival, intended, throughput
from erpload.locust.checks import running_roles
from erpload.profile import Profile
from erpload.users.inflight import InFlightAtStop
from erpload.users.settings import THINK_TIME, current

log = logging.getLogger("erpload")

# Closed model floor: at least one completed request per user-minute of running users.
#
# Why a fixed floor and not "users x duration / (think time + timeout)": think times are whatever
# the user classes' wait_time() returns (not knowable up front for a team's own locustfile), and
# with a per-request timeout T every user still completes >= 1 request per (think + T) seconds:
# failures and timeouts count as completed here (refused connections are a verdict on the target,
# exit 3, not an under-delivered run). The shipped roles think 3-10 s with a 10 s timeout, so even
# against a target that times out every request a user completes ~3 requests a minute; fewer than
# one a minute means the users are stuck (a target that answers slower than any timeout, a user
# blocked outside a request, a generator starved of CPU). A profile whose users really think for
# minutes opts out with `allow: {under_delivery: true}` (then only a warning).
MIN_REQUESTS_PER_USER_MINUTE = 1.0
MIN_USER_MINUTES = 1.0  # too little running time to judge: a run must deliver one user-minute first
_SHORT = UnderDeliveryDetector([])  # its tolerance and min_users: one rule for users short of the plan


def progress_check(
    completed: int, user_seconds: float, allowed: bool = False
) -> tuple[dict[str, Any], str | None]:
    """({completed_requests, user_minutes, floor}, detail of the under-delivery or None)."""
    user_minutes = user_seconds / 60.0
    floor = user_minutes * MIN_REQUESTS_PER_USER_MINUTE
    info = {
        "completed_requests": int(completed),
        "user_minutes": round(user_minutes, 3),
        "min_requests": round(floor, 1),
    }
    if user_minutes < MIN_USER_MINUTES or completed >= floor:
        return info, None
    detail = (
        f"{completed} requests completed in {user_minutes:.1f} user-minutes of running users "
        f"(fewer than {MIN_REQUESTS_PER_USER_MINUTE:g} per user-minute): the users barely progressed "
        f"(a target slower than the request timeout, users blocked outside requests, or a starved "
        f"generator); check the target's latency and the worker logs"
    )
    if allowed:
        log.warning("erpload: load under-delivered (allowed by the profile): %s", detail)
        return info, None
    return info, detail


def completed_requests(environment: Any) -> int:
    """Requests that got an answer or failed on their own (a timeout, a refused connection, an error).

    Requests cut off at stop (erpload.users.inflight: "in flight at stop") are failures for the
    verdict but not progress: they never completed.
    """
    stats = environment.stats
    cut_off = sum(e.occurrences for e in stats.errors.values() if _cut_off_at_stop(e.error))
    return max(0, stats.total.num_requests - cut_off)


def _cut_off_at_stop(error: Any) -> bool:
    """The exception itself where it was raised (local runner); its repr after a worker report (master)."""
    return isinstance(error, InFlightAtStop) or (
        isinstance(error, str) and error.startswith(f"{InFlightAtStop.__name__}(")
    )


def load_section(run: Any, profile: Profile | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(summary.json `load`, invalid entries) of the run that just ended; master / local only."""
    env = run.env
    invalid: list[dict[str, Any]] = []
    tallies = run.tallies.totals(env)
    at_s = round(run.recorder.elapsed(), 1)
    load: dict[str, Any] = {
        "model": "open" if profile is not None and profile.is_open else "closed",
        "final_users": run.exchange.role_counts(env),
        "rbac_violations": tallies.get("rbac_violations", {}),
        "conflicts": tallies.get("conflicts", {}),
        "sessions": tallies.get("sessions", {}),
        "transfers": transfer_rates(tallies.get("transfers", {})),  # exports/imports: bytes/s, rows/s
        "think_time": think_time(env, profile),
    }
    rates, short = throughput.load_part(run, profile)  # per-operation rates: planned vs achieved
    if rates is not None:
        load["rates"], invalid = rates, invalid + short
    if profile is not None and profile.is_open:
        totals = arrival.arrival_totals(env)
        planned = totals.get("planned", 0)
        ratio = totals.get("dropped", 0) / planned if planned else 0.0
        load.update(
            planned_iterations=planned,
            started_iterations=totals.get("started", 0),
            dropped_iterations=totals.get("dropped", 0),
            dropped_ratio=round(ratio, 6),
            allowed_dropped_ratio=profile.allow.dropped_iterations,
        )
        recorder = intended.recorder_of(env)
        if recorder is not None:  # both timings per endpoint; late and dropped iterations
            load["intended"] = recorder.section(dropped=totals.get("dropped", 0))
        if ratio > profile.allow.dropped_iterations:
            invalid.append(
                {
                    "reason": "load under-delivered",
                    "at_s": at_s,
                    "detail": f"{totals.get('dropped', 0)} of {planned} planned iterations dropped "
                    f"({ratio:.1%} > allowed {profile.allow.dropped_iterations:.1%}): "
                    f"add users to the arrival stages or more workers",
                }
            )
        return load, invalid
    allowed = bool(profile is not None and profile.allow.under_delivery)
    dead, owed_s, by_role = run.deaths.totals(env)
    progress, stuck = progress_check(completed_requests(env), run.recorder.user_seconds + owed_s, allowed)
    load["progress"] = progress
    if dead:
        load["died_on_start"] = {
            "users": dead,
            "by_role": by_role,
            "user_minutes_owed": round(owed_s / 60, 3),
        }
        stuck = died_detail(dead, by_role, _planned_users(run, profile), allowed) or stuck
    if stuck:
        invalid.append({"reason": "load under-delivered", "at_s": at_s, "detail": stuck})
    return load, invalid


def _planned_users(run: Any, profile: Profile | None) -> int:
    """The most users the run was meant to have at once: the profile's peak, else Locust's target."""
    if profile is not None:
        return profile.peak_users
    target = int(getattr(run.env.runner, "target_user_count", 0) or 0)
    return max(target, max(run.recorder.timeline.users, default=0))


def died_detail(dead: int, by_role: dict[str, int], planned: int, allowed: bool = False) -> str | None:
    """The under-delivery detail when more users died in on_start than the running-users tolerance allows."""
    planned = max(planned, dead)
    roles = ", ".join(f"{role} {n}" for role, n in sorted(by_role.items(), key=lambda kv: (-kv[1], kv[0])))
    detail = (
        f"{dead} of {planned} planned users died in on_start ({roles}) and sent no load after; "
        "the report's exceptions say why (a login refused, a missing account, a bug)"
    )
    if dead < _SHORT.min_users or dead <= _SHORT.tolerance * planned:
        log.warning("erpload: %s", detail)
        return None
    if allowed:
        log.warning("erpload: load under-delivered (allowed by the profile): %s", detail)
        return None
    return detail


def died_in_on_start(tb: Any) -> bool:
    """Whether a `user_error` traceback starts in Locust's `User.run` (where on_start errors are reported)."""
    return tb is not None and getattr(tb.tb_frame, "f_code", None) is User.run.__code__


class OnStartDeaths:
    """Users whose on_start raised, with the user-time they owe; workers ship theirs to the master."""

    def __init__(self) -> None:
        self.count, self.clock_sum = 0, 0.0  # deaths, and the sum of their monotonic times
        self.by_role: Counter[str] = Counter()
        self.by_client: dict[str, tuple[dict[str, Any], float]] = {}  # master: latest payload, when

    def reset(self, **_: Any) -> None:
        """Forget every death (test start)."""
        self.count, self.clock_sum = 0, 0.0
        self.by_role.clear()
        self.by_client.clear()

    def on_user_error(self, user_instance: Any, exception: Any, tb: Any, **_: Any) -> None:
        """`user_error` listener: count the user when its on_start raised (Locust then ends it)."""
        if died_in_on_start(tb):
            self.count += 1
            self.clock_sum += time.monotonic()
            self.by_role[type(user_instance).__name__] += 1

    def payload(self) -> dict[str, Any]:
        """Worker: cumulative deaths and the user-seconds owed so far (on its own clock: no skew)."""
        owed = self.count * time.monotonic() - self.clock_sum
        return {"count": self.count, "owed_s": owed, "by_role": dict(self.by_role)}

    def on_payload(self, client_id: str, payload: Any) -> None:
        """Master: keep each worker's latest payload and when it arrived."""
        if isinstance(payload, dict):
            self.by_client[client_id] = (payload, time.monotonic())

    def totals(self, environment: Any) -> tuple[int, float, dict[str, int]]:
        """(dead users, user-seconds they owe up to now, per role) of the whole run."""
        now = time.monotonic()
        if not isinstance(environment.runner, MasterRunner):
            return self.count, self.count * now - self.clock_sum, dict(self.by_role)
        count, owed, roles = 0, 0.0, Counter[str]()
        for payload, at in self.by_client.values():
            n = int(payload.get("count") or 0)
            count += n
            owed += float(payload.get("owed_s") or 0.0) + n * (now - at)
            roles.update({str(k): int(v) for k, v in (payload.get("by_role") or {}).items()})
        return count, owed, dict(roles)


def describe_wait(cls: type) -> str:
    """'3–8 s' for between(3, 8), '2 s' for constant(2), 'pacing 10 s', else 'custom (its name)'."""
    fn = getattr(cls, "wait_time", None)
    fn = getattr(fn, "wrapped", fn)  # erpload.users.pacing.paced keeps the role's own here
    name = str(getattr(fn, "__qualname__", type(fn).__name__))
    try:
        values = [c.cell_contents for c in fn.__closure__ or ()]  # type: ignore[union-attr]
        cells = dict(zip(fn.__code__.co_freevars, values, strict=True))  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError):
        cells = {}
    if name.startswith("between.") and {"min_wait", "max_wait"} <= cells.keys():
        return f"{cells['min_wait']:g}–{cells['max_wait']:g} s"
    if name.startswith("constant.") and "wait_time" in cells:
        return f"{cells['wait_time']:g} s"
    if name.startswith("constant_pacing.") and "wait_time" in cells:
        return f"pacing {cells['wait_time']:g} s"
    return f"custom ({name})"


def think_time(environment: Any, profile: Profile | None) -> dict[str, Any]:
    """summary.json `load.think_time`: what the running roles waited between tasks, and a line saying it.

    ERPLOAD_THINK_TIME replaces the think time of the classes whose wait_time erpload paces (every
    ErpUser); a team's own classes keep theirs, and the line says which is which.
    """
    if profile is not None and profile.is_open:
        text = "none after an arrival token (the profile's arrival_rate paces)"
        return {"source": "open model", "text": text}
    classes = list(environment.user_classes)
    if profile is not None:
        names = running_roles(profile)
        classes = [c for c in classes if c.__name__ in names]
    override = current().think_time
    said = f"{override[0]:g}–{override[1]:g} s" if override is not None else ""
    roles = {}
    for c in sorted(classes, key=lambda c: c.__name__):
        paced = getattr(getattr(c, "wait_time", None), "erpload_paced", False)
        roles[c.__name__] = f"{said} ({THINK_TIME})" if override is not None and paced else describe_wait(c)
    if override is not None and roles and all(v == f"{said} ({THINK_TIME})" for v in roles.values()):
        text = f"{said} for every role ({THINK_TIME})"
        return {
            "source": THINK_TIME,
            "min_s": override[0],
            "max_s": override[1],
            "roles": roles,
            "text": text,
        }
    groups: dict[str, list[str]] = {}
    for role, wait in roles.items():
        groups.setdefault(wait, []).append(role)
    text = "; ".join(f"{wait} ({', '.join(names)})" for wait, names in groups.items()) or "no user classes"
    return {"source": "wait_time", "roles": roles, "text": f"per role: {text}"}
