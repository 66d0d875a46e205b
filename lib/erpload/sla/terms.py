"""The SLA grammar's terms (pure): metric, operator, scope, request groups, threshold, window, duration.

Each check adds its problem (where, what with the value got, how to fix) to a `Collector` and
returns the term, or None; `erpload.sla.grammar` puts the terms together into a `Rule`.
`parse_groups` reads a profile's `groups:` ({NAME: ["METHOD PATH", ...]}), the named request sets a
rule scopes with `of group "NAME"` (k6's thresholds on tagged sub-metrics, as a union of requests).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from erpload.core.errors import Problem
from erpload.core.units import QuantityError, did_you_mean, parse_duration, parse_quantity, preview
from erpload.sla.metrics import PERCENTILE_RE, known_metrics, metric_spec

OPS = ("<", "<=", ">", ">=", "==", "!=")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
WINDOWS = ("all", "steady", "stage:NAME")
# a group name: no quotes (it is quoted in a rule) and no <>=! (the short form's operator), 1-100 chars
GROUP_NAME_RE = re.compile(r"""[^\s"'<>=!](?:[^"'<>=!]{0,98}[^\s"'<>=!])?""")
GROUP_EXAMPLE = (
    "e.g. groups: {work-order updates: ['POST /production/cutting', "
    "'POST /production/work-orders/[id]/claim']}"
)


class Collector:
    """Collects problems under one rule's `where` (a field of it: `where.field`)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[Problem] = []

    def add(self, message: str, fix: str = "", field: str = "") -> None:
        self.problems.append(Problem(f"{self.where}.{field}" if field else self.where, message, fix.strip()))


def check_metric(metric: str, c: Collector, field: str) -> str | None:
    """A known metric name (lower-cased), or None with the problem added."""
    name = metric.strip().lower()
    if metric_spec(name):
        return name
    p = PERCENTILE_RE.fullmatch(name)
    if p:
        c.add(
            f"percentile must be between 0 and 100 exclusive (got {preview(metric)})",
            "Use e.g. p50, p95, p99, p99.9; for the slowest response use max",
            field,
        )
    else:
        known = known_metrics()
        c.add(
            f"unknown metric {preview(metric)}",
            f"{did_you_mean(name, known, cutoff=0.5)}Known: {', '.join(known)}, or any pNN",
            field,
        )
    return None


def check_op(op: str, c: Collector, field: str) -> str | None:
    """One of OPS, or None with a did-you-mean (`=>` -> `>=`)."""
    op = op.strip()
    if op in OPS:
        return op
    swapped = "==" if op == "=" else op[::-1] if op[::-1] in OPS else ""
    hint = f"Did you mean '{swapped}'? " if swapped else did_you_mean(op, list(OPS))
    c.add(f"unknown operator {preview(op)}", f"{hint}Known: {' '.join(OPS)}", field)
    return None


def parse_scope(text: str, c: Collector, field: str) -> tuple[str | None, str]:
    """ "GET /x" / role NAME / all -> (scope, value); (None, "") with the problem added."""
    text = text.strip()
    if text[:1] in "\"'" and len(text) >= 2 and text[-1] == text[0]:
        label = " ".join(text[1:-1].split())
        if not label:
            c.add("empty request name", 'Write e.g. "GET /ppic/manufacturing-orders"', field)
            return None, ""
        method, _, rest = label.partition(" ")
        return "request", f"{method.upper()} {rest}" if rest and method.upper() in HTTP_METHODS else label
    g = re.fullmatch(r"group[\s:]+(.*)", text, re.S)
    if g:
        name = g.group(1).strip()
        if len(name) >= 2 and name[0] in "\"'" and name[-1] == name[0]:
            name = name[1:-1]
        name = " ".join(name.split())
        if not GROUP_NAME_RE.fullmatch(name):
            c.add(
                f"bad group name {preview(name)}",
                'Name a group of this profile\'s groups:, e.g. group "writes"',
                field,
            )
            return None, ""
        return "group", name
    m = re.fullmatch(r"role[\s:]+(\S+)", text)
    if m:
        if not m.group(1).isidentifier():
            c.add(
                f"role must be a user class name (got {preview(m.group(1))})",
                "e.g. role CuttingOperator",
                field,
            )
            return None, ""
        return "role", m.group(1)
    if text.lower() == "all":
        return "all", ""
    first = text.split()[0] if text.split() else ""
    if first.upper() in HTTP_METHODS or text.startswith("/"):
        return parse_scope(f'"{text}"', c, field)
    c.add(
        f"unknown scope {preview(text)}",
        f'For a user class write: role {preview(text)[1:-1]}; for a request quote it: "GET /path"; '
        'for a request group: group "NAME"',
        field,
    )
    return None, ""


def group_members(
    name: str, groups: Mapping[str, tuple[str, ...]] | None, c: Collector, field: str
) -> tuple[str, ...] | None:
    """The requests of group `name` (a key of the profile's `groups:`), or None with the problem added."""
    known = sorted(groups or {})
    if name not in known:
        fix = (
            f"{did_you_mean(name, known)}Known groups: {', '.join(known)}"
            if known
            else (f"This profile has no groups: define it, {GROUP_EXAMPLE}")
        )
        c.add(f"unknown group {preview(name)}", fix, field)
        return None
    members = (groups or {})[name]
    if not members:
        c.add(
            f"group {preview(name)} has no valid requests",
            f"Fix groups.{name} (its problems are listed)",
            field,
        )
        return None
    return tuple(members)


def request_label(text: str) -> str | None:
    """'post  /x/[id]' -> 'POST /x/[id]' (a stats name "METHOD PATH"); None when it is not one."""
    method, _, rest = " ".join(text.split()).partition(" ")
    return f"{method.upper()} {rest}" if method.upper() in HTTP_METHODS and rest.startswith("/") else None


def parse_groups(raw: Any, where: str = "groups") -> tuple[dict[str, tuple[str, ...]], list[Problem]]:
    """`groups:` -> {name: ("METHOD PATH", ...)}; a group with problems maps to (); ALL problems."""
    c = Collector(where)
    if raw is None:
        return {}, []
    if not isinstance(raw, Mapping) or not raw:
        c.add(f"must map group names to lists of requests (got {preview(raw)})", GROUP_EXAMPLE)
        return {}, c.problems
    out: dict[str, tuple[str, ...]] = {}
    for key, members in raw.items():
        name = " ".join(key.split()) if isinstance(key, str) else ""
        field = name or preview(key)
        if not GROUP_NAME_RE.fullmatch(name):
            c.add(f"bad group name {preview(key)}", "1-100 characters, no quotes and none of < > = !", field)
            continue
        if name in out:
            c.add(f"group {preview(name)} is defined twice", "Give each group one entry", field)
            continue
        out[name] = _members(members, c, field)
    return out, c.problems


def _members(raw: Any, c: Collector, field: str) -> tuple[str, ...]:
    """A group's requests as stats labels ("METHOD PATH", method upper-cased); () when any is wrong."""
    if not isinstance(raw, list) or not raw:
        c.add(f'must list at least one request "METHOD PATH" (got {preview(raw)})', GROUP_EXAMPLE, field)
        return ()
    labels: list[str] = []
    for i, item in enumerate(raw):
        label = request_label(item) if isinstance(item, str) else None
        if label is None:
            c.add(
                f'not a request "METHOD PATH" (got {preview(item)})',
                f'Write e.g. "POST /production/cutting"; METHOD one of {", ".join(HTTP_METHODS)}',
                f"{field}[{i}]",
            )
        elif "{" in label or "}" in label:
            fixed = label.replace("{", "[").replace("}", "]")
            c.add(
                f"path placeholders are written [name] in stats names (got {preview(item)})",
                f"Write {preview(fixed)}",
                f"{field}[{i}]",
            )
        elif label in labels:
            c.add(f"lists {preview(label)} twice", "List each request once", f"{field}[{i}]")
        else:
            labels.append(label)
    return tuple(labels) if len(labels) == len(raw) else ()


def check_scope_allowed(metric: str | None, scope: str | None, c: Collector, field: str) -> None:
    """A whole-run metric (target_cpu_max, ...) takes no scope."""
    spec = metric_spec(metric) if metric else None
    if spec and spec.source == "extra" and scope not in ("all", None):
        c.add(f"{metric} is measured for the whole run and takes no scope", "Remove the 'of ...' part", field)


def check_bool_op(metric: str | None, op: str | None, c: Collector, field: str) -> None:
    """A true/false metric compares with == or != only."""
    spec = metric_spec(metric) if metric else None
    if spec and spec.kind == "bool" and op not in ("==", "!=", None):
        c.add(f"{metric} is true or false and cannot use {op!r}", f"Write {metric} == false", field)


def parse_threshold(raw: Any, metric: str | None, c: Collector, field: str) -> float | bool | None:
    """The threshold in the metric kind's canonical unit, or None with the problem added."""
    spec = metric_spec(metric) if metric else None
    if spec is None:
        return None
    try:
        return parse_quantity(raw, spec.kind)
    except QuantityError as e:
        c.add(f"threshold of {metric}: {e.message}", e.fix, field)
        return None


def timespan(item: Mapping[str, Any], key: str, c: Collector) -> float:
    """`after:` / `for:` in seconds (Locust -t syntax); 0.0 when absent or invalid."""
    try:
        return parse_duration(item[key]) if key in item else 0.0
    except QuantityError as e:
        c.add(e.message, e.fix, key)
        return 0.0


def check_window(window: Any, c: Collector) -> str:
    """all, steady or stage:NAME; "all" with the problem added otherwise."""
    text = str(window).strip() if isinstance(window, str) else window
    if text in ("all", "steady") or (isinstance(text, str) and re.fullmatch(r"stage:\S.*", text)):
        return str(text)
    c.add(
        f"unknown window {preview(window)}",
        f"{did_you_mean(window, ['all', 'steady'])}Known: {', '.join(WINDOWS)}",
        "window",
    )
    return "all"
