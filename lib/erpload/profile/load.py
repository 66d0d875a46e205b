"""Profile files -> `Profile` (pure): read within bounds, check every field, collect ALL problems.

`load_profile` raises `ConfigError` (exit 2) listing every problem; `validate_profile_file` returns
them (`erpload validate`); `parse_profile` checks already-loaded data. A profile whose SLA rules
cannot be parsed is invalid: the SLA grammar is imported at the top, so a broken install fails
here instead of passing a profile with fewer rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from erpload.core.errors import ConfigError, Problem
from erpload.core.safeyaml import read_yaml_file
from erpload.profile.capacity_spec import check_mode, level_rules
from erpload.profile.model import DEFAULT_BACKLOG, DEFAULT_DROPPED, Allow, Options, Profile, Stage
from erpload.profile.plan import stage_plan
from erpload.profile.rates import check_rate_roles
from erpload.profile.schema import Checker
from erpload.profile.stages import check_ramps, check_stages

OPTIONS = {"stop_timeout": None, "arrival_backlog": DEFAULT_BACKLOG}
ALLOW = {
    "dropped_iterations": DEFAULT_DROPPED,
    "generator_saturation": False,
    "under_delivery": False,
    "memory_overcommit": False,
}


def parse_profile(
    data: Any, source: str = "<profile>", known_roles: Iterable[str] | None = None
) -> tuple[Profile | None, list[Problem]]:
    """Validate already-loaded YAML data; return the profile (None if invalid) and ALL problems."""
    c = Checker(known_roles)
    doc = c.document(data)
    if doc is None:
        return None, c.problems
    before = len(c.problems)
    roles = c.weights(doc["roles"], "roles") if "roles" in doc else None
    searched, capacity = check_mode(c, doc)  # mode: capacity: one synthetic stage (capacity_spec)
    stages = searched
    if stages is None:
        stages = check_stages(c, doc.get("stages"), "stages" in doc, "roles" in doc)
    if len(c.problems) == before and stages:  # the stage maths needs sound roles and stages
        check_ramps(c, stage_plan(Profile("", "", None, roles or {}, tuple(Stage(**s) for s in stages))))
        for i, s in enumerate(stages):  # a paced operation needs users of its role in that stage
            check_rate_roles(c.add, s.get("rates") or {}, s.get("roles") or roles or {}, f"stages[{i}].rates")
    options = c.section(doc.get("options"), "options", OPTIONS)
    allow = c.section(doc.get("allow"), "allow", ALLOW)
    if capacity is not None and capacity.is_open:  # judged per level: a breaking level drops iterations
        capacity = replace(capacity, dropped_allowed=allow["dropped_iterations"])
        allow["dropped_iterations"] = 1.0
    groups = c.groups(doc.get("groups"))
    sla_rules = c.sla(doc.get("sla"), roles or {}, stages, groups)
    if searched is not None:
        sla_rules, capacity = level_rules(c, sla_rules, capacity)
    faults = c.faults(doc.get("faults"), sum(s.get("duration_s", 0.0) for s in stages))
    hot_skus = c.hot_skus(doc.get("hot_skus"))
    api = c.api(doc.get("api"), source)
    if c.problems:
        return None, c.problems
    return Profile(
        name=doc["name"],
        description=doc["description"],
        host=doc.get("host"),
        roles=roles or {},
        stages=tuple(Stage(**s) for s in stages),
        sla=tuple(sla_rules),
        sla_raw=tuple(doc.get("sla") or ()),
        groups={k: v for k, v in groups.items() if v},
        options=Options(stop_timeout_s=options["stop_timeout"], arrival_backlog=options["arrival_backlog"]),
        allow=Allow(**allow),
        source_path=source,
        faults=tuple(faults),
        hot_skus=hot_skus,
        api=api,
        capacity=capacity,
    ), []


def _read(path: str | Path, known_roles: Iterable[str] | None) -> tuple[Profile | None, list[Problem]]:
    data, problems = read_yaml_file(path)
    if problems:
        return None, problems
    return parse_profile(data, str(path), known_roles)


def load_profile(path: str | Path, known_roles: Iterable[str] | None = None) -> Profile:
    """Read and validate a profile file; raise ConfigError listing every problem."""
    profile, problems = _read(path, known_roles)
    if profile is None:
        raise ConfigError(str(path), problems)
    return profile


def validate_profile_file(path: str | Path, known_roles: Iterable[str] | None = None) -> list[Problem]:
    """Every problem in a profile file (empty when valid); for `erpload validate`."""
    return _read(path, known_roles)[1]
