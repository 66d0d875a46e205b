"""SLA rule grammar (pure): short and long form -> one frozen `Rule`; every problem collected.

Short form:  METRIC [of SCOPE] OP THRESHOLD
    p95 of "GET /ppic/manufacturing-orders" < 300ms     error_rate < 0.1%     avg < 200ms
    rps of "POST /ppic/manufacturing-orders" > 50        p99 of role CuttingOperator < 1s
    target_cpu_max < 80%                                 target_leak == false
    rps of group "work-order updates" >= 100             (a group: the profile's `groups:`)
Long form: {metric, op, threshold, request?|role?|group?|scope?, abort?, after?, for?, window?, name?}
or {rule: "<short form>", abort?, after?, ...}.

Thresholds are stored in canonical units: ms for latencies, a fraction for rates and
percentages (0.1% -> 0.001, 80% -> 0.8), per second for rps, seconds for durations, raw for
counts, bool for flags (see `erpload.core.units`). `parse_rules(raw, where, groups)` is what the
profile loader calls, with the groups that `erpload.sla.terms.parse_groups` read from `groups:`; a
rule on a group carries the group's requests (`Rule.members`), so evaluation needs nothing else.
The metric names live in `erpload.sla.metrics`, the terms' checks in `erpload.sla.terms`,
evaluation in `erpload.sla.evaluation`.

The grammar, in the style of k6's metrics/thresholds_parser.go (whitespace between tokens is free)::

    rule       -> short | long
    short      -> metric [ "of" scope ] op threshold
    long       -> "{" "metric" ":" metric "," "op" ":" op "," "threshold" ":" threshold
                      [ "," ( "request" ":" request | "role" ":" NAME | "group" ":" GROUP
                            | "scope" ":" scope ) ]
                      [ "," "abort" ":" BOOL ] [ "," "after" ":" duration ] [ "," "for" ":" duration ]
                      [ "," "window" ":" window ] [ "," "name" ":" TEXT ] "}"
                | "{" "rule" ":" short [ "," option ]* "}"
    metric     -> latency [ "_intended" ] | "error_rate" | "rps" | "count"
                | "failures" | registered                       (erpload.sla.metrics.known_metrics)
                | "target_rate(" COUNTER ")"                    (a counter of the target's /metrics, per
                                                                 second; --target-metrics; any window)
    latency    -> "avg" | "min" | "max" | "median" | "p" NUMBER
                  ("_intended": the same requests timed from their iteration's intended start, not
                   from the send; open model only; window "all" only; e.g. p99_intended of "GET /x")
    scope      -> request | "role" NAME | "group" QUOTE GROUP QUOTE
    request    -> QUOTE METHOD " " PATH QUOTE                   (METHOD one of HTTP_METHODS)
    GROUP      -> a key of the profile's groups (quotes optional); every request metric
                  (latency incl. _intended, error_rate, rps, count, failures) in every window reads
                  its members' requests as one: counts summed, latency histograms merged. A member
                  never requested in the run fails the rule (no samples, did-you-mean); an unknown
                  group, or one without valid requests, is a profile error (exit 2)
    groups     -> "groups" ":" "{" entry ( "," entry )* "}"     (the profile's top level)
    entry      -> GROUP ":" "[" request ( "," request )* "]"     (each request once, written as its
                                                                 stats name: placeholders [id])
    op         -> "<" | "<=" | ">" | ">=" | "==" | "!="
    threshold  -> NUMBER [ unit ] | "true" | "false"            (unit by the metric's kind:
                                                                 ms|s|m for latency, % for rate, /s for rps)
    window     -> "all" | "steady" | "stage:" NAME
    duration   -> Locust's -t syntax: 30s, 1m30s, 2h
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from erpload.core.errors import Problem
from erpload.core.units import did_you_mean, preview, preview_keys
from erpload.sla.metrics import METRICS, metric_spec, target_counter
from erpload.sla.terms import (
    HTTP_METHODS,
    OPS,
    WINDOWS,
    Collector,
    check_bool_op,
    check_metric,
    check_op,
    check_scope_allowed,
    check_window,
    group_members,
    parse_scope,
    parse_threshold,
    timespan,
)

LONG_KEYS = tuple("metric op threshold scope request role group abort after for window name rule".split())
SCOPE_KEYS = ("scope", "request", "role", "group")  # a long-form rule gives at most one
Groups = Mapping[str, tuple[str, ...]]  # the profile's groups: name -> ("METHOD PATH", ...)


@dataclass(frozen=True)
class Rule:
    """One SLA rule, stating the pass condition, with its threshold in canonical units."""

    metric: str
    op: str
    threshold: float | bool
    scope: str = "all"  # "all" | "request" | "role" | "group"
    scope_value: str = ""  # "GET /x" for a request, the user class name for a role, a group's name
    abort: bool = False  # checked live; stops the run with the SLA exit code
    after_s: float = 0.0  # live: ignored until this long after the start
    for_s: float = 0.0  # live: must fail continuously this long before it trips
    window: str = "all"  # "all" | "steady" | "stage:NAME"
    name: str = ""  # optional label (JUnit testcase name)
    text: str = ""  # the rule as written (short form) or rendered (long form)
    members: tuple[str, ...] = ()  # a group's requests ("METHOD PATH"), from the profile's groups:

    @property
    def kind(self) -> str:
        """Metric kind: latency, rate, rps, count, bool or duration."""
        spec = metric_spec(self.metric)
        return spec.kind if spec else "count"

    @property
    def scope_text(self) -> str:
        """'all', '"GET /x"', 'role CuttingOperator' or 'group "writes"'."""
        if self.scope == "request":
            return f'"{self.scope_value}"'
        if self.scope == "group":
            return f'group "{self.scope_value}"'
        return f"role {self.scope_value}" if self.scope == "role" else "all"

    @property
    def title(self) -> str:
        """The name if given, else the text."""
        return self.name or self.text


_SHORT = re.compile(
    r"""\s*(?P<metric>[^\s<>=!]+)
        (?:\s+of\s+(?P<scope>"[^"]*"|'[^']*'|[^<>=!]+?))?
        \s*(?P<op>[<>=!]+)\s*(?P<threshold>.*?)\s*""",
    re.X,
)


def parse_rules(
    raw: Any, where: str = "sla", groups: Groups | None = None
) -> tuple[list[Rule], list[Problem]]:
    """Parse every rule of a profile's `sla:` list (`groups`: its `groups:`); the good rules and ALL problems."""
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        fix = 'Write a list, e.g. sla: ["p95 < 300ms", "error_rate < 0.1%"]'
        return [], [
            Problem(where, f"must be a list of rules (got {type(raw).__name__}: {preview(raw)})", fix)
        ]
    rules: list[Rule] = []
    problems: list[Problem] = []
    for i, item in enumerate(raw):
        rule, probs = parse_rule(item, f"{where}[{i}]", groups)
        problems += probs
        if rule is not None:
            rules.append(rule)
    return rules, problems


def parse_rule(
    item: Any, where: str = "sla[0]", groups: Groups | None = None
) -> tuple[Rule | None, list[Problem]]:
    """Parse one rule (short-form string or long-form mapping); a group scope must name one of `groups`."""
    c = Collector(where)
    if isinstance(item, str):
        rule = _parse_short(item, c, "", groups)
    elif isinstance(item, Mapping):
        rule = _parse_long(item, c, groups)
    else:
        c.add(
            f"a rule is a string or a mapping (got {type(item).__name__}: {preview(item)})",
            'e.g. "p95 < 300ms"',
        )
        rule = None
    return (rule if not c.problems else None), c.problems


def _parse_short(text: str, c: Collector, field: str = "", groups: Groups | None = None) -> Rule | None:
    m = _SHORT.fullmatch(text)
    if not m:
        c.add(
            f"cannot read rule {preview(text)}",
            'Write METRIC [of SCOPE] OP THRESHOLD, e.g. p95 of "GET /x" < 300ms',
            field,
        )
        return None
    metric = check_metric(m["metric"], c, field)
    op = check_op(m["op"], c, field)
    scope, value = parse_scope(m["scope"], c, field) if m["scope"] else ("all", "")
    threshold = parse_threshold(m["threshold"], metric, c, field) if metric else None
    check_scope_allowed(metric, scope, c, field)
    check_bool_op(metric, op, c, field)
    members = group_members(value, groups, c, field) if scope == "group" else ()
    if metric is None or op is None or threshold is None or scope is None or members is None:
        return None
    return Rule(metric, op, threshold, scope, value, text=" ".join(text.split()), members=members)


def _parse_long(item: Mapping[str, Any], c: Collector, groups: Groups | None) -> Rule | None:
    for key in item:
        if key not in LONG_KEYS:
            c.add(
                f"unknown key {preview(key)}",
                f"{did_you_mean(key, LONG_KEYS)}Known: {', '.join(LONG_KEYS)}",
            )
    if "rule" in item:
        if not isinstance(item["rule"], str):
            c.add(
                f"must be a short-form string (got {preview(item['rule'])})", 'e.g. rule: "p99 < 2s"', "rule"
            )
            return None
        clash = [k for k in ("metric", "op", "threshold", *SCOPE_KEYS) if k in item]
        if clash:
            c.add(
                f"'rule' already says the metric, op, threshold and scope (also got: {', '.join(clash)})",
                "Use either 'rule' or metric/op/threshold",
            )
        base = _parse_short(item["rule"], c, "rule", groups)
    else:
        base = _parse_long_fields(item, c, groups)
    abort = item.get("abort", False)
    if not isinstance(abort, bool):
        c.add(f"must be true or false (got {preview(abort)})", "", "abort")
    after_s = timespan(item, "after", c)
    for_s = timespan(item, "for", c)
    for key in ("after", "for"):
        if key in item and abort is False:
            c.add(
                f"'{key}' only applies to live rules (abort is {preview(abort)})",
                "Add abort: true, or remove it",
                key,
            )
    window = check_window(item.get("window", "all"), c)
    name = item.get("name", "")
    if not isinstance(name, str):
        c.add(f"must be a string (got {preview(name)})", "", "name")
    if base is None or c.problems:
        return None
    windowed = (metric_spec(base.metric) or METRICS["avg"]).source == "request" or target_counter(base.metric)
    if window != "all" and not windowed:
        c.add(
            f"window {window!r} only applies to request metrics, not {base.metric}", "Remove window", "window"
        )
        return None
    return replace(base, abort=bool(abort), after_s=after_s, for_s=for_s, window=window, name=name)


def _parse_long_fields(item: Mapping[str, Any], c: Collector, groups: Groups | None) -> Rule | None:
    missing = [k for k in ("metric", "op", "threshold") if k not in item]
    for key in missing:
        c.add(f"required (got keys: {preview_keys(item)})", "", key)
    metric = check_metric(str(item["metric"]), c, "metric") if "metric" in item else None
    op = check_op(str(item["op"]), c, "op") if "op" in item else None
    threshold = (
        parse_threshold(item["threshold"], metric, c, "threshold") if metric and "threshold" in item else None
    )
    given = [k for k in SCOPE_KEYS if k in item]
    scope: str | None = "all"
    value = ""
    if len(given) > 1:
        c.add(f"give one of {', '.join(SCOPE_KEYS)} (got {', '.join(given)})", "", given[1])
    elif given == ["request"]:
        scope, value = parse_scope(_quote(item["request"]), c, "request")
    elif given == ["role"]:
        scope, value = parse_scope(f"role {item['role']}", c, "role")
    elif given == ["group"]:
        scope, value = parse_scope(f"group {_quote(item['group'])}", c, "group")
    elif given == ["scope"]:
        scope, value = parse_scope(str(item["scope"]), c, "scope")
    check_scope_allowed(metric, scope, c, given[0] if given else "")
    check_bool_op(metric, op, c, "op")
    members = group_members(value, groups, c, given[0]) if scope == "group" else ()
    if metric is None or op is None or threshold is None or scope is None or members is None:
        return None
    rule = Rule(metric, op, threshold, scope, value, members=members)
    scope_part = f" of {rule.scope_text}" if scope != "all" else ""
    return replace(rule, text=f"{metric}{scope_part} {op} {_threshold_text(item['threshold'], rule.kind)}")


def _threshold_text(raw: Any, kind: str) -> str:
    """The threshold as written; a bare latency number gets its implied 'ms'."""
    if isinstance(raw, bool):
        return str(raw).lower()
    if isinstance(raw, int | float) and kind == "latency":
        return f"{raw:g}ms"
    return str(raw).strip()


def _quote(value: Any) -> str:
    text = str(value)
    return text if text[:1] in "\"'" else f'"{text}"'


__all__ = [
    "HTTP_METHODS",
    "LONG_KEYS",
    "OPS",
    "SCOPE_KEYS",
    "WINDOWS",
    "Groups",
    "Rule",
    "parse_rule",
    "parse_rules",
]
