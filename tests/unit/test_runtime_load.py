"""The closed model's progress floor and on_start deaths (erpload.locust.load), think times, roles needing accounts."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from locust import User, between, constant, constant_pacing, task
from locust.env import Environment
from locust.runners import MasterRunner

from erpload.locust.checks import credential_needs, running_roles
from erpload.locust.load import (
    MIN_REQUESTS_PER_USER_MINUTE,
    OnStartDeaths,
    completed_requests,
    describe_wait,
    died_detail,
    died_in_on_start,
    progress_check,
    think_time,
)
from erpload.profile import parse_profile
from erpload.users.inflight import InFlightAtStop
from erpload.users.pacing import paced
from erpload.users.settings import Settings, configure


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


# -- users that die in on_start, think times ---------------------------------------------------


class _DiesInOnStart(User):
    def on_start(self) -> None:
        raise PermissionError("login refused")

    @task
    def work(self) -> None:
        pass


class _FailsInTask(User):
    @task
    def work(self) -> None:
        raise ValueError("task bug")


def _user_error_tb(cls: type) -> object:
    """Run one user of `cls` the way Locust does; the traceback its user_error event carried."""
    env = Environment(user_classes=[cls], catch_exceptions=False)
    seen: list = []
    env.events.user_error.add_listener(lambda user_instance, exception, tb, **_: seen.append(tb))
    with pytest.raises((PermissionError, ValueError)):
        cls(env).run()
    assert len(seen) == 1
    return seen[0]


def test_a_death_in_on_start_is_told_from_a_task_error() -> None:
    assert died_in_on_start(_user_error_tb(_DiesInOnStart))
    assert not died_in_on_start(_user_error_tb(_FailsInTask))
    assert not died_in_on_start(None)


class _Master(MasterRunner):
    """Only isinstance() is asked of the runner: no sockets, no greenlets."""

    def __init__(self) -> None:
        pass

    def __del__(self) -> None:
        pass


def test_on_start_deaths_count_per_role_with_the_user_time_they_owe() -> None:
    deaths = OnStartDeaths()
    tb = _user_error_tb(_DiesInOnStart)
    local = SimpleNamespace(runner=None)
    for _ in range(3):
        deaths.on_user_error(user_instance=_DiesInOnStart.__new__(_DiesInOnStart), exception=None, tb=tb)
    deaths.on_user_error(user_instance=object(), exception=None, tb=None)  # not an on_start death
    count, owed, by_role = deaths.totals(local)
    assert count == 3 and by_role == {"_DiesInOnStart": 3} and 0 <= owed < 3
    payload = deaths.payload()
    assert payload["count"] == 3 and payload["by_role"] == {"_DiesInOnStart": 3}
    master = OnStartDeaths()
    master_env = SimpleNamespace(runner=_Master())
    master.on_payload("w1", {"count": 2, "owed_s": 120.0, "by_role": {"A": 2}})
    master.on_payload("w2", {"count": 1, "owed_s": 60.0, "by_role": {"A": 1}})
    master.on_payload("w2", {"count": 1, "owed_s": 61.0, "by_role": {"A": 1}})  # the latest per worker
    count, owed, by_role = master.totals(master_env)
    assert count == 3 and by_role == {"A": 3} and 181.0 <= owed < 182.0
    master.reset()
    assert master.totals(master_env) == (0, 0.0, {})


def test_dead_users_are_under_delivery_past_the_running_users_tolerance() -> None:
    assert died_detail(1, {"A": 1}, 5) is None  # fewer than 2 users short: a warning only
    assert died_detail(2, {"A": 2}, 40) is None  # 5 % of the plan: within the 10 % tolerance
    detail = died_detail(5, {"MyUser": 4, "Other": 1}, 10)
    assert detail and detail.startswith("5 of 10 planned users died in on_start (MyUser 4, Other 1)")
    assert died_detail(5, {"MyUser": 5}, 10, allowed=True) is None
    # the owed user-time also counts in the progress floor: 10 dead users for 6 s, nothing completed
    assert progress_check(completed=0, user_seconds=10 * 6 + 0.0)[1] is not None


def test_think_time_names_what_was_in_effect() -> None:
    class Fast(User):
        wait_time = between(0.2, 1)

    class Slow(User):
        wait_time = between(3, 8)

    class Fixed(User):
        wait_time = constant(2)

    class Paced(User):
        wait_time = paced(constant_pacing(10))

    class Own(User):
        def wait_time(self) -> float:
            return 1.0

    assert [describe_wait(c) for c in (Fast, Slow, Fixed, Paced, Own)] == [
        "0.2–1 s",
        "3–8 s",
        "2 s",
        "pacing 10 s",
        "custom (test_think_time_names_what_was_in_effect.<locals>.Own.wait_time)",
    ]
    env = SimpleNamespace(user_classes=[Slow, Fast, Fixed])
    configure(None)
    think = think_time(env, None)
    assert think["source"] == "wait_time" and think["roles"]["Slow"] == "3–8 s"
    assert think["text"] == "per role: 0.2–1 s (Fast); 2 s (Fixed); 3–8 s (Slow)"
    try:
        configure(Settings.from_env({"ERPLOAD_THINK_TIME": "0.5,2"}))
        # the override replaces paced (ErpUser) wait times only; a team's own classes keep theirs
        assert think_time(env, None)["text"] == "per role: 0.2–1 s (Fast); 2 s (Fixed); 3–8 s (Slow)"
        env_paced = SimpleNamespace(user_classes=[Paced])
        assert think_time(env_paced, None)["text"] == "0.5–2 s for every role (ERPLOAD_THINK_TIME)"
        mixed = think_time(SimpleNamespace(user_classes=[Paced, Fixed]), None)["text"]
        assert mixed == "per role: 2 s (Fixed); 0.5–2 s (ERPLOAD_THINK_TIME) (Paced)"
    finally:
        configure(None)
    profile, problems = parse_profile(
        {"name": "p", "description": "d", "roles": {"Slow": 1}, "stages": [{"duration": "10s", "users": 2}]},
        known_roles=["Slow", "Fast", "Fixed"],
    )
    assert profile is not None, problems
    assert think_time(env, profile)["text"] == "per role: 3–8 s (Slow)"  # only the roles that run
