"""Stage maths (pure): integer per-role targets per stage (`stage_plan`) and where a profile is at t (`target_at`).

A shape (erpload.locust.shapes) follows these; the schema checks ramps with them before a run starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from erpload.profile.model import Profile, Stage


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
