"""Per-operation rates: ROLE.TASK names checked against the user classes (exit 2 before any user starts).

The pure validator (erpload.profile.rates) knows the roles but not their @task methods: those live in
the user classes, which only a Locust process imports. `validate_rates` runs at init on the master (or
local runner) of a headless run; `erpload.locust.oprates` checks again at test start (a profile
picked in the web UI).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from locust.env import Environment

from erpload.core.errors import ConfigError, Problem
from erpload.core.units import did_you_mean
from erpload.profile import Profile
from erpload.profile.rates import split_key


def task_names(user_class: type) -> dict[str, Callable[..., Any]]:
    """{task name: function} of a user class's @tasks (the guarded wrappers keep their names)."""
    return {getattr(t, "__name__", ""): t for t in getattr(user_class, "tasks", []) if callable(t)}


def check_tasks(profile: Profile, user_classes: list[type]) -> None:
    """Every ROLE.TASK of the profile names a @task of that user class; ConfigError (exit 2) otherwise."""
    classes = {c.__name__: c for c in user_classes}
    problems = []
    for i, st in enumerate(profile.stages):
        for key in st.rates or {}:
            role, task = split_key(key)
            if role not in classes:
                continue  # the role itself is checked with the profile's roles
            known = sorted(n for n in task_names(classes[role]) if n)
            if task not in known:
                problems.append(
                    Problem(
                        f"stages[{i}].rates.{key}",
                        f"{role} has no task {task!r}",
                        f"{did_you_mean(task, known)}Tasks of {role}: {', '.join(known)}",
                    )
                )
    if problems:
        raise ConfigError(profile.source_path or profile.name, problems)


def validate_rates(environment: Environment) -> None:
    """Master / local, at init: the profile's ROLE.TASK names against the user classes; exit 2 if any is wrong."""
    from erpload.locust.checks import exit_invalid_config
    from erpload.profile import load_profile

    path = getattr(environment.parsed_options, "load_profile", "")
    if not path:
        return
    classes = list(environment.user_classes)
    try:
        profile = load_profile(path, known_roles=[c.__name__ for c in classes])
        if profile.has_rates:
            check_tasks(profile, classes)
    except ConfigError as e:
        exit_invalid_config(e)
