"""Per-operation arrival rates (pure): a stage's `rates:` checked, and every operation's rate at time t.

A stage may pace single operations instead of whole workflow iterations (open model per operation)::

    stages:
      - name: steady
        duration: 3m
        users: 60                                   the pre-allocated pool (split by `roles:`)
        rates: {PpicPlanner.plan_order: 50/s,       ROLE.TASK: RATE; RATE as arrival_rate
                CuttingOperator.record_bundle: 100/s}

ROLE is a user class of the profile's mix, TASK one of its @task methods (checked against the class
when a run starts: `erpload.locust.oprates`). Each rate is the TOTAL over all workers at the end of the
stage and ramps linearly from the previous stage's rate for the same operation (0 before the first
stage, and for an operation the previous stage did not name). Users of a role with rates run only the
paced operations; roles without rates keep their think time (closed model), e.g. supervisors watching.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from erpload.core.units import RATE_FIX, QuantityError, did_you_mean, parse_rate, preview

KEY_RE = re.compile(r"(?P<role>[A-Za-z_][A-Za-z0-9_]*)\.(?P<task>[A-Za-z_][A-Za-z0-9_]*)")
MAX_RATE = 1_000_000.0  # per operation, per second: larger is a unit mistake
EXAMPLE = "e.g. rates: {PpicPlanner.plan_order: 50/s, CuttingOperator.record_bundle: 100/s}"


def split_key(key: str) -> tuple[str, str]:
    """('PpicPlanner', 'plan_order') for 'PpicPlanner.plan_order' (a key the checker accepted)."""
    role, _, task = key.partition(".")
    return role, task


def check_rates(add: Any, raw: Any, where: str, known_roles: Iterable[str]) -> dict[str, float] | None:
    """`rates:` -> {ROLE.TASK: per second}; problems go to `add(where, what, fix)`. None when unusable."""
    if not isinstance(raw, dict) or not raw:
        add(where, f"must map ROLE.TASK to a rate (got {preview(raw)})", EXAMPLE)
        return None
    roles = sorted(known_roles)
    out: dict[str, float] = {}
    for key, value in raw.items():
        at = f"{where}.{key if isinstance(key, str) and len(key) <= 60 else preview(key)}"
        m = KEY_RE.fullmatch(key) if isinstance(key, str) else None
        if m is None:
            add(
                at,
                f"must be ROLE.TASK, a user class and one of its @task methods (got {preview(key)})",
                EXAMPLE,
            )
            continue
        if m["role"] not in roles:
            add(
                at,
                f"unknown role {preview(m['role'])}",
                f"{did_you_mean(m['role'], roles)}Known roles: {', '.join(roles)}",
            )
            continue
        try:
            rate = parse_rate(value)
        except QuantityError as e:
            add(at, e.message, e.fix or RATE_FIX)
            continue
        if not 0 <= rate <= MAX_RATE:
            add(at, f"must be between 0 and {MAX_RATE:,.0f}/s (got {preview(value)})", RATE_FIX)
            continue
        out[key] = rate
    return out if len(out) == len(raw) else None


def check_rate_roles(add: Any, rates: Mapping[str, float], weights: Mapping[str, float], where: str) -> None:
    """Every role with a rate > 0 needs users in the stage's mix (else its tokens could only be dropped)."""
    for key, rate in rates.items():
        role, _ = split_key(key)
        if rate > 0 and weights.get(role, 0) <= 0:
            add(
                f"{where}.{key}",
                f"role {role} has no users in this stage's mix (roles: {preview(dict(weights))})",
                f"Give {role} a weight > 0 in the stage's (or the profile's) roles",
            )


def rate_keys(stages: Iterable[Any]) -> tuple[str, ...]:
    """Every ROLE.TASK some stage names, sorted."""
    return tuple(sorted({k for s in stages for k in (getattr(s, "rates", None) or {})}))


def rates_at(stages: Iterable[Any], t: float) -> tuple[int, dict[str, float]] | None:
    """(stage index, {ROLE.TASK: total per second}) at `t` s after the start; None after the last stage.

    Linear from the previous stage's rate of the same operation (0 before the first stage and for an
    operation the previous stage does not name) to this stage's (0 where it does not name it).
    """
    stages = list(stages)
    keys = rate_keys(stages)
    start, previous = 0.0, dict.fromkeys(keys, 0.0)
    for i, st in enumerate(stages):
        end_rates = {k: float((st.rates or {}).get(k, 0.0)) for k in keys}
        if t < start + st.duration_s:
            p = min(1.0, max(0.0, (t - start) / st.duration_s))
            return i, {k: previous[k] + (end_rates[k] - previous[k]) * p for k in keys}
        start, previous = start + st.duration_s, end_rates
    return None


def planned_tokens(stages: Iterable[Any]) -> list[dict[str, float]]:
    """Per stage, {ROLE.TASK: iterations the plan issues in it} (the ramp's mean rate x its duration)."""
    stages = list(stages)
    keys = rate_keys(stages)
    out, previous = [], dict.fromkeys(keys, 0.0)
    for st in stages:
        end_rates = {k: float((st.rates or {}).get(k, 0.0)) for k in keys}
        out.append({k: (previous[k] + end_rates[k]) / 2 * st.duration_s for k in keys})
        previous = end_rates
    return out


def split_rates(
    rates: Mapping[str, float], users: Mapping[Any, Mapping[str, int]]
) -> dict[Any, dict[str, float]]:
    """Each process's share of every operation's total rate, in proportion to its users of the role.

    `users`: process id -> {role: running users}. A role with no users anywhere yet (before the
    spawn) is split evenly, so no token is lost to a process that will get users in a moment.
    """
    out: dict[Any, dict[str, float]] = {p: {} for p in users}
    for key, total in rates.items():
        role = split_key(key)[0]
        have = {p: int(counts.get(role, 0)) for p, counts in users.items()}
        n = sum(have.values())
        for p in users:
            out[p][key] = total * have[p] / n if n else total / len(users)
    return out


def sum_counts(parts: Iterable[Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, list[int]]]:
    """Sum per-process counters {stage: {ROLE.TASK: [planned, started, dropped]}} (the master's merge)."""
    out: dict[str, dict[str, list[int]]] = {}
    for counts in parts:
        for stage, ops in counts.items():
            for key, values in ops.items():
                acc = out.setdefault(str(stage), {}).setdefault(str(key), [0, 0, 0])
                for i in range(3):
                    acc[i] += int(values[i])
    return out
