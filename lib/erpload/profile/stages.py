"""Stage checks (pure): the `stages:` list, each stage's fields, unique names, and ramps that fit.

Functions of a `Checker` (erpload.profile.schema), which collects the problems; they return the
keyword arguments for `erpload.profile.model.Stage`, meaningful only when no problem was added.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from erpload.core.units import (
    DURATION_FIX,
    RATE_FIX,
    QuantityError,
    parse_duration,
    parse_rate,
    preview,
    preview_keys,
)
from erpload.profile.plan import StagePlan
from erpload.profile.rates import check_rates
from erpload.profile.schema import Checker, is_number

STAGE_KEYS = ("duration", "users", "spawn_rate", "roles", "name", "arrival_rate", "rates")
MAX_USERS = (
    1_000_000  # per stage, whatever the memory: 10^9 users passed once and the OOM killer ended the run
)
EXAMPLE = "e.g. stages: [{duration: 1m, users: 10}]"


def check_stages(c: Checker, raw: Any, present: bool, have_roles: bool) -> list[dict]:
    """The stage list: every stage's fields, one model (closed or open), unique names."""
    if raw is None or raw == []:
        if present:  # a missing key is already reported as required
            c.add("stages", f"must list at least one stage (got {preview(raw)})", EXAMPLE)
        return []
    if not isinstance(raw, list):
        c.add("stages", f"must be a list of stages (got {type(raw).__name__}: {preview(raw)})", EXAMPLE)
        return []
    out = [_stage(c, item, i, have_roles) for i, item in enumerate(raw)]
    kinds = [_kind(s) for s in raw]
    if len(set(kinds)) > 1:
        c.add(
            f"stages[{next(i for i, k in enumerate(kinds) if k != kinds[0])}]",
            "mixes closed-model stages (users), open-model stages (arrival_rate) and per-operation "
            f"stages (rates) (got {preview(kinds)})",
            "Give every stage an arrival_rate (open model), every stage rates (per operation), or neither",
        )
    seen: dict[str, int] = {}
    for i, stage in enumerate(out):
        first = seen.setdefault(stage.get("name", ""), i)
        if first != i:
            c.add(
                f"stages[{i}].name",
                f"duplicate stage name {preview(stage['name'])} (also stages[{first}])",
                "Give every stage its own name: SLA windows (stage:NAME) and reports tell them apart by it",
            )
    return out


def _kind(item: Any) -> str:
    if isinstance(item, dict) and "rates" in item:
        return "rates"
    return "open" if isinstance(item, dict) and "arrival_rate" in item else "closed"


def _stage(c: Checker, item: Any, i: int, have_roles: bool) -> dict:
    where = f"stages[{i}]"
    if not isinstance(item, dict):
        c.add(where, f"must be a mapping (got {preview(item)})", "e.g. - {duration: 5m, users: 100}")
        return {}
    if "max_users" in item:
        c.add(
            f"{where}.max_users",
            "unknown key 'max_users' (the user pool does not grow)",
            "Use users: N for the pre-allocated pool that runs the iterations",
        )
    c.keys({k: v for k, v in item.items() if k != "max_users"}, STAGE_KEYS, where, required=("duration",))
    out: dict[str, Any] = {"name": f"stage-{i + 1}", "duration_s": 1.0, "users": 0}
    if "duration" in item:
        try:
            out["duration_s"] = parse_duration(item["duration"])
        except QuantityError as e:
            c.add(f"{where}.duration", e.message, e.fix)
        else:
            if out["duration_s"] <= 0:
                c.add(f"{where}.duration", f"must be > 0 (got {preview(item['duration'])})", DURATION_FIX)
    is_open = "arrival_rate" in item or "rates" in item
    _users(c, item, where, is_open, out)
    if "rates" in item:
        if "arrival_rate" in item:
            c.add(
                f"{where}.rates",
                "a stage paces either whole iterations (arrival_rate) or single operations (rates), not both",
                "Remove arrival_rate, or move the operations' rates into a profile of their own",
            )
        out["rates"] = check_rates(c.add, item["rates"], f"{where}.rates", c.roles)
    if "spawn_rate" in item:
        rate = item["spawn_rate"]
        if not is_number(rate) or not 0 < rate <= MAX_USERS:
            c.add(
                f"{where}.spawn_rate",
                f"must be a number in 0..{MAX_USERS:,}, above 0 (users per second) (got {preview(rate)})",
                "Remove it for a linear ramp over the whole stage",
            )
        else:
            out["spawn_rate"] = float(rate)
    if "arrival_rate" in item:
        try:
            out["arrival_rate"] = parse_rate(item["arrival_rate"])
        except QuantityError as e:
            c.add(f"{where}.arrival_rate", e.message, e.fix or RATE_FIX)
        else:
            if out["arrival_rate"] > 0 and item.get("users") == 0:
                c.add(
                    f"{where}.users",
                    "must be >= 1 in an arrival-rate stage with a rate > 0 (got 0)",
                    "Add users to run the iterations",
                )
    if "roles" in item:
        out["roles"] = c.weights(item["roles"], f"{where}.roles")
    elif not have_roles:
        c.add(
            f"{where}.roles",
            "no role mix: neither the profile nor this stage has roles",
            "Add roles: {UserClass: weight} at the top level or to this stage",
        )
    if "name" in item:
        if isinstance(item["name"], str) and item["name"].strip():
            out["name"] = item["name"].strip()
        else:
            c.add(f"{where}.name", f"must be a non-empty string (got {preview(item['name'])})")
    return out


def _users(c: Checker, item: dict, where: str, is_open: bool, out: dict[str, Any]) -> None:
    if "users" not in item:
        if is_open:
            c.add(
                f"{where}.users",
                "required in an arrival-rate stage: the pre-allocated users that run "
                f"the iterations (got keys: {preview_keys(item)})",
                "Add users: N, about arrival rate x seconds per iteration x 1.5",
            )
        else:
            c.add(f"{where}.users", f"required (got keys: {preview_keys(item)})", "e.g. users: 10")
        return
    users = item["users"]
    if isinstance(users, bool) or not isinstance(users, int) or users < 0:
        c.add(f"{where}.users", f"must be a whole number >= 0 (got {preview(users)})")
    elif users > MAX_USERS:
        c.add(
            f"{where}.users",
            f"more than {MAX_USERS:,} users in one stage (got {users:,})",
            "Check the number (a typo?); a real test of this size is split over several profiles and machines",
        )
    else:
        out["users"] = users


def check_ramps(c: Checker, plans: Iterable[StagePlan]) -> None:
    """A spawn_rate too low to finish the stage's user changes within the stage."""
    for sp in plans:
        st = sp.stage
        if st.spawn_rate and sp.ramp_s > st.duration_s + 1e-9:
            prev, end = sum(sp.start_roles.values()), sum(sp.end_roles.values())
            mix = " and a new mix" if sp.moves != abs(end - prev) else ""
            c.add(
                f"stages[{sp.index}].spawn_rate",
                f"going from {prev} to {end} users{mix} takes {sp.moves} user starts/stops: "
                f"{sp.ramp_s:g}s at {st.spawn_rate:g}/s, longer than the stage ({st.duration_s:g}s)",
                f"Raise spawn_rate to >= {_ceil(sp.moves / st.duration_s * 100) / 100:g}, "
                f"lengthen duration to >= {_ceil(sp.ramp_s):d}s, or remove spawn_rate for a "
                "linear ramp over the stage",
            )


def _ceil(x: float) -> int:
    """math.ceil that cannot overflow: a 5e-324 s stage makes the rate it would need infinite."""
    return math.ceil(min(x, 1e18))
