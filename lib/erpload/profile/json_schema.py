"""The load profile's JSON Schema (pure), generated from the validator's own tables.

Keys, required keys and enums come from where the checks read them: erpload.profile.schema
(TOP_KEYS, REQUIRED_KEYS, HOST_PATTERN, MAX_WEIGHT, SECTION_PARSERS), erpload.profile.load
(OPTIONS, ALLOW), erpload.profile.stages
(STAGE_KEYS, MAX_USERS), erpload.core.faultplan (ACTIONS, STEP_KEYS), erpload.sla (LONG_KEYS, OPS,
SCOPE_KEYS, HTTP_METHODS, GROUP_NAME_RE, the metric registry, PERCENTILE_RE) and erpload.core.units (PER, MAX_DURATION_S).
`erpload schema profile` prints it; profile.schema.json beside this module is the shipped copy
(tests/unit/test_schemas.py regenerates it and fails when it is stale). In an editor:

    # yaml-language-server: $schema=<path or URL of profile.schema.json>

What a schema cannot say stays with `erpload validate` (which has the last word): SLA thresholds and
their units per metric, stage windows, role and group scopes naming this profile's stages, roles and
groups, ramps
that fit their stage, faults before the end, a year as the longest duration.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from erpload.api.fields import DURATION, DURATION_TEXT, anchored
from erpload.core.domain import USER_CLASSES
from erpload.core.faultplan import ACTIONS, STEP_KEYS
from erpload.core.units import MAX_DURATION_S, PER
from erpload.profile.capacity_spec import KEYS as CAPACITY_KEYS
from erpload.profile.capacity_spec import MODELS
from erpload.profile.load import ALLOW, OPTIONS
from erpload.profile.schema import HOST_PATTERN, MAX_WEIGHT, REQUIRED_KEYS, SECTION_PARSERS, TOP_KEYS
from erpload.profile.stages import MAX_USERS, STAGE_KEYS
from erpload.sla.grammar import LONG_KEYS, SCOPE_KEYS
from erpload.sla.metrics import METRICS, PERCENTILE_RE, TARGET_RATE_RE
from erpload.sla.terms import GROUP_NAME_RE, HTTP_METHODS, OPS

DRAFT = "http://json-schema.org/draft-07/schema#"
NUMBER = (
    r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"  # erpload.core.units reads no sign, exponent or digits beyond ASCII
)
TEXT = {"type": "string", "pattern": r"\S"}
FAULT_MS_MAX = 600_000  # erpload.core.faultplan.check_faults: ms in 0..600000, rate in 0..1


def _anycase(text: str) -> str:
    """A literal matched case-insensitively with character classes (JSON Schema has no flags)."""
    return "".join(
        f"[{c.lower()}{c.upper()}]" if c.isalpha() else ("\\" + c if c in ".^$*+?()[]{}|\\/" else c)
        for c in text
    )


def _number_or(pattern: str, lo: float = 0, hi: float | None = None) -> dict[str, Any]:
    num: dict[str, Any] = {"type": "number", "minimum": lo}
    if hi is not None:
        num["maximum"] = hi
    return {"anyOf": [num, {"type": "string", "pattern": anchored(pattern)}]}


def duration() -> dict[str, Any]:
    """A duration >= 0 (erpload.core.units.parse_duration)."""
    return _number_or(DURATION_TEXT, 0, MAX_DURATION_S)


def rate() -> dict[str, Any]:
    """A rate >= 0: 20, "20/s", "1200/m" (erpload.core.units.parse_rate; blanks inside the unit are free)."""
    units = "|".join(" *".join(_anycase(c) for c in unit) for unit in PER if unit)
    return _number_or(rf"\s*{NUMBER}\s*(?:{units})?\s*")


def ratio() -> dict[str, Any]:
    """A share: 0.01 or "1%" (erpload.core.units.parse_ratio)."""
    return _number_or(rf"\s*{NUMBER}\s*%?\s*", 0, 1)


BY_PARSER = {  # SECTION_PARSERS' parsers -> their JSON Schema
    "parse_duration": duration,
    "parse_ratio": ratio,
    "_flag": lambda: {"type": "boolean"},
    "_whole": lambda: {"type": "integer", "minimum": 0},
}


def weights(known_roles: Iterable[str]) -> dict[str, Any]:
    """A role mix: known user classes -> weights 0..MAX_WEIGHT, at least one above 0."""
    return {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"enum": sorted(known_roles)},
        "additionalProperties": {"type": "number", "minimum": 0, "maximum": MAX_WEIGHT},
        "not": {"additionalProperties": {"const": 0}},
        "description": "user class: relative weight",
    }


def metric_pattern() -> str:
    """Every metric name of the registry, any pNN, in any case (the checks lower-case it)."""
    names = sorted({*METRICS, "median"}, key=lambda n: (-len(n), n))
    # target_rate(COUNTER), a counter of the target's /metrics: TARGET_RATE_RE without its quote
    # back-reference (group numbers shift inside this alternation); the validator checks the quotes
    target_rate = TARGET_RATE_RE.pattern.replace("([\"']?)", "[\"']?").replace("\\1", "[\"']?")
    return (
        "(?:"
        + "|".join([*(_anycase(n) for n in names), "[pP]" + PERCENTILE_RE.pattern[1:], target_rate])
        + ")"
    )


def short_rule() -> str:
    """The short form's shape: METRIC [of SCOPE] OP THRESHOLD (erpload.sla.grammar._SHORT)."""
    ops = "|".join(sorted(OPS, key=len, reverse=True))
    scope = r"""(?:\s+of\s+(?:"[^"]*"|'[^']*'|[^<>=!]+?))?"""
    return rf"\s*{metric_pattern()}{scope}\s*(?:{ops})\s*[^\s<>=!].*"


def rule() -> dict[str, Any]:
    """One SLA rule: a short-form string or a long-form mapping."""
    ops = "|".join(sorted(OPS, key=len, reverse=True))
    props: dict[str, Any] = {key: {} for key in LONG_KEYS}
    props.update(
        metric={"type": "string", "pattern": anchored(rf"\s*{metric_pattern()}\s*")},
        op={"type": "string", "pattern": anchored(rf"\s*(?:{ops})\s*")},
        threshold={"type": ["number", "string", "boolean"]},
        abort={"type": "boolean"},
        after=duration(),
        window={"type": "string", "pattern": anchored(r"\s*(?:all|steady|stage:\S.*)\s*")},
        name={"type": "string"},
        rule={"type": "string", "pattern": anchored(short_rule())},
        **{k: {"type": "string"} for k in SCOPE_KEYS},
    )
    props["for"] = duration()
    live = {"properties": {"abort": {"const": True}}, "required": ["abort"]}
    long_form = {
        "type": "object",
        "properties": props,
        "additionalProperties": False,
        "anyOf": [{"required": ["rule"]}, {"required": ["metric", "op", "threshold"]}],
        "not": {"anyOf": [{"required": list(pair)} for pair in itertools.combinations(SCOPE_KEYS, 2)]},
        "dependencies": {
            "rule": {
                "not": {"anyOf": [{"required": [k]} for k in ("metric", "op", "threshold", *SCOPE_KEYS)]}
            },
            "after": live,
            "for": live,
        },
    }
    return {"anyOf": [{"type": "string", "pattern": anchored(short_rule())}, long_form]}


def groups() -> dict[str, Any]:
    """`groups:` NAME -> ["METHOD PATH", ...] (erpload.sla.terms.parse_groups): placeholders as [id]."""
    methods = "|".join(_anycase(m) for m in HTTP_METHODS)
    request = {"type": "string", "pattern": anchored(rf"\s*(?:{methods})\s+/[^{{}}]*")}
    return {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"pattern": anchored(rf"\s*{GROUP_NAME_RE.pattern}\s*")},
        "additionalProperties": {"type": "array", "minItems": 1, "uniqueItems": True, "items": request},
        "description": 'request groups for SLA rules: rps of group "NAME" >= 100',
    }


def stage(known_roles: Iterable[str]) -> dict[str, Any]:
    """One stage (erpload.profile.stages)."""
    props = {
        "duration": DURATION.json(),
        "users": {"type": "integer", "minimum": 0, "maximum": MAX_USERS},
        "spawn_rate": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_USERS},
        "roles": weights(known_roles),
        "name": TEXT,
        "arrival_rate": rate(),
        "rates": {  # erpload.profile.rates: ROLE.TASK -> rate
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*[.][A-Za-z_][A-Za-z0-9_]*$"},
            "additionalProperties": rate(),
        },
    }
    assert set(props) == set(STAGE_KEYS), "a stage key without its JSON Schema"
    return {
        "type": "object",
        "properties": props,
        "additionalProperties": False,
        "required": ["duration", "users"],
    }


def fault() -> dict[str, Any]:
    """One scheduled fault (erpload.core.faultplan): action-specific parameters from ACTIONS."""
    props: dict[str, Any] = {
        "at": duration(),
        "action": {"enum": list(ACTIONS)},
        "duration": DURATION.json(),
        "ms": {"type": "number", "minimum": 0, "maximum": FAULT_MS_MAX},
        "rate": {"type": "number", "minimum": 0, "maximum": 1},
        "switches": {"type": "object", "minProperties": 1},
        "name": {},
    }
    assert set(props) == set(STEP_KEYS), "a fault key without its JSON Schema"
    params = ("ms", "rate", "switches")
    per_action = [
        {
            "if": {"properties": {"action": {"const": action}}, "required": ["action"]},
            "then": {
                "not": {"anyOf": [{"required": [p]} for p in params if p not in taken]},
                **(
                    {"required": [p for p, d in taken.items() if d is None]} if None in taken.values() else {}
                ),
            },
        }
        for action, taken in ACTIONS.items()
    ]
    return {
        "type": "object",
        "properties": props,
        "additionalProperties": False,
        "required": ["at", "action", "duration"],
        "allOf": per_action,
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [{"type": "null"}, schema]}


def profile_schema(known_roles: Iterable[str] | None = None) -> dict[str, Any]:
    """The JSON Schema of a load profile naming `known_roles` (default: the shipped role users)."""
    roles = sorted(known_roles) if known_roles is not None else sorted(USER_CLASSES)
    options = {k: BY_PARSER[SECTION_PARSERS[k][0].__name__]() for k in SECTION_PARSERS}
    section = {"type": "object", "additionalProperties": False}
    props: dict[str, Any] = {
        "name": TEXT,
        "description": TEXT,
        "host": _nullable({"type": "string", "pattern": "^" + HOST_PATTERN}),
        "roles": weights(roles),
        "stages": {"type": "array", "minItems": 1, "items": stage(roles)},
        "sla": _nullable({"type": "array", "items": rule()}),
        "groups": _nullable(groups()),
        "options": _nullable({**section, "properties": {k: options[k] for k in OPTIONS}}),
        "allow": _nullable({**section, "properties": {k: options[k] for k in ALLOW}}),
        "faults": _nullable({"type": "array", "items": fault()}),
        "hot_skus": _nullable({"type": "array", "minItems": 1, "uniqueItems": True, "items": TEXT}),
        "api": _nullable(
            {**TEXT, "description": "API map file, relative to this profile (docs/your-erp.md)"}
        ),
        "mode": {"enum": ["stages", "capacity"]},
        "capacity": _nullable(capacity()),
    }
    assert set(props) == set(TOP_KEYS), "a profile key without its JSON Schema"
    every_stage_has_roles = {"properties": {"stages": {"items": {"required": ["roles"]}}}}
    return {
        "$schema": DRAFT,
        "title": "erpload load profile",
        "description": "One file = one test: stages, role mix, SLA rules, faults (docs/profiles.md)",
        "type": "object",
        "properties": props,
        "additionalProperties": False,
        "required": [k for k in REQUIRED_KEYS if k != "stages"],
        "allOf": [
            {"if": {"not": {"required": ["roles"]}}, "then": every_stage_has_roles},
            {"if": {"not": SEARCHED}, "then": {"required": ["stages"]}},  # mode: capacity has no stages
        ],
    }


SEARCHED = {"properties": {"mode": {"const": "capacity"}}, "required": ["mode"]}


def capacity() -> dict[str, Any]:
    """The `capacity:` block of a `mode: capacity` profile (erpload.profile.capacity_spec)."""
    level = {"anyOf": [{"type": "integer", "minimum": 1}, rate()]}  # users, or a rate (open model)
    props: dict[str, Any] = {k: level for k in ("start", "step", "bisect", "max", "required")}
    props |= {k: duration() for k in ("hold", "settle", "confirm")}
    props |= {"model": {"enum": list(MODELS)}, "users": {"type": "integer", "minimum": 1}}
    props["spawn_rate"] = {"type": "number", "exclusiveMinimum": 0}
    assert set(props) == set(CAPACITY_KEYS), "a capacity key without its JSON Schema"
    return {
        "type": "object",
        "properties": props,
        "additionalProperties": False,
        "required": ["start", "max"],
    }
