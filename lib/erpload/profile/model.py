"""Load profiles (pure): YAML -> validated frozen dataclasses, plus the stage maths a shape follows.

One file is one test. Every stage value is the value reached at the END of the stage, ramping
linearly from the previous stage's value (k6 semantics, Locust words); docs/profiles.md has examples.

    name: peak-200                      required
    description: Shift start...         required
    host: http://erp.local:8000         optional; used when -H/--host is not given
    roles: {CuttingOperator: 50, ...}   user class -> relative weight (>= 0, not all 0);
                                        required unless every stage has its own roles
    stages:                             required, at least one
      - duration: 5m                    required; Locust -t syntax (90, 90s, 5m, 1h30m) or seconds
        users: 200                      running users at the end of the stage (closed model)
        spawn_rate: 10                  optional: users started/stopped per second, then hold
                                        (default: linear over the whole stage)
        roles: {SewingOperator: 1}      optional: this stage's mix, replacing the profile's
        name: warm-up                   optional label (SLA window "stage:warm-up"); default stage-N
      - duration: 10m                   open model (every stage then has arrival_rate):
        arrival_rate: 20/s              workflow iterations per second, total over all workers
                                        (N, "N/s", "N/m", "N/h"); ramps from the previous
                                        stage's rate (0 before the first stage)
        users: 60                       required: the pre-allocated pool that runs the iterations
    sla: [...]                          rules, parsed by erpload.sla.grammar.parse_rules
    options: {stop_timeout: 30s, arrival_backlog: 2}
    allow: {dropped_iterations: 1%}     share of planned iterations that may be dropped
           {generator_saturation: true, under_delivery: true}   keep such runs valid (warn only)
    faults: [{at: 20s, action: outage, duration: 5s}]   scheduled faults (erpload.core.faultplan)
    hot_skus: [FAB-000001, FAB-000002]  stock adjustments pick from these only (lost-update check)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from erpload.core.errors import ConfigError, Problem
from erpload.profile.schema import (
    DEFAULT_BACKLOG,
    DEFAULT_DROPPED,
    ROLES,
    Checker,
    parse_duration,
    parse_rate,
    parse_ratio,
)

__all__ = [
    "ROLES",
    "Allow",
    "Options",
    "Profile",
    "Stage",
    "StagePlan",
    "StageTarget",
    "allocate",
    "load_profile",
    "parse_duration",
    "parse_profile",
    "parse_rate",
    "parse_ratio",
    "stage_plan",
    "target_at",
    "validate_profile_file",
]


@dataclass(frozen=True)
class Stage:
    """One stage: where users (or the arrival rate) are at its end, and how fast they get there."""

    name: str
    duration_s: float
    users: int
    spawn_rate: float | None = None  # None: linear ramp over the whole stage
    roles: dict[str, float] | None = None  # this stage's mix; None: the profile's
    arrival_rate: float | None = None  # open model: total iterations/s at the stage's end


@dataclass(frozen=True)
class Options:
    """Run options a profile may set."""

    stop_timeout_s: float | None = None  # graceful stop for users (Locust --stop-timeout)
    arrival_backlog: int = DEFAULT_BACKLOG  # tokens per process that may wait for a free user


@dataclass(frozen=True)
class Allow:
    """Deviations a run may show and still count as delivering the planned load."""

    dropped_iterations: float = DEFAULT_DROPPED  # fraction of planned iterations
    generator_saturation: bool = False  # a load generator above --worker-cpu-limit keeps the run valid
    under_delivery: bool = False  # closed model: fewer running users than planned keeps the run valid


@dataclass(frozen=True)
class Profile:
    """A validated load profile."""

    name: str
    description: str
    host: str | None
    roles: dict[str, float]
    stages: tuple[Stage, ...]
    sla: tuple = ()  # erpload.sla.grammar.Rule objects
    sla_raw: tuple = ()
    options: Options = field(default_factory=Options)
    allow: Allow = field(default_factory=Allow)
    source_path: str = ""
    faults: tuple = ()  # erpload.core.faultplan.FaultStep objects, applied by the master (erpload.locust.faults)
    hot_skus: tuple[str, ...] = ()  # stock adjustments pick from these only (erpload.locust.correctness)

    @property
    def duration_s(self) -> float:
        """Total length of all stages."""
        return sum(s.duration_s for s in self.stages)

    @property
    def is_open(self) -> bool:
        """True for an open-model (arrival-rate) profile."""
        return any(s.arrival_rate is not None for s in self.stages)

    @property
    def role_names(self) -> tuple[str, ...]:
        """Every role the profile or one of its stages mentions, sorted."""
        names = set(self.roles)
        for s in self.stages:
            names |= set(s.roles or {})
        return tuple(sorted(names))


@dataclass(frozen=True)
class StagePlan:
    """A stage placed on the time axis with its integer per-role start and end counts."""

    index: int
    stage: Stage
    start_s: float
    end_s: float
    start_roles: dict[str, int]
    end_roles: dict[str, int]
    moves: int  # users started + stopped to get from start_roles to end_roles
    rate: float  # users started/stopped per second in this stage (0.0 when nothing changes)
    ramp_s: float  # how long the transition takes (<= duration for a valid profile)
    start_arrival: float | None
    end_arrival: float | None

    @property
    def steady(self) -> bool:
        """True when neither users nor the arrival rate change in this stage (a hold)."""
        return self.moves == 0 and self.start_arrival == self.end_arrival


@dataclass(frozen=True)
class StageTarget:
    """Where a profile is at time t: the stage, expected users now, and the stage's end targets."""

    stage_index: int
    stage_name: str
    users_total: int  # expected running users at t (linear ramp)
    per_role: dict[str, int]  # expected per role at t, sums to users_total
    spawn_rate: float  # the stage's start/stop rate (0.0 for a hold)
    arrival_rate: float | None  # total iterations/s at t (open model), else None
    stage_users: int  # users at the end of the stage
    stage_per_role: dict[str, int]  # per role at the end of the stage
    stage_start_s: float
    stage_end_s: float


def allocate(users: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split `users` by weight (largest remainder): deterministic, exact sum, each within ±1 of its share."""
    if users < 0 or any(w < 0 for w in weights.values()):
        raise ValueError(f"users and weights must be >= 0 (got {users}, {dict(weights)})")
    total = sum(weights.values())
    if users == 0:
        return {name: 0 for name in weights}
    if total <= 0:
        raise ValueError(f"cannot allocate {users} users: all weights are 0")
    exact = {name: round(users * w / total, 9) for name, w in weights.items()}
    out = {name: math.floor(x) for name, x in exact.items()}
    left = users - sum(out.values())
    order = sorted(weights, key=lambda n: (-(exact[n] - out[n]), -weights[n], n))
    for name in order[:left]:
        out[name] += 1
    return out


def stage_plan(profile: Profile) -> tuple[StagePlan, ...]:
    """Place every stage on the time axis with integer per-role targets and its ramp rate."""
    names = profile.role_names
    current = {n: 0 for n in names}
    arrival: float | None = 0.0 if profile.is_open else None
    start = 0.0
    plans = []
    for i, st in enumerate(profile.stages):
        weights = {n: float((st.roles if st.roles is not None else profile.roles).get(n, 0)) for n in names}
        end_roles = allocate(st.users, weights) if st.users else {n: 0 for n in names}
        moves = sum(abs(end_roles[n] - current[n]) for n in names)
        if moves == 0:
            rate, ramp = 0.0, 0.0
        elif st.spawn_rate:
            rate, ramp = st.spawn_rate, moves / st.spawn_rate
        else:
            rate, ramp = moves / st.duration_s, st.duration_s
        plans.append(
            StagePlan(
                i,
                st,
                start,
                start + st.duration_s,
                current,
                end_roles,
                moves,
                rate,
                ramp,
                arrival,
                st.arrival_rate,
            )
        )
        current, arrival, start = end_roles, st.arrival_rate, start + st.duration_s
    return tuple(plans)


def target_at(profile: Profile, t: float, plan: tuple[StagePlan, ...] | None = None) -> StageTarget | None:
    """Where the profile is at `t` seconds after the start; None once the last stage has ended."""
    for sp in plan or stage_plan(profile):
        if t < sp.end_s:
            break
    else:
        return None
    elapsed = max(0.0, t - sp.start_s)
    p = 1.0 if sp.ramp_s <= 0 else min(1.0, elapsed / sp.ramp_s)
    exact = {n: a + p * (sp.end_roles[n] - a) for n, a in sp.start_roles.items()}
    users = math.floor(sum(exact.values()) + 0.5)
    arrival = None
    if sp.end_arrival is not None:
        a0 = sp.start_arrival or 0.0
        arrival = a0 + (sp.end_arrival - a0) * min(1.0, elapsed / sp.stage.duration_s)
    return StageTarget(
        sp.index,
        sp.stage.name,
        users,
        allocate(users, exact),
        sp.rate,
        arrival,
        sp.stage.users,
        dict(sp.end_roles),
        sp.start_s,
        sp.end_s,
    )


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
    stages = c.stages(doc.get("stages"), "stages" in doc, "roles" in doc)
    if len(c.problems) == before and stages:  # the stage maths needs sound roles and stages
        c.ramps(stage_plan(Profile("", "", None, roles or {}, tuple(Stage(**s) for s in stages))))
    options = c.section(
        doc.get("options"), "options", {"stop_timeout": None, "arrival_backlog": DEFAULT_BACKLOG}
    )
    allow = c.section(
        doc.get("allow"),
        "allow",
        {"dropped_iterations": DEFAULT_DROPPED, "generator_saturation": False, "under_delivery": False},
    )
    sla_rules = c.sla(doc.get("sla"), roles or {}, stages)
    faults = c.faults(doc.get("faults"), sum(s.get("duration_s", 0.0) for s in stages))
    hot_skus = c.hot_skus(doc.get("hot_skus"))
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
        options=Options(stop_timeout_s=options["stop_timeout"], arrival_backlog=options["arrival_backlog"]),
        allow=Allow(
            dropped_iterations=allow["dropped_iterations"],
            generator_saturation=allow["generator_saturation"],
            under_delivery=allow["under_delivery"],
        ),
        source_path=source,
        faults=tuple(faults),
        hot_skus=hot_skus,
    ), []


def _read(path: str | Path, known_roles: Iterable[str] | None) -> tuple[Profile | None, list[Problem]]:
    p = Path(path)
    fix = "Check the path; the shipped profiles are in profiles/ (e.g. profiles/smoke.yaml)"
    if not p.exists():
        return None, [Problem("", "file not found", fix)]
    if not p.is_file():
        return None, [Problem("", "not a file (got a directory)", fix)]
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        return None, [Problem("", f"not a text file ({e.reason})", "A profile is a UTF-8 YAML file")]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        return None, [
            Problem(where, f"YAML syntax error: {what}", "Check indentation, colons and quotes there")
        ]
    return parse_profile(data, str(p), known_roles)


def load_profile(path: str | Path, known_roles: Iterable[str] | None = None) -> Profile:
    """Read and validate a profile file; raise ConfigError listing every problem."""
    profile, problems = _read(path, known_roles)
    if profile is None:
        raise ConfigError(str(path), problems)
    return profile


def validate_profile_file(path: str | Path, known_roles: Iterable[str] | None = None) -> list[Problem]:
    """Every problem in a profile file (empty when valid); for `erpload validate`."""
    return _read(path, known_roles)[1]
