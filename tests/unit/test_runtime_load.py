"""The closed model's progress floor (erpload.locust.load.progress_check) and which roles need accounts."""

from __future__ import annotations

from types import SimpleNamespace

from erpload.locust.checks import credential_needs, running_roles
from erpload.locust.load import MIN_REQUESTS_PER_USER_MINUTE, completed_requests, progress_check
from erpload.profile import parse_profile
from erpload.users.inflight import InFlightAtStop


def test_progress_floor_is_one_request_per_user_minute() -> None:
    assert MIN_REQUESTS_PER_USER_MINUTE == 1.0
    info, stuck = progress_check(completed=3, user_seconds=7 * 60)  # 7 user-minutes, 3 requests
    assert stuck and "3 requests completed in 7.0 user-minutes" in stuck
    assert info == {"completed_requests": 3, "user_minutes": 7.0, "min_requests": 7.0}
    assert progress_check(completed=7, user_seconds=7 * 60)[1] is None


def test_too_little_running_time_is_not_judged() -> None:
    assert progress_check(completed=0, user_seconds=59)[1] is None  # < 1 user-minute
    assert progress_check(completed=0, user_seconds=0)[1] is None  # no users at all


def test_profile_may_allow_under_delivery() -> None:
    info, stuck = progress_check(completed=0, user_seconds=600, allowed=True)
    assert stuck is None and info["completed_requests"] == 0


class _Cutting:
    role_key = "cutting"


class _Planner:
    role_key = "ppic"


class _Plain:  # a team's own user class without an account
    pass


def test_credential_needs_follow_the_profile_roles() -> None:
    classes = [_Cutting, _Planner, _Plain]
    assert credential_needs(classes, None) == {"_Cutting": "cutting", "_Planner": "ppic"}
    assert credential_needs(classes, {"_Planner", "_Plain"}) == {"_Planner": "ppic"}


def test_running_roles_skip_zero_weights_and_include_stage_mixes() -> None:
    profile, problems = parse_profile(
        {
            "name": "p",
            "description": "d",
            "roles": {"CuttingOperator": 1, "Admin": 0},
            "stages": [
                {"duration": "10s", "users": 2},
                {"duration": "10s", "users": 2, "roles": {"QcInspector": 1}},
            ],
        },
        known_roles=["CuttingOperator", "Admin", "QcInspector"],
    )
    assert profile is not None, problems
    assert running_roles(profile) == {"CuttingOperator", "QcInspector"}


def test_requests_cut_off_at_stop_are_not_progress() -> None:
    """Local runner: the exception object; master: its repr from a worker report. Other failures count."""
    errors = {
        1: SimpleNamespace(error=InFlightAtStop("in flight at stop: 16 s"), occurrences=5),
        2: SimpleNamespace(error="InFlightAtStop('in flight at stop: 12 s')", occurrences=2),
        3: SimpleNamespace(error="ConnectionRefusedError(111)", occurrences=4),
    }
    env = SimpleNamespace(stats=SimpleNamespace(errors=errors, total=SimpleNamespace(num_requests=20)))
    assert completed_requests(env) == 13
