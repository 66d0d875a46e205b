"""SLA rule grammar (pure): short and long form -> one frozen `Rule`; every problem collected.

Short form:  METRIC [of SCOPE] OP THRESHOLD
    p95 of "GET /ppic/manufacturing-orders" < 300ms     error_rate < 0.1%     avg < 200ms
    rps of "POST /ppic/manufacturing-orders" > 50        p99 of role CuttingOperator < 1s
    target_cpu_max < 80%                                 target_leak == false
Long form: {metric, op, threshold, request?|role?|scope?, abort?, after?, for?, window?, name?}
or {rule: "<short form>", abort?, after?, ...}.

Thresholds are stored in canonical units: ms for latencies, a fraction for rates and
percentages (0.1% -> 0.001, 80% -> 0.8), per second for rps, seconds for durations, raw for
counts, bool for flags (see `erpload.core.units`). `parse_rules(raw, where)` is what the profile
loader calls. The metric names live in `erpload.sla.metrics`; evaluation in `erpload.sla.evaluation`.

The grammar, in the style of k6's metrics/thresholds_parser.go (whitespace between tokens is free)::

    rule       -> short | long
    short      -> metric [ "of" scope ] op threshold
    long       -> "{" "metric" ":" metric "," "op" ":" op "," "threshold" ":" threshold
                      [ "," ( "request" ":" request | "role" ":" NAME | "scope" ":" scope ) ]
                      [ "," "abort" ":" BOOL ] [ "," "after" ":" duration ] [ "," "for" ":" duration ]
                      [ "," "window" ":" window ] [ "," "name" ":" TEXT ] "}"
                | "{" "rule" ":" short [ "," option ]* "}"
    metric     -> "avg" | "min" | "max" | "median" | "p" NUMBER | "error_rate" | "rps" | "count"
                | "failures" | registered                       (erpload.sla.metrics.known_metrics)
    scope      -> request | "role" NAME
    request    -> QUOTE METHOD " " PATH QUOTE                   (METHOD one of HTTP_METHODS)
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
from erpload.core.units import QuantityError, did_you_mean, parse_quantity, parse_timespan
from erpload.sla.metrics import (
    METRICS,
    PERCENTILE_RE,
    known_metrics,
    metric_spec,
)

OPS = ("<", "<=", ">", ">=", "==", "!=")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
LONG_KEYS = tuple("metric op threshold scope request role abort after for window name rule".split())
WINDOWS = ("all", "steady", "stage:NAME")


@dataclass(frozen=True)
class Rule:
    """One SLA rule, stating the pass condition, with its threshold in canonical units."""

    metric: str
    op: str
    threshold: float | bool
    scope: str = "all"  # "all" | "request" | "role"
    scope_value: str = ""  # "GET /x" for a request, the user class name for a role
    abort: bool = False  # checked live; stops the run with the SLA exit code
    after_s: float = 0.0  # live: ignored until this long after the start
    for_s: float = 0.0  # live: must fail continuously this long before it trips
    window: str = "all"  # "all" | "steady" | "stage:NAME"
    name: str = ""  # optional label (JUnit testcase name)
    text: str = ""  # the rule as written (short form) or rendered (long form)

    @property
    def kind(self) -> str:
        """Metric kind: latency, rate, rps, count, bool or duration."""
        spec = metric_spec(self.metric)
        return spec.kind if spec else "count"

    @property
    def scope_text(self) -> str:
        """'all', '"GET /x"' or 'role CuttingOperator'."""
        if self.scope == "request":
            return f'"{self.scope_value}"'
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


class _Collector:
    """Collects problems under one rule's `where`."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[Problem] = []

    def add(self, message: str, fix: str = "", field: str = "") -> None:
        self.problems.append(Problem(f"{self.where}.{field}" if field else self.where, message, fix.strip()))


def parse_rules(raw: Any, where: str = "sla") -> tuple[list[Rule], list[Problem]]:
    """Parse every rule of a profile's `sla:` list; returns the good rules and ALL problems."""
    if raw is None:
        return [], []
    if not isinstance(raw, list):
        fix = 'Write a list, e.g. sla: ["p95 < 300ms", "error_rate < 0.1%"]'
        return [], [Problem(where, f"must be a list of rules (got {type(raw).__name__}: {raw!r:.60})", fix)]
    rules: list[Rule] = []
    problems: list[Problem] = []
    for i, item in enumerate(raw):
        rule, probs = parse_rule(item, f"{where}[{i}]")
        problems += probs
        if rule is not None:
            rules.append(rule)
    return rules, problems


def parse_rule(item: Any, where: str = "sla[0]") -> tuple[Rule | None, list[Problem]]:
    """Parse one rule (short-form string or long-form mapping)."""
    c = _Collector(where)
    if isinstance(item, str):
        rule = _parse_short(item, c)
    elif isinstance(item, Mapping):
        rule = _parse_long(item, c)
    else:
        c.add(
            f"a rule is a string or a mapping (got {type(item).__name__}: {item!r:.60})", 'e.g. "p95 < 300ms"'
        )
        rule = None
    return (rule if not c.problems else None), c.problems


def _parse_short(text: str, c: _Collector, field: str = "") -> Rule | None:
    m = _SHORT.fullmatch(text)
    if not m:
        c.add(
            f"cannot read rule {text!r}",
            'Write METRIC [of SCOPE] OP THRESHOLD, e.g. p95 of "GET /x" < 300ms',
            field,
        )
        return None
    metric = _check_metric(m["metric"], c, field)
    op = _check_op(m["op"], c, field)
    scope, value = _parse_scope(m["scope"], c, field) if m["scope"] else ("all", "")
    threshold = _parse_threshold(m["threshold"], metric, c, field) if metric else None
    _check_scope_allowed(metric, scope, c, field)
    _check_bool_op(metric, op, c, field)
    if metric is None or op is None or threshold is None or scope is None:
        return None
    return Rule(metric, op, threshold, scope, value, text=" ".join(text.split()))


def _parse_long(item: Mapping[str, Any], c: _Collector) -> Rule | None:
    for key in item:
        if key not in LONG_KEYS:
            c.add(
                f"unknown key {key!r}",
                f"{did_you_mean(str(key), list(LONG_KEYS))}Known: {', '.join(LONG_KEYS)}",
            )
    if "rule" in item:
        if not isinstance(item["rule"], str):
            c.add(f"must be a short-form string (got {item['rule']!r:.60})", 'e.g. rule: "p99 < 2s"', "rule")
            return None
        clash = [k for k in ("metric", "op", "threshold", "scope", "request", "role") if k in item]
        if clash:
            c.add(
                f"'rule' already says the metric, op, threshold and scope (also got: {', '.join(clash)})",
                "Use either 'rule' or metric/op/threshold",
            )
        base = _parse_short(item["rule"], c, "rule")
    else:
        base = _parse_long_fields(item, c)
    abort = item.get("abort", False)
    if not isinstance(abort, bool):
        c.add(f"must be true or false (got {abort!r})", "", "abort")
    after_s = _timespan(item, "after", c)
    for_s = _timespan(item, "for", c)
    for key in ("after", "for"):
        if key in item and abort is False:
            c.add(
                f"'{key}' only applies to live rules (abort is {abort!r})",
                "Add abort: true, or remove it",
                key,
            )
    window = _check_window(item.get("window", "all"), c)
    name = item.get("name", "")
    if not isinstance(name, str):
        c.add(f"must be a string (got {name!r})", "", "name")
    if base is None or c.problems:
        return None
    if window != "all" and METRICS.get(base.metric, METRICS["avg"]).source == "extra":
        c.add(
            f"window {window!r} only applies to request metrics, not {base.metric}", "Remove window", "window"
        )
        return None
    return replace(base, abort=bool(abort), after_s=after_s, for_s=for_s, window=window, name=name)


def _parse_long_fields(item: Mapping[str, Any], c: _Collector) -> Rule | None:
    missing = [k for k in ("metric", "op", "threshold") if k not in item]
    for key in missing:
        c.add(f"required (got keys: {', '.join(map(str, item)) or 'none'})", "", key)
    metric = _check_metric(str(item["metric"]), c, "metric") if "metric" in item else None
    op = _check_op(str(item["op"]), c, "op") if "op" in item else None
    threshold = (
        _parse_threshold(item["threshold"], metric, c, "threshold")
        if metric and "threshold" in item
        else None
    )
    given = [k for k in ("scope", "request", "role") if k in item]
    scope: str | None = "all"
    value = ""
    if len(given) > 1:
        c.add(f"give one of scope, request, role (got {', '.join(given)})", "", given[1])
    elif given == ["request"]:
        scope, value = _parse_scope(_quote(item["request"]), c, "request")
    elif given == ["role"]:
        scope, value = _parse_scope(f"role {item['role']}", c, "role")
    elif given == ["scope"]:
        scope, value = _parse_scope(str(item["scope"]), c, "scope")
    _check_scope_allowed(metric, scope, c, given[0] if given else "")
    _check_bool_op(metric, op, c, "op")
    if metric is None or op is None or threshold is None or scope is None:
        return None
    rule = Rule(metric, op, threshold, scope, value)
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


def _check_metric(metric: str, c: _Collector, field: str) -> str | None:
    name = metric.strip().lower()
    if metric_spec(name):
        return name
    p = PERCENTILE_RE.fullmatch(name)
    if p:
        c.add(
            f"percentile must be between 0 and 100 exclusive (got {metric!r})",
            "Use e.g. p50, p95, p99, p99.9; for the slowest response use max",
            field,
        )
    else:
        known = known_metrics()
        c.add(
            f"unknown metric {metric!r}",
            f"{did_you_mean(name, known, cutoff=0.5)}Known: {', '.join(known)}, or any pNN",
            field,
        )
    return None


def _check_op(op: str, c: _Collector, field: str) -> str | None:
    op = op.strip()
    if op in OPS:
        return op
    swapped = "==" if op == "=" else op[::-1] if op[::-1] in OPS else ""
    hint = f"Did you mean '{swapped}'? " if swapped else did_you_mean(op, list(OPS))
    c.add(f"unknown operator {op!r}", f"{hint}Known: {' '.join(OPS)}", field)
    return None


def _parse_scope(text: str, c: _Collector, field: str) -> tuple[str | None, str]:
    text = text.strip()
    if text[:1] in "\"'" and len(text) >= 2 and text[-1] == text[0]:
        label = " ".join(text[1:-1].split())
        if not label:
            c.add("empty request name", 'Write e.g. "GET /ppic/manufacturing-orders"', field)
            return None, ""
        method, _, rest = label.partition(" ")
        return "request", f"{method.upper()} {rest}" if rest and method.upper() in HTTP_METHODS else label
    m = re.fullmatch(r"role[\s:]+(\S+)", text)
    if m:
        if not m.group(1).isidentifier():
            c.add(f"role must be a user class name (got {m.group(1)!r})", "e.g. role CuttingOperator", field)
            return None, ""
        return "role", m.group(1)
    if text.lower() == "all":
        return "all", ""
    first = text.split()[0] if text.split() else ""
    if first.upper() in HTTP_METHODS or text.startswith("/"):
        return _parse_scope(f'"{text}"', c, field)
    c.add(
        f"unknown scope {text!r}",
        f'For a user class write: role {text}; for a request quote it: "GET /path"',
        field,
    )
    return None, ""


def _check_scope_allowed(metric: str | None, scope: str | None, c: _Collector, field: str) -> None:
    spec = metric_spec(metric) if metric else None
    if spec and spec.source == "extra" and scope not in ("all", None):
        c.add(f"{metric} is measured for the whole run and takes no scope", "Remove the 'of ...' part", field)


def _check_bool_op(metric: str | None, op: str | None, c: _Collector, field: str) -> None:
    spec = metric_spec(metric) if metric else None
    if spec and spec.kind == "bool" and op not in ("==", "!=", None):
        c.add(f"{metric} is true or false and cannot use {op!r}", f"Write {metric} == false", field)


def _parse_threshold(raw: Any, metric: str | None, c: _Collector, field: str) -> float | bool | None:
    spec = metric_spec(metric) if metric else None
    if spec is None:
        return None
    try:
        return parse_quantity(raw, spec.kind)
    except QuantityError as e:
        c.add(f"threshold of {metric}: {e.message}", e.fix, field)
        return None


def _timespan(item: Mapping[str, Any], key: str, c: _Collector) -> float:
    try:
        return parse_timespan(item[key]) if key in item else 0.0
    except QuantityError as e:
        c.add(e.message, e.fix, key)
        return 0.0


def _check_window(window: Any, c: _Collector) -> str:
    text = str(window).strip() if isinstance(window, str) else window
    if text in ("all", "steady") or (isinstance(text, str) and re.fullmatch(r"stage:\S.*", text)):
        return str(text)
    c.add(
        f"unknown window {window!r}",
        f"{did_you_mean(str(window), ['all', 'steady'])}Known: {', '.join(WINDOWS)}",
        "window",
    )
    return "all"
