"""Profile schema checks (pure): every problem with where, the value got, and how to fix it.

`erpload.profile.model` builds its dataclasses from what `Checker` accepts; this module only judges.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from erpload.core.errors import Problem

ROLES = (
    "CuttingOperator",
    "SewingOperator",
    "FinishingOperator",
    "QcInspector",
    "PpicPlanner",
    "WarehouseClerk",
    "Admin",
    "Supervisor",
    "StockTaker",
)
DEFAULT_BACKLOG = 2
DEFAULT_DROPPED = 0.01
TOP_KEYS = ("name", "description", "host", "roles", "stages", "sla", "options", "allow", "faults", "hot_skus")
STAGE_KEYS = ("duration", "users", "spawn_rate", "roles", "name", "arrival_rate")
DURATION_FIX = "Use Locust's -t syntax: 90, 90s, 5m, 1h30m, 2h5m10s (or a number of seconds)"
RATE_FIX = 'Write iterations per second: 20, "20/s", "1200/m" or "72000/h"'
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_RATE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*(?:/\s*(s|sec|m|min|h|hour))?")
_PER = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0}


def parse_duration(value: Any) -> float:
    """Locust `-t` syntax (90, "90s", "5m", "1h30m", "2h5m10s") or a number -> seconds; ValueError otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"not a duration: {value!r} (must be >= 0); {DURATION_FIX}")
        return float(value)
    text = str(value).strip() if isinstance(value, str) else ""
    m = _DURATION.fullmatch(text)
    if text.isdigit():
        return float(text)
    if not m or not any(m.groups()):
        raise ValueError(f"not a duration: {value!r}; {DURATION_FIX}")
    h, mi, s = (int(g or 0) for g in m.groups())
    return float(h * 3600 + mi * 60 + s)


def parse_rate(value: Any) -> float:
    """An arrival rate (20, "20/s", "1200/m", "72000/h") -> iterations per second; ValueError otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"not a rate: {value!r} (must be >= 0)")
        return float(value)
    m = _RATE.fullmatch(value.strip()) if isinstance(value, str) else None
    if not m:
        raise ValueError(f"not a rate: {value!r}; {RATE_FIX}")
    return float(m.group(1)) / _PER[m.group(2)]


def parse_ratio(value: Any) -> float:
    """A share: 0.01 or "1%" -> 0.01 (0..1); ValueError otherwise."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            value = float(value.strip()[:-1]) / 100
        except ValueError:
            raise ValueError(f"not a percentage: {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"not a share between 0 and 1 (or 0% and 100%): {value!r}")
    return float(value)


def did_you_mean(got: str, choices: Iterable[str]) -> str:
    """ "Did you mean 'users'? " or "" (case-insensitive exact match first)."""
    choices = list(choices)
    lower = {c.lower(): c for c in choices}
    close = [lower[got.lower()]] if got.lower() in lower else difflib.get_close_matches(got, choices, 1, 0.6)
    return f"Did you mean '{close[0]}'? " if close else ""


def _got(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Checker:
    """Collects every problem while it walks a profile document."""

    def __init__(self, known_roles: Iterable[str] | None = None) -> None:
        self.roles = sorted(known_roles) if known_roles is not None else sorted(ROLES)
        self.problems: list[Problem] = []

    def add(self, where: str, message: str, fix: str = "") -> None:
        self.problems.append(Problem(where, message, fix))

    def keys(self, item: Mapping, allowed: Iterable[str], where: str, required: Iterable[str] = ()) -> None:
        """Unknown keys (with did-you-mean) and missing required keys."""
        allowed = list(allowed)
        prefix = f"{where}." if where else ""
        for key in item:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed)
                self.add(
                    f"{prefix}{key}", f"unknown key {str(key)!r}", f"{hint}Known keys: {', '.join(allowed)}"
                )
        for key in required:
            if key not in item:
                got = ", ".join(map(str, item)) or "none"
                self.add(f"{prefix}{key}", f"required (got keys: {got})")

    def document(self, data: Any) -> dict | None:
        """The top level: a mapping with name, description, stages and known keys only."""
        if data is None:
            self.add("", "the file is empty", "Start from profiles/smoke.yaml")
            return None
        if not isinstance(data, dict):
            self.add(
                "",
                f"the top level must be a mapping of keys (got {type(data).__name__}: {_got(data)})",
                "Start from profiles/smoke.yaml",
            )
            return None
        self.keys(data, TOP_KEYS, "", required=("name", "description", "stages"))
        for key in ("name", "description"):
            if key in data and (not isinstance(data[key], str) or not data[key].strip()):
                self.add(key, f"must be a non-empty string (got {_got(data[key])})")
        host = data.get("host")
        if host is not None and not (isinstance(host, str) and re.match(r"https?://[^/\s]+", host)):
            self.add("host", f"must be a base URL (got {_got(host)})", "e.g. host: http://127.0.0.1:8000")
        return data

    def weights(self, raw: Any, where: str) -> dict[str, float] | None:
        """A role mix: {UserClass: weight >= 0}, at least one weight > 0, only known roles."""
        example = "e.g. {CuttingOperator: 3, QcInspector: 1}"
        if not isinstance(raw, dict) or not raw:
            self.add(where, f"must map user classes to weights (got {_got(raw)})", example)
            return None
        out: dict[str, float] = {}
        for name, weight in raw.items():
            if str(name) not in self.roles:
                self.add(
                    f"{where}.{name}",
                    f"unknown role {str(name)!r}",
                    f"{did_you_mean(str(name), self.roles)}Known roles: {', '.join(self.roles)}",
                )
            elif not _is_number(weight) or weight < 0:
                self.add(f"{where}.{name}", f"weight must be a number >= 0 (got {_got(weight)})", example)
            else:
                out[str(name)] = float(weight)
        if len(out) == len(raw) and not any(out.values()):
            self.add(where, f"all weights are 0 (got {_got(raw)})", "Give at least one role a weight > 0")
        return out

    def stages(self, raw: Any, present: bool, have_roles: bool) -> list[dict]:
        """The stage list; returns keyword arguments for Stage (only meaningful when no problem)."""
        if raw is None or raw == []:
            if present:  # a missing key is already reported as required
                self.add(
                    "stages",
                    f"must list at least one stage (got {_got(raw)})",
                    "e.g. stages: [{duration: 1m, users: 10}]",
                )
            return []
        if not isinstance(raw, list):
            self.add(
                "stages",
                f"must be a list of stages (got {type(raw).__name__}: {_got(raw)})",
                "e.g. stages: [{duration: 1m, users: 10}]",
            )
            return []
        out = [self._stage(item, i, have_roles) for i, item in enumerate(raw)]
        kinds = ["open" if isinstance(s, dict) and "arrival_rate" in s else "closed" for s in raw]
        if len(set(kinds)) > 1:
            first_open = kinds.index("open")
            self.add(
                f"stages[{max(first_open, kinds.index('closed'))}]",
                f"mixes closed-model stages (users) with open-model stages (arrival_rate) (got {kinds})",
                "Give every stage an arrival_rate (open model) or none (closed model)",
            )
        return out

    def _stage(self, item: Any, i: int, have_roles: bool) -> dict:
        where = f"stages[{i}]"
        if not isinstance(item, dict):
            self.add(where, f"must be a mapping (got {_got(item)})", "e.g. - {duration: 5m, users: 100}")
            return {}
        if "max_users" in item:
            self.add(
                f"{where}.max_users",
                "unknown key 'max_users' (the user pool does not grow)",
                "Use users: N for the pre-allocated pool that runs the iterations",
            )
        self.keys(
            {k: v for k, v in item.items() if k != "max_users"}, STAGE_KEYS, where, required=("duration",)
        )
        out: dict[str, Any] = {"name": f"stage-{i + 1}", "duration_s": 1.0, "users": 0}
        if "duration" in item:
            try:
                out["duration_s"] = parse_duration(item["duration"])
            except ValueError:
                self.add(f"{where}.duration", f"not a duration (got {_got(item['duration'])})", DURATION_FIX)
            else:
                if out["duration_s"] <= 0:
                    self.add(f"{where}.duration", f"must be > 0 (got {_got(item['duration'])})", DURATION_FIX)
        is_open = "arrival_rate" in item
        if "users" not in item:
            if is_open:
                self.add(
                    f"{where}.users",
                    "required in an arrival-rate stage: the pre-allocated users that run "
                    f"the iterations (got keys: {', '.join(map(str, item))})",
                    "Add users: N, about arrival rate x seconds per iteration x 1.5",
                )
            else:
                self.add(
                    f"{where}.users", f"required (got keys: {', '.join(map(str, item))})", "e.g. users: 10"
                )
        elif isinstance(item["users"], bool) or not isinstance(item["users"], int) or item["users"] < 0:
            self.add(f"{where}.users", f"must be a whole number >= 0 (got {_got(item['users'])})")
        else:
            out["users"] = item["users"]
        if "spawn_rate" in item:
            rate = item["spawn_rate"]
            if not _is_number(rate) or rate <= 0:
                self.add(
                    f"{where}.spawn_rate",
                    f"must be a number > 0 (users per second) (got {_got(rate)})",
                    "Remove it for a linear ramp over the whole stage",
                )
            else:
                out["spawn_rate"] = float(rate)
        if is_open:
            try:
                out["arrival_rate"] = parse_rate(item["arrival_rate"])
            except ValueError:
                self.add(
                    f"{where}.arrival_rate", f"not a rate >= 0 (got {_got(item['arrival_rate'])})", RATE_FIX
                )
            else:
                if out["arrival_rate"] > 0 and item.get("users") == 0:
                    self.add(
                        f"{where}.users",
                        "must be >= 1 in an arrival-rate stage with a rate > 0 (got 0)",
                        "Add users to run the iterations",
                    )
        if "roles" in item:
            out["roles"] = self.weights(item["roles"], f"{where}.roles")
        elif not have_roles:
            self.add(
                f"{where}.roles",
                "no role mix: neither the profile nor this stage has roles",
                "Add roles: {UserClass: weight} at the top level or to this stage",
            )
        if "name" in item:
            if isinstance(item["name"], str) and item["name"].strip():
                out["name"] = item["name"].strip()
            else:
                self.add(f"{where}.name", f"must be a non-empty string (got {_got(item['name'])})")
        return out

    def section(self, raw: Any, where: str, defaults: dict[str, Any]) -> dict[str, Any]:
        """options: / allow: mappings; returns defaults updated with the valid values."""
        out = dict(defaults)
        if raw is None:
            return out
        if not isinstance(raw, dict):
            self.add(where, f"must be a mapping (got {_got(raw)})", f"Known keys: {', '.join(defaults)}")
            return out
        self.keys(raw, defaults, where)
        parsers = {
            "stop_timeout": (parse_duration, DURATION_FIX),
            "arrival_backlog": (_whole, "a whole number >= 0, e.g. 2"),
            "dropped_iterations": (parse_ratio, 'e.g. "1%" or 0.01'),
            "generator_saturation": (_flag, "true or false"),
            "under_delivery": (_flag, "true or false"),
        }
        for key in set(raw) & set(defaults):
            parse, fix = parsers[key]
            try:
                out[key] = parse(raw[key])
            except ValueError:
                self.add(f"{where}.{key}", f"invalid value (got {_got(raw[key])})", f"Use {fix}")
        return out

    def sla(self, raw: Any, roles: Mapping[str, float], stages: list[dict]) -> list:
        """Parse the sla: list with erpload.sla.grammar; check stage windows and role scopes against the profile."""
        if raw is None:
            return []
        try:
            from erpload.sla.grammar import parse_rules
        except ImportError:  # the SLA grammar is optional until it is installed
            return []
        rules, problems = parse_rules(raw, "sla")
        self.problems += problems
        bad = {int(m.group(1)) for p in problems if (m := re.match(r"sla\[(\d+)\]", p.where))}
        good = [i for i in range(len(raw) if isinstance(raw, list) else 0) if i not in bad]
        names = [s.get("name", "") for s in stages]
        used = set(roles) | {r for s in stages for r in (s.get("roles") or {})}
        for i, rule in zip(good, rules, strict=False):
            if rule.window.startswith("stage:") and rule.window[6:] not in names:
                hint = did_you_mean(rule.window[6:], names)
                self.add(
                    f"sla[{i}].window",
                    f"names no stage of this profile (got {rule.window!r})",
                    f"{hint}Stages: {', '.join(names)}",
                )
            if rule.scope == "role" and rule.scope_value not in used:
                hint = did_you_mean(rule.scope_value, sorted(used))
                self.add(
                    f"sla[{i}]",
                    f"role {rule.scope_value!r} has no users in this profile",
                    f"{hint}Roles here: {', '.join(sorted(used))}",
                )
        return rules

    def faults(self, raw: Any, duration_s: float) -> list:
        """The `faults:` schedule (erpload.core.faultplan); each fault must start before the profile ends."""
        from erpload.core.faultplan import check_faults

        steps = check_faults(raw, self.add, parse_duration, _got)
        for i, step in enumerate(steps):
            if duration_s and step.at_s >= duration_s:
                self.add(
                    f"faults[{i}].at",
                    f"{step.at_s:g}s is not before the end of the profile ({duration_s:g}s)",
                    "Schedule it earlier or lengthen the stages",
                )
        return steps

    def hot_skus(self, raw: Any) -> tuple[str, ...]:
        """`hot_skus:`: a small list of SKUs every stock adjustment picks from (to make writes collide)."""
        if raw is None:
            return ()
        if not isinstance(raw, list) or not raw or not all(isinstance(s, str) and s.strip() for s in raw):
            self.add(
                "hot_skus",
                f"must be a non-empty list of SKU strings (got {_got(raw)})",
                "e.g. hot_skus: [FAB-000001, FAB-000002]",
            )
            return ()
        if len(set(raw)) != len(raw):
            self.add("hot_skus", f"lists a SKU twice (got {_got(raw)})", "List each SKU once")
        return tuple(s.strip() for s in raw)

    def ramps(self, plans: Iterable[Any]) -> None:
        """A spawn_rate too low to finish the stage's user changes within the stage."""
        for sp in plans:
            st = sp.stage
            if st.spawn_rate and sp.ramp_s > st.duration_s + 1e-9:
                prev, end = sum(sp.start_roles.values()), sum(sp.end_roles.values())
                mix = " and a new mix" if sp.moves != abs(end - prev) else ""
                self.add(
                    f"stages[{sp.index}].spawn_rate",
                    f"going from {prev} to {end} users{mix} takes {sp.moves} user starts/stops: "
                    f"{sp.ramp_s:g}s at {st.spawn_rate:g}/s, longer than the stage ({st.duration_s:g}s)",
                    f"Raise spawn_rate to >= {math.ceil(sp.moves / st.duration_s * 100) / 100:g}, "
                    f"lengthen duration to >= {math.ceil(sp.ramp_s):d}s, or remove spawn_rate for a "
                    "linear ramp over the stage",
                )


def _flag(value: Any) -> bool:
    """A YAML boolean (true/false), nothing else."""
    if not isinstance(value, bool):
        raise ValueError(value)
    return value


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"not a whole number >= 0: {value!r}")
    return value
