"""The `capacity:` block of a `mode: capacity` profile (pure): the search's settings, checked.

    mode: capacity
    capacity:
      model: closed           closed (default): levels are running users; open: arrival rates
      start: 10               the first level (users, or a rate such as 5/s in the open model)
      step: 10                linear search: start, start+step, ... up to max      } exactly
      bisect: 2               or: double from start until a level breaks, then     } one of
                              bisect until pass and break are at most this apart   } the two
      max: 200                the last level tried; never breaking below it reports ">= max"
      hold: 30s               each level's measured window
      settle: 10s             before it: ramp to the level and let queues settle (not measured)
      confirm: 1m             the last passing level is held again this long before it counts
      required: 50            optional: a capacity below this fails the run (exit 3)
      users: 60               open model only, required: the pre-allocated pool running iterations
      spawn_rate: 5           closed model, optional: users started per second (default: the
                              change is spread over the first half of `settle`)

`stages:` are not written in capacity mode: the search decides the levels while it runs. The
loader gives the Profile one synthetic stage (`stage`): the worst case (max users, or the pool at
the max rate) over the longest search, which is what the memory check and the under-delivery
detector read. Rules are evaluated on each level's window, so a rule may not name a stage window
(`window: all` and `steady` both mean "the level"), nor read a run-wide metric (resources,
intended-start timings) that a level window cannot isolate. `abort: true` means "break this level
early" here (checked live on the level's window after its `after` grace, failing `for` seconds):
a capacity search is meant to overload the ERP, so no rule stops the whole run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from erpload.core.units import DURATION_FIX, RATE_FIX, QuantityError, parse_duration, parse_rate, preview
from erpload.profile.capacity_judge import HOLD_EXTEND, SETTLE_EXTEND_S
from erpload.profile.model import Stage
from erpload.profile.schema import Checker, is_number
from erpload.sla.grammar import Rule
from erpload.sla.metrics import metric_spec, register_metric

KEYS = ("model", "start", "step", "bisect", "max", "hold", "settle", "confirm", "required", "users",
        "spawn_rate")  # fmt: skip
MODELS = ("closed", "open")
DEFAULTS = {"hold": 30.0, "settle": 10.0}  # confirm defaults to 2 x hold
MAX_LEVELS = 200  # a step search longer than this is a typo (step 1 up to 100,000 users)
CAPACITY_METRICS = {"closed": "capacity_users", "open": "capacity_rate"}  # filled at the end of a search
register_metric("capacity_users", "count", "capacity search: the most users every SLO held at (closed model)")
register_metric("capacity_rate", "rps", "capacity search: the highest arrival rate every SLO held at (open)")
EXAMPLE = "e.g. capacity: {start: 10, step: 10, max: 200, hold: 30s, confirm: 1m}"


@dataclass(frozen=True)
class CapacitySpec:
    """The search's settings, in canonical units (users, or iterations/s; seconds)."""

    model: str  # "closed" (levels are users) or "open" (levels are arrival rates)
    start: float
    max: float
    step: float | None  # linear search, or
    bisect: float | None  # the resolution of a doubling-then-bisecting search
    hold_s: float
    settle_s: float
    confirm_s: float
    required: float | None = None
    users: int | None = None  # open model: the pool
    spawn_rate: float | None = None
    early_break: tuple[int, ...] = ()  # indexes of the profile's rules written with abort: true
    dropped_allowed: float = 0.01  # open model: a level dropping more of its iterations breaks

    @property
    def is_open(self) -> bool:
        return self.model == "open"

    @property
    def unit(self) -> str:
        """'users' or '/s'."""
        return "/s" if self.is_open else "users"

    def fmt(self, level: float | None) -> str:
        """'40 users', '12.5/s'."""
        if level is None:
            return "none"
        return f"{level:g}/s" if self.is_open else f"{int(level)} users"

    @property
    def metric(self) -> str:
        """The SLA metric carrying the capacity found: capacity_users or capacity_rate."""
        return CAPACITY_METRICS[self.model]

    def worst_case_s(self) -> float:
        """An upper bound of the search's length: every level tried once, the two boundary levels up to
        3 runs each (retest, confirm, tie-break), each run with its longest settle and hold
        (erpload.profile.capacity_judge: SETTLE_EXTEND_S, HOLD_EXTEND)."""
        if self.step:
            levels = math.floor((self.max - self.start) / self.step + 1e-9) + 2
        else:
            grow = math.ceil(math.log2(max(self.max / self.start, 1.0))) + 1
            levels = grow + math.ceil(math.log2(max((self.max - self.start) / (self.bisect or 1.0), 1.0))) + 1
        settle = self.settle_s + max(SETTLE_EXTEND_S, self.settle_s)
        run = settle + HOLD_EXTEND * max(self.hold_s, self.confirm_s)
        return (levels + 4) * run

    def stage(self) -> Stage:
        """The synthetic stage the Profile carries: the worst case (see the module docstring)."""
        users = int(self.users or 0) if self.is_open else int(self.max)
        rate = self.max if self.is_open else None
        return Stage(name="capacity", duration_s=self.worst_case_s(), users=users, arrival_rate=rate)


def check_capacity(c: Checker, raw: Any) -> CapacitySpec | None:
    """The `capacity:` block; None (with problems added) when it is missing or wrong."""
    if not isinstance(raw, dict):
        c.add("capacity", f"required with mode: capacity, a mapping (got {preview(raw)})", EXAMPLE)
        return None
    before = len(c.problems)
    c.keys(raw, KEYS, "capacity", required=("start", "max"))
    model = raw.get("model", "closed")
    if model not in MODELS:
        c.add(
            "capacity.model", f"must be closed or open (got {preview(model)})", "closed: users; open: rates"
        )
        model = "closed"
    level = _rate if model == "open" else _users
    start, top = level(c, raw, "start"), level(c, raw, "max")
    step, bisect = level(c, raw, "step"), level(c, raw, "bisect")
    if ("step" in raw) == ("bisect" in raw):
        got = "both" if "step" in raw else "neither"
        c.add("capacity", f"give exactly one of step (linear search) or bisect (its resolution) (got {got})",
              "e.g. step: 10, or bisect: 2")  # fmt: skip
    if start is not None and top is not None:
        if not 0 < start <= top:
            c.add("capacity.start", f"must be > 0 and <= max (got start {start:g}, max {top:g})")
        elif step and (top - start) / step + 1 > MAX_LEVELS:
            c.add("capacity.step", f"{(top - start) / step + 1:.0f} levels from {start:g} to {top:g}",
                  f"At most {MAX_LEVELS} levels: raise step, or use bisect")  # fmt: skip
    hold = _duration(c, raw, "hold", DEFAULTS["hold"])
    settle = _duration(c, raw, "settle", DEFAULTS["settle"], zero_ok=True)
    confirm = _duration(c, raw, "confirm", 2 * hold)
    required = level(c, raw, "required")
    users = _users(c, raw, "users")
    if model == "open" and users is None and "users" not in raw:
        c.add("capacity.users", "required in the open model: the pre-allocated pool running the iterations",
              "Add users: N, about the max rate x seconds per iteration x 1.5")  # fmt: skip
    if model == "closed" and "users" in raw:
        c.add("capacity.users", "only for the open model (the closed model's levels are users)",
              "Remove it, or set model: open")  # fmt: skip
    spawn = raw.get("spawn_rate")
    if spawn is not None and not (is_number(spawn) and spawn > 0):
        c.add("capacity.spawn_rate", f"must be a number > 0 (users per second) (got {preview(spawn)})")
    if len(c.problems) > before or start is None or top is None:
        return None
    return CapacitySpec(model, start, top, step, bisect, hold, settle, confirm, required,
                        None if users is None else int(users), None if spawn is None else float(spawn))  # fmt: skip


def _users(c: Checker, raw: dict, key: str) -> float | None:
    if key not in raw:
        return None
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        c.add(f"capacity.{key}", f"must be a whole number of users > 0 (got {preview(value)})", EXAMPLE)
        return None
    return float(value)


def _rate(c: Checker, raw: dict, key: str) -> float | None:
    if key not in raw:
        return None
    try:
        value = parse_rate(raw[key])
    except QuantityError as e:
        c.add(f"capacity.{key}", e.message, e.fix or RATE_FIX)
        return None
    if value <= 0:
        c.add(f"capacity.{key}", f"must be above 0 (got {preview(raw[key])})", RATE_FIX)
        return None
    return value


def _duration(c: Checker, raw: dict, key: str, default: float, zero_ok: bool = False) -> float:
    if key not in raw:
        return default
    try:
        value = parse_duration(raw[key])
    except QuantityError as e:
        c.add(f"capacity.{key}", e.message, e.fix)
        return default
    if value <= 0 and not zero_ok:
        c.add(f"capacity.{key}", f"must be > 0 (got {preview(raw[key])})", DURATION_FIX)
    return value


def level_rules(
    c: Checker, rules: list[Rule], spec: CapacitySpec | None
) -> tuple[list[Rule], CapacitySpec | None]:
    """Rules a level window can judge (problems for the others); abort: true -> the spec's early_break.

    Returns the rules with `abort` cleared (no rule stops a capacity run) plus, with `required`, the
    rule `capacity_users >= required` (or capacity_rate), and the spec with `early_break` set.
    """
    out, early = [], []
    # the checker said "names no stage of this profile (Stages: capacity)": say why instead, below
    c.problems[:] = [
        p for p in c.problems if not (p.where.endswith(".window") and "names no stage" in p.message)
    ]
    for i, rule in enumerate(rules):
        spec_of = metric_spec(rule.metric)
        if rule.window.startswith("stage:"):
            c.add(f"sla[{i}].window", f"a capacity search has no profile stages (got {preview(rule.window)})",
                  "Remove the window: each rule is judged on each level's window")  # fmt: skip
        elif (
            spec_of is not None
            and spec_of.source != "request"
            and rule.metric not in CAPACITY_METRICS.values()
        ):
            c.add(f"sla[{i}]", f"{rule.metric} cannot be judged per level: it is measured over the whole run",
                  "Keep request metrics (latency, error_rate, rps) in a capacity profile")  # fmt: skip
        if rule.abort:
            early.append(i)
        out.append(replace(rule, abort=False))
    if spec is None:
        return out, None
    if spec.required is not None:
        text = f"{spec.metric} >= {spec.required:g}" + ("/s" if spec.is_open else "")
        out.append(Rule(spec.metric, ">=", spec.required, name="capacity required", text=text))
    return out, replace(spec, early_break=tuple(early))


def check_mode(c: Checker, doc: dict) -> tuple[list[dict] | None, CapacitySpec | None]:
    """`mode:` and `capacity:`: (the synthetic stage list, the spec) in capacity mode, (None, None) else."""
    mode = doc.get("mode", "stages")
    if mode not in ("stages", "capacity"):
        c.add("mode", f"must be stages or capacity (got {preview(mode)})", "capacity: search the capacity")
        return None, None
    if mode == "stages":
        if "capacity" in doc:
            c.add("capacity", "only read with mode: capacity", "Add mode: capacity, or remove the block")
        return None, None
    if "stages" in doc:
        c.add("stages", "not used with mode: capacity: the search decides the levels while it runs",
              "Remove stages:, or use `erpload capacity PROFILE`, which derives a search from them")  # fmt: skip
    if "roles" not in doc:
        c.add("roles", "required with mode: capacity (there are no stages with their own mix)",
              "Add roles: {UserClass: weight}")  # fmt: skip
    spec = check_capacity(c, doc.get("capacity"))
    return ([dict(vars(spec.stage()))] if spec else []), spec
