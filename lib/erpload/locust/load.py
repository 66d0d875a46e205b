"""summary.json `load`: what load was delivered, and whether it was enough to judge the target by.

A run that did not deliver its load measured the load generator, not the target, so it is INVALID
(exit 4), never a pass:
- open model: more planned iterations dropped than the profile allows (`allow.dropped_iterations`);
- closed model: the users made almost no progress (`progress_check`).
"""

from __future__ import annotations

import logging
from typing import Any

from erpload.locust import arrival
from erpload.profile import Profile
from erpload.users.inflight import InFlightAtStop

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
    }
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
    progress, stuck = progress_check(completed_requests(env), run.recorder.user_seconds, allowed)
    load["progress"] = progress
    if stuck:
        invalid.append({"reason": "load under-delivered", "at_s": at_s, "detail": stuck})
    return load, invalid
