"""Profile schema checks (pure): every problem with where, the value got, and how to fix it.

`Checker` collects problems while `erpload.profile.load` walks a document: the top level, role
mixes, options/allow, request groups and SLA rules, faults, hot SKUs and the `api:` map file (checked
by erpload.api) here; the stages in `erpload.profile.stages`.
Nothing here raises on a bad value: a profile whose rules cannot be parsed, or whose SLA code cannot
be imported, is an error, never a profile with fewer rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from erpload.api import validate_api_map_file
from erpload.core.domain import USER_CLASSES
from erpload.core.errors import Problem
from erpload.core.faultplan import FaultStep, check_faults
from erpload.core.units import DURATION_FIX, did_you_mean, parse_duration, parse_ratio, preview, preview_keys
from erpload.sla.grammar import Groups, Rule, parse_rules
from erpload.sla.terms import parse_groups

TOP_KEYS = (
    "name",
    "description",
    "host",
    "roles",
    "stages",
    "sla",
    "groups",
    "options",
    "allow",
    "faults",
    "hot_skus",
    "api",
    "mode",
    "capacity",
)
REQUIRED_KEYS = ("name", "description", "stages")
HOST_PATTERN = r"https?://[^/\s]+"  # how a `host:` starts (re.match)
API_FIX = "A path relative to this profile, e.g. api: ../examples/api-maps/v1.yaml (docs/your-erp.md)"
MAX_WEIGHT = 1_000_000  # a role weight is relative; larger ones only risk float overflow in the split


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Checker:
    """Collects every problem while it walks a profile document."""

    def __init__(self, known_roles: Iterable[str] | None = None) -> None:
        self.roles = sorted(known_roles) if known_roles is not None else sorted(USER_CLASSES)
        self.problems: list[Problem] = []

    def add(self, where: str, message: str, fix: str = "") -> None:
        self.problems.append(Problem(where, message, fix))

    def keys(self, item: Mapping, allowed: Iterable[str], where: str, required: Iterable[str] = ()) -> None:
        """Unknown keys (with did-you-mean) and missing required keys."""
        allowed = list(allowed)
        prefix = f"{where}." if where else ""
        for key in item:
            if key not in allowed:
                hint = did_you_mean(key, allowed)
                self.add(
                    f"{prefix}{name(key)}",
                    f"unknown key {preview(key)}",
                    f"{hint}Known keys: {', '.join(allowed)}",
                )
        for key in required:
            if key not in item:
                self.add(f"{prefix}{key}", f"required (got keys: {preview_keys(item)})")

    def document(self, data: Any) -> dict | None:
        """The top level: a mapping with name, description, stages and known keys only."""
        if data is None:
            self.add("", "the file is empty", "Start from profiles/smoke.yaml")
            return None
        if not isinstance(data, dict):
            self.add(
                "",
                f"the top level must be a mapping of keys (got {type(data).__name__}: {preview(data)})",
                "Start from profiles/smoke.yaml",
            )
            return None
        searched = data.get("mode") == "capacity"  # a capacity search decides its own levels
        self.keys(data, TOP_KEYS, "", required=[k for k in REQUIRED_KEYS if not (searched and k == "stages")])
        for key in ("name", "description"):
            if key in data and (not isinstance(data[key], str) or not data[key].strip()):
                self.add(key, f"must be a non-empty string (got {preview(data[key])})")
        host = data.get("host")
        if host is not None and not (isinstance(host, str) and re.match(HOST_PATTERN, host)):
            self.add("host", f"must be a base URL (got {preview(host)})", "e.g. host: http://127.0.0.1:8000")
        return data

    def weights(self, raw: Any, where: str) -> dict[str, float] | None:
        """A role mix: {UserClass: weight >= 0}, at least one weight > 0, only known roles."""
        example = "e.g. {CuttingOperator: 3, QcInspector: 1}"
        if not isinstance(raw, dict) or not raw:
            self.add(where, f"must map user classes to weights (got {preview(raw)})", example)
            return None
        out: dict[str, float] = {}
        for role, weight in raw.items():
            if str(role) not in self.roles:
                self.add(
                    f"{where}.{name(role)}",
                    f"unknown role {preview(str(role))}",
                    f"{did_you_mean(str(role), self.roles)}Known roles: {', '.join(self.roles)}",
                )
            elif not is_number(weight) or not 0 <= weight <= MAX_WEIGHT:
                self.add(
                    f"{where}.{role}",
                    f"weight must be a number in 0..{MAX_WEIGHT:,} (got {preview(weight)})",
                    example,
                )
            else:
                out[str(role)] = float(weight)
        if len(out) == len(raw) and not any(out.values()):
            self.add(where, f"all weights are 0 (got {preview(raw)})", "Give at least one role a weight > 0")
        return out

    def section(self, raw: Any, where: str, defaults: dict[str, Any]) -> dict[str, Any]:
        """options: / allow: mappings; returns defaults updated with the valid values."""
        out = dict(defaults)
        if raw is None:
            return out
        if not isinstance(raw, dict):
            self.add(where, f"must be a mapping (got {preview(raw)})", f"Known keys: {', '.join(defaults)}")
            return out
        self.keys(raw, defaults, where)
        for key in [k for k in defaults if k in raw]:  # in a stable order
            parse, fix = SECTION_PARSERS[key]
            try:
                out[key] = parse(raw[key])
            except ValueError:
                self.add(f"{where}.{key}", f"invalid value (got {preview(raw[key])})", f"Use {fix}")
        return out

    def groups(self, raw: Any) -> dict[str, tuple[str, ...]]:
        """`groups:`: named sets of requests ("METHOD PATH") an SLA rule scopes with `of group "NAME"`."""
        groups, problems = parse_groups(raw, "groups")
        self.problems += problems
        return groups

    def sla(
        self, raw: Any, roles: Mapping[str, float], stages: list[dict], groups: Groups | None = None
    ) -> list[Rule]:
        """Parse the sla: list with erpload.sla.grammar; check stage windows, role and group scopes."""
        if raw is None:
            return []
        rules, problems = parse_rules(raw, "sla", groups)
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
                    f"names no stage of this profile (got {preview(rule.window)})",
                    f"{hint}Stages: {', '.join(names)}",
                )
            if rule.scope == "role" and rule.scope_value not in used:
                hint = did_you_mean(rule.scope_value, sorted(used))
                self.add(
                    f"sla[{i}]",
                    f"role {preview(rule.scope_value)} has no users in this profile",
                    f"{hint}Roles here: {', '.join(sorted(used))}",
                )
        return rules

    def faults(self, raw: Any, duration_s: float) -> list[FaultStep]:
        """The `faults:` schedule (erpload.core.faultplan); each fault must start before the profile ends."""
        steps = check_faults(raw, self.add)
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
                f"must be a non-empty list of SKU strings (got {preview(raw)})",
                "e.g. hot_skus: [FAB-000001, FAB-000002]",
            )
            return ()
        if len(set(raw)) != len(raw):
            self.add("hot_skus", f"lists a SKU twice (got {preview(raw)})", "List each SKU once")
        return tuple(s.strip() for s in raw)

    def api(self, raw: Any, source: str) -> str | None:
        """`api:`: an API map file, relative to the profile's own file; its problems under `api`."""
        if raw is None:
            return None
        if not isinstance(raw, str) or not raw.strip():
            self.add("api", f"must be the path of an API map file (got {preview(raw)})", API_FIX)
            return None
        path = Path(source).parent / raw.strip()  # an absolute path stays as it is
        for p in validate_api_map_file(path):
            if p.where:
                self.add(f"api ({raw.strip()}): {p.where}", p.message, p.fix)
            else:
                self.add("api", p.message, API_FIX)  # file not found, a directory, too large
        return str(path.resolve())


def _flag(value: Any) -> bool:
    """A YAML boolean (true/false), nothing else."""
    if not isinstance(value, bool):
        raise ValueError(value)
    return value


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("not a whole number >= 0")
    return value


# options: / allow: key -> (parser, fix); erpload.profile.json_schema states the same per parser
SECTION_PARSERS = {
    "stop_timeout": (parse_duration, DURATION_FIX),
    "memory_overcommit": (_flag, "true or false"),
    "arrival_backlog": (_whole, "a whole number >= 0, e.g. 2"),
    "dropped_iterations": (parse_ratio, 'e.g. "1%" or 0.01'),
    "generator_saturation": (_flag, "true or false"),
    "under_delivery": (_flag, "true or false"),
}


def name(key: Any) -> str:
    """A mapping key as it goes into a `where` path: str(), cut to 60 characters."""
    text = key if isinstance(key, str) else preview(key)
    return text if len(text) <= 60 else text[:57] + "..."
