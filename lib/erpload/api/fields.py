"""What a value in an API map may be (pure): each node checks a value AND is its own JSON Schema.

`Kind` is a leaf (a path, a dotted field, one of an enum, a duration...), `MapOf` a free mapping
(`roles:`, `request:`), `Section` a mapping with known keys. `check(c, value, where)` adds every
problem to a collector `c` (where, what with the value, how to fix); `json()` is the same rule as
JSON Schema (draft-07). The validator (erpload.api.schema) and the shipped JSON Schema
(erpload.api.json_schema) both walk these nodes, so they cannot drift apart.

Patterns are written once, without anchors: Python checks them with `re.fullmatch`, JSON Schema
gets `^(?:...)$`; they use only syntax Python and ECMAScript (editors) read alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from erpload.core.units import (
    MAX_DURATION_S,
    QuantityError,
    did_you_mean,
    parse_duration,
    preview,
    preview_keys,
)

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
SEGMENT = r"[^\s/{}?#]+"  # one path segment: no blank, slash, brace, query or fragment
PLAIN_PATH = r"/(?:[^\s{}?#])*"  # a path without placeholders
PLACEHOLDER = r"\{[A-Za-z_][A-Za-z0-9_]*\}"
TEMPLATE = rf"/(?:[^\s{{}}?#]|{PLACEHOLDER})*"  # a path template: placeholders as {name}
BASE_PATH = rf"(?:/{SEGMENT})*"  # "" or /api/v1: starts with "/", no trailing "/"
DOTTED = r"[^.\s]+(?:\.[^.\s]+)*"  # meta.total: field names joined by dots
FIELD_NAME = r"[^.\s]+"  # one top-level field or query parameter
FORM_FIELD = r"\S+"  # a login field as sent (form fields may contain dots or brackets)
HEADER = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # an HTTP header name (RFC 9110 token)
IDENTIFIER = r"[a-z][a-z0-9_]*"  # an operation name: claim_work_order
# A duration string as erpload.core.units.parse_duration reads it (a bare number is seconds), and one
# above 0 (a digit 1-9 somewhere); also used by the profile's JSON Schema (erpload.profile.json_schema).
DURATION_TEXT = r"\s*(?=[0-9])(?:[0-9]+|(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?)\s*"
POSITIVE_DURATION = r"\s*(?=[^1-9]*[1-9])(?:[0-9]+|(?:[0-9]+h)?(?:[0-9]+m)?(?:[0-9]+s)?)\s*"


class Collector(Protocol):
    """Where problems go: erpload.api.schema.MapChecker."""

    def add(self, where: str, message: str, fix: str = "") -> None: ...


def anchored(pattern: str) -> str:
    """A pattern for JSON Schema (which searches): anchored at both ends."""
    return f"^(?:{pattern})$"


def key_path(where: str, key: Any) -> str:
    """`where.key`, the key cut to 60 characters (a mapping key may be anything YAML allows)."""
    text = key if isinstance(key, str) else preview(key)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{where}.{text}" if where else text


@dataclass(frozen=True)
class Kind:
    """A leaf value: `test` decides, `what` completes "must be ...", `schema` is the JSON Schema."""

    what: str
    schema: Mapping[str, Any]
    test: Callable[[Any], bool]
    fix: str = ""
    choices: tuple[str, ...] = ()  # an enum's values, for did-you-mean
    help: str = ""

    def check(self, c: Collector, value: Any, where: str) -> bool:
        if self.test(value):
            return True
        fix = self.fix
        if self.choices:
            fix = f"{did_you_mean(value, self.choices)}Known: {', '.join(self.choices)}"
        c.add(where, f"must be {self.what} (got {preview(value)})", fix)
        return False

    def json(self) -> dict[str, Any]:
        out = dict(self.schema)
        if self.help:
            out["description"] = self.help
        return out

    def described(self, help: str) -> Kind:
        """The same kind with a description (shown by editors on hover)."""
        return Kind(self.what, self.schema, self.test, self.fix, self.choices, help)

    def or_null(self, meaning: str) -> Kind:
        """The same kind, or null (meaning: what null stands for)."""
        return Kind(
            f"{self.what}, or null ({meaning})",
            {"anyOf": [{"type": "null"}, dict(self.schema)]},
            lambda v: v is None or self.test(v),
            self.fix,
            self.choices,
            self.help,
        )


def text_kind(what: str, pattern: str, fix: str) -> Kind:
    """A string matching `pattern` (whole)."""
    compiled = re.compile(pattern)
    return Kind(
        what,
        {"type": "string", "pattern": anchored(pattern)},
        lambda v: isinstance(v, str) and compiled.fullmatch(v) is not None,
        fix,
    )


def enum_kind(values: tuple[str, ...], what: str = "") -> Kind:
    """One of `values`, exactly (did-you-mean on anything else)."""
    return Kind(
        what or "one of " + ", ".join(values),
        {"type": "string", "enum": list(values)},
        lambda v: isinstance(v, str) and v in values,
        choices=values,
    )


def _positive_duration(value: Any) -> bool:
    if isinstance(value, str) and not re.fullmatch(POSITIVE_DURATION, value):
        return False  # a pattern the JSON Schema states too ("1.5s" is no duration either)
    try:
        return parse_duration(value) > 0
    except QuantityError:
        return False


TEXT = Kind(
    "a non-empty string",
    {"type": "string", "pattern": r"\S"},
    lambda v: isinstance(v, str) and bool(v.strip()),
)
STRING = Kind("a string", {"type": "string"}, lambda v: isinstance(v, str), 'Quote it: "..."')
BOOLEAN = Kind("true or false", {"type": "boolean"}, lambda v: isinstance(v, bool))
METHOD = enum_kind(HTTP_METHODS, "an HTTP method in capitals")
DURATION = Kind(
    "a duration above 0 (90, 30s, 15m, 1h)",
    {
        "anyOf": [
            {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_DURATION_S},
            {"type": "string", "pattern": anchored(POSITIVE_DURATION)},
        ]
    },
    _positive_duration,
    "A bare number is seconds; or s, m, h: 900s, 15m",
)
PATH = text_kind(
    "a path starting with '/' (no placeholders, query or blanks)", PLAIN_PATH, "e.g. /auth/token"
)
BASE = text_kind(
    "\"\" or a path starting with '/' without a trailing '/' (no placeholders, query or blanks)",
    BASE_PATH,
    'e.g. base_path: /api/v1 (or "" when the API sits at the root)',
)
DOTTED_PATH = text_kind(
    "a field name, or a dotted path into the answer (meta.total)", DOTTED, "e.g. data or meta.total"
)
NAME = text_kind(
    "a field name without dots or blanks",
    FIELD_NAME,
    "request renames top-level body fields and query parameters only",
)
HEADER_NAME = text_kind("an HTTP header name", HEADER, "e.g. Authorization or X-Api-Token")


@dataclass(frozen=True)
class MapOf:
    """A mapping whose keys and values are each of one kind (e.g. `request: {ours: theirs}`)."""

    key: Kind
    value: Kind
    what: str
    example: str
    help: str = ""

    def check(self, c: Collector, value: Any, where: str) -> bool:
        if not isinstance(value, dict):
            c.add(where, f"must be a mapping of {self.what} (got {preview(value)})", self.example)
            return False
        ok = True
        for k, v in value.items():
            if not self.key.test(k):
                c.add(key_path(where, k), f"key must be {self.key.what} (got {preview(k)})", self.example)
                ok = False
            else:
                ok = self.value.check(c, v, key_path(where, k)) and ok
        return ok

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "object",
            "propertyNames": dict(self.key.schema),
            "additionalProperties": dict(self.value.schema),
        }
        if self.help:
            out["description"] = self.help
        return out


@dataclass(frozen=True)
class Section:
    """A mapping with known keys (each a node), some required; unknown keys get a did-you-mean."""

    fields: Mapping[str, Node]
    required: tuple[str, ...] = ()
    example: str = ""
    help: str = ""
    extra_json: Mapping[str, Any] = field(default_factory=dict)  # cross-key rules (if/then)
    unknown_hint: str = ""  # added to the fix of an unknown key
    required_fix: Mapping[str, str] = field(default_factory=dict)  # key -> fix when it is missing

    def check(self, c: Collector, value: Any, where: str) -> bool:
        known = list(self.fields)
        if not isinstance(value, dict):
            c.add(
                where,
                f"must be a mapping (got {preview(value)})",
                self.example or f"Keys: {', '.join(known)}",
            )
            return False
        ok = True
        for key in value:
            if key not in self.fields:
                c.add(
                    key_path(where, key),
                    f"unknown key {preview(key)}",
                    f"{did_you_mean(key, known)}{self.unknown_hint}Known keys: {', '.join(known)}",
                )
                ok = False
        for key in self.required:
            if key not in value:
                fix = self.required_fix.get(key, self.example)
                c.add(key_path(where, key), f"required (got keys: {preview_keys(value)})", fix)
                ok = False
        for key, node in self.fields.items():
            if key in value:
                ok = node.check(c, value[key], key_path(where, key)) and ok
        return ok

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "object",
            "properties": {k: n.json() for k, n in self.fields.items()},
            "additionalProperties": False,
        }
        if self.required:
            out["required"] = list(self.required)
        if self.help:
            out["description"] = self.help
        return {**out, **self.extra_json}


Node = Kind | MapOf | Section
