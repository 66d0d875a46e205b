"""The `operations:` and `custom_operations:` tables of an API map (pure): checks and JSON Schema.

An operation is "METHOD /path" or {method, path, name, request, response, token_param}. In a team's
map, `operations:` names only reference operations, and a path keeps exactly the reference's
placeholders ({id}, {sku}) because the role users fill them; `custom_operations:` holds the team's
own (full method and path, `list: true` for a list envelope). Part of erpload.api.schema.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

from erpload.api.fields import (
    BOOLEAN,
    DOTTED_PATH,
    IDENTIFIER,
    METHOD,
    NAME,
    PLAIN_PATH,
    TEMPLATE,
    TEXT,
    Collector,
    Kind,
    MapOf,
    Section,
    anchored,
    enum_kind,
    key_path,
    text_kind,
)
from erpload.api.model import WEBSOCKET_OPERATIONS, ApiMap, Operation, placeholders
from erpload.core.units import did_you_mean, preview

_NO_BRACE = r"[^\s{}?#]*"


def path_pattern(expected: tuple[str, ...] | None) -> tuple[str, str]:
    """(what, pattern) of a path template; with `expected`, holding exactly those placeholders."""
    if expected is None:
        return "a path template starting with '/' ({name} placeholders)", TEMPLATE
    if not expected:
        return "a path starting with '/' without placeholders (like the reference operation)", PLAIN_PATH
    holes = " ".join("{" + p + "}" for p in expected)
    orders = itertools.permutations(re.escape("{" + p + "}") for p in expected)
    pattern = "(?=/)(?:" + "|".join(_NO_BRACE + _NO_BRACE.join(o) + _NO_BRACE for o in orders) + ")"
    return (
        f"a path starting with '/' with exactly the placeholder(s) {holes} of the reference operation",
        pattern,
    )


def path_kind(expected: tuple[str, ...] | None, example: str) -> Kind:
    """A path template as a Kind (see path_pattern)."""
    what, pattern = path_pattern(expected)
    fix = (
        f"The role users fill the reference's placeholders; e.g. {example}" if expected else f"e.g. {example}"
    )
    return text_kind(what, pattern, fix)


@dataclass(frozen=True)
class OperationNode:
    """One operation: "METHOD /path", or {method, path, name, request, response, token_param[, list]}."""

    name: str
    reference: Operation | None  # a team map's reference operation (None: the reference map, custom ops)
    full: bool  # method and path required
    custom: bool = False

    @property
    def websocket(self) -> bool:
        return self.name in WEBSOCKET_OPERATIONS

    def method(self) -> Kind:
        if self.websocket:
            return enum_kind(("GET",), "GET (a WebSocket opens with a GET)")
        return METHOD

    def expected(self) -> tuple[str, ...] | None:
        return placeholders(self.reference.path) if self.reference else None

    def path(self) -> Kind:
        return path_kind(self.expected(), self.path_example())

    def section(self) -> Section:
        fields: dict[str, Any] = {
            "method": self.method(),
            "path": self.path(),
            "name": TEXT.described(
                "stats name; leave unset: the reference template keeps SLA rules portable"
            ),
            "request": MapOf(NAME, NAME, "our field: theirs", "e.g. request: {work_order_id: job_id}"),
            "response": MapOf(
                DOTTED_PATH, DOTTED_PATH, "our field: theirs", "e.g. response: {quantity: on_hand}"
            ),
        }
        if self.websocket or self.custom:
            fields["token_param"] = NAME.described("WebSocket: the query parameter carrying the token")
        if self.custom:
            fields["list"] = BOOLEAN.described("true: the answer is a list envelope (lists:)")
        example = f"e.g. {self.name}: {{method: GET, path: {self.path_example()}}}"
        return Section(fields, ("method", "path") if self.full else (), example)

    def path_example(self) -> str:
        return self.reference.path if self.reference else "/production/jobs/{id}"

    def check(self, c: Collector, value: Any, where: str) -> bool:
        if isinstance(value, str):
            return self._check_short(c, value, where)
        if isinstance(value, dict):
            return self.section().check(c, value, where)
        c.add(
            where,
            f"must be 'METHOD /path' or a mapping {{method, path, ...}} (got {preview(value)})",
            f"e.g. {self.name}: GET {self.path_example()}",
        )
        return False

    def _check_short(self, c: Collector, value: str, where: str) -> bool:
        m = re.fullmatch(r"(\S+) +(\S+)", value)
        if not m:
            c.add(where, f"must be 'METHOD /path' (got {preview(value)})", f"e.g. GET {self.path_example()}")
            return False
        method, path = self.method(), self.path()
        ok = True
        if not method.test(m[1]):
            hint = did_you_mean(m[1], method.choices)
            c.add(
                where,
                f"method {preview(m[1])} must be {method.what}",
                f"{hint}Known: {', '.join(method.choices)}",
            )
            ok = False
        if not path.test(m[2]):
            c.add(where, f"path {preview(m[2])} must be {path.what}", path.fix)
            ok = False
        return ok

    def json(self) -> dict[str, Any]:
        methods = "|".join(self.method().choices)
        short = anchored(f"(?:{methods}) +(?:{path_pattern(self.expected())[1]})")
        out: dict[str, Any] = {"anyOf": [{"type": "string", "pattern": short}, self.section().json()]}
        if self.reference is not None:
            out["description"] = f"reference: {self.reference.method} {self.reference.path}"
        return out


@dataclass(frozen=True)
class OperationsNode:
    """`operations:` (reference given: its names only) or `custom_operations:` (new names only)."""

    reference: ApiMap | None
    custom: bool

    def node(self, name: str) -> OperationNode:
        ref = self.reference.operations.get(name) if self.reference and not self.custom else None
        return OperationNode(name, ref, full=self.reference is None or self.custom, custom=self.custom)

    def check(self, c: Collector, value: Any, where: str) -> bool:
        if not isinstance(value, dict):
            c.add(
                where, f"must be a mapping of operation names (got {preview(value)})", f"e.g. {where}: {{}}"
            )
            return False
        known = sorted(self.reference.operations) if self.reference else []
        ok = True
        for name, spec in value.items():
            at = key_path(where, name)
            if self.custom and name in known:
                c.add(at, f"{name!r} is a reference operation", "Map it under operations: instead")
            elif self.reference is not None and not self.custom and name not in known:
                c.add(
                    at,
                    f"unknown operation {preview(name)}",
                    f"{did_you_mean(name, known)}A team's own operations go under custom_operations: "
                    f"with method and path. Known: {', '.join(known)}",
                )
            elif not isinstance(name, str) or not re.fullmatch(IDENTIFIER, name):
                c.add(at, f"an operation name is lower_snake_case (got {preview(name)})", "e.g. list_styles")
            else:
                ok = self.node(name).check(c, spec, at) and ok
                continue
            ok = False
        return ok

    def json(self) -> dict[str, Any]:
        if self.custom:
            names = sorted(self.reference.operations) if self.reference else []
            return {
                "type": "object",
                "description": "a team's own operations (for its own locustfile): full method and path",
                "propertyNames": {"pattern": anchored(IDENTIFIER), "not": {"enum": names}},
                "additionalProperties": self.node("custom").json(),
            }
        assert self.reference is not None, "the JSON Schema describes team maps"
        return {
            "type": "object",
            "description": "reference operations this ERP calls differently; the others keep the reference",
            "properties": {n: self.node(n).json() for n in sorted(self.reference.operations)},
            "additionalProperties": False,
        }
