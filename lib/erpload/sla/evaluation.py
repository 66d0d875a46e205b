"""SLA evaluation (pure): every rule against a `Snapshot`, verdict lines, live abort tracking.

At `quitting` on the master (after the workers' final reports), the plugin calls::

    results = evaluate(rules, snapshot, windows)   # windows from snapshot.stage_windows(); optional
    for line in verdict_lines(results): print(line)
    code = exit_code_for(results)                  # ExitCode.PASS or ExitCode.SLA_BREACHED

During the run, `LiveAbortTracker(rules).check(now_s, snapshot)` returns a `Trip` once an
`abort: true` rule has failed past its `after` grace for `for` seconds. `erpload.sla` lists
these names with the grammar's.

A rule on a request group (`rps of group "NAME"`) reads its members' requests in the rule's window as
one RequestStats (counts summed, histograms merged); a member the whole run never requested fails it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from erpload.core.errors import ExitCode
from erpload.core.histogram import bucket_bound
from erpload.core.snapshot import RequestStats, Snapshot
from erpload.core.units import COMPARISONS, closest, fmt_bound, fmt_observed, fmt_value
from erpload.sla.grammar import Rule
from erpload.sla.metrics import base_metric, metric_spec, percentile_of
from erpload.sla.terms import HTTP_METHODS

_OPS = COMPARISONS
_MAX_KNOWN = 12  # names listed in a no-samples message


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule: observed value (None = no data), pass/fail, human detail."""

    rule: Rule
    observed: float | bool | None
    passed: bool
    detail: str
    bound: float | None = None  # ± ms of a percentile's bucket
    samples: int = 0


def _closest_request(got: str, snap: Snapshot) -> str | None:
    """Closest known label, judged on the path (a shared "GET /" must not make any two names close)."""
    method, _, name = got.partition(" ") if got.split(" ", 1)[0] in HTTP_METHODS else ("", "", got)
    names = sorted({s.name for s in snap.requests.values()})
    close = closest(name, names, n=3)
    labels = [s for s in snap.requests.values() if s.name in close]
    labels.sort(key=lambda s: (close.index(s.name), s.method != method, s.method))
    return labels[0].label if labels else None


def _no_samples(rule: Rule, snap: Snapshot) -> str:
    """Why a scope has no data, with the known names and a did-you-mean."""
    if rule.scope == "role":
        known, what, q = sorted(snap.roles), "roles", ""
        guess = next(iter(closest(rule.scope_value, known)), None)
    elif rule.scope == "request":
        known, what, q = snap.labels(), "requests", '"'
        guess = _closest_request(rule.scope_value, snap)
    elif rule.scope == "group":
        where = f" in window {rule.window}" if rule.window != "all" else ""
        return f"observed no samples for {rule.scope_text} ({', '.join(rule.members)}){where}"
    else:
        return "observed no samples: no request was recorded"
    text = f"observed no samples for {rule.scope_text}; known {what}: {_listed(known)}"
    return text + (f"; did you mean {q}{guess}{q}?" if guess else "")


def _listed(known: list[str]) -> str:
    """Up to _MAX_KNOWN names, then how many in all."""
    text = ", ".join(known[:_MAX_KNOWN]) + (f", … ({len(known)} in all)" if len(known) > _MAX_KNOWN else "")
    return text or "none"


def _unseen_members(rule: Rule, run: Snapshot) -> str | None:
    """Why a group cannot be judged: requests of it this run never made (a typo in one member must
    not pass on the others' counts), with the known requests and a did-you-mean; None when all were made."""
    seen = {s.label for s in run.requests.values() if s.count}
    unseen = [m for m in rule.members if m not in seen]
    if not unseen:
        return None
    names = ", ".join(f'"{m}"' for m in unseen)
    text = f"observed no samples for {names} of {rule.scope_text}; known requests: {_listed(run.labels())}"
    guesses = [(m, g) for m in unseen if (g := _closest_request(m, run))]
    hints = "; ".join(
        f'did you mean "{g}"' + (f' for "{m}"' if len(unseen) > 1 else "") + "?" for m, g in guesses
    )
    return text + (f"; {hints}" if hints else "")


def _group_stats(rule: Rule, snap: Snapshot) -> RequestStats:
    """A group's requests as one: counts and failures summed, latency histograms merged (exact:
    the buckets add); a member not requested in this window adds nothing."""
    parts = [s for s in snap.requests.values() if s.label in rule.members]
    out = RequestStats("", rule.scope_text)
    for part in parts:
        out = out.merge(part)
    h = out.histogram  # a window's histogram forgets min/max: another member's is not the group's
    if any(p.histogram.count and p.histogram.min is None for p in parts):
        h.min = None
    if any(p.histogram.count and p.histogram.max is None for p in parts):
        h.max = None
    return out


def _scope_stats(rule: Rule, snap: Snapshot) -> RequestStats | None:
    if rule.scope == "request":
        return snap.find_request(rule.scope_value)
    if rule.scope == "role":
        return snap.roles.get(rule.scope_value)
    if rule.scope == "group":
        return _group_stats(rule, snap)
    return snap.total_stats()


def _observe(rule: Rule, stats: RequestStats, snap: Snapshot) -> tuple[float | None, float | None]:
    """(observed, bound) of a request metric; observed None when there is nothing to measure."""
    p = percentile_of(rule.metric)
    if p is not None:
        value = stats.percentile(p)
        return value, bucket_bound(value, snap.bucket_scheme) if value is not None else None
    if rule.metric == "avg":
        return stats.avg_ms, None
    if rule.metric in ("min", "max"):
        return (stats.min_ms if rule.metric == "min" else stats.max_ms), None
    if rule.metric == "error_rate":
        return stats.error_rate, None
    if rule.metric == "rps":
        return (stats.count / snap.duration_s if snap.duration_s > 0 else None), None
    return float(stats.failures if rule.metric == "failures" else stats.count), None


def evaluate_rule(
    rule: Rule, snapshot: Snapshot, windows: Mapping[str, Snapshot] | None = None
) -> RuleResult:
    """Evaluate one rule; no data is a failure that says why."""
    spec = metric_spec(rule.metric)
    kind = spec.kind if spec else "count"
    if spec is None:
        return RuleResult(rule, None, False, f"unknown metric {rule.metric!r}")
    if spec.source == "intended":
        return _intended(rule, snapshot)
    if spec.source == "extra":
        key = rule.metric if rule.window == "all" else f"{rule.metric}@{rule.window}"  # target_rate(...)
        value = snapshot.extra.get(key)
        if value is None:
            known = ", ".join(sorted(snapshot.extra)) or "none"
            return RuleResult(rule, None, False, f"not measured: no {key} in this run (measured: {known})")
        return _judge(rule, kind, value, None, 0)
    unseen = _unseen_members(rule, snapshot) if rule.scope == "group" else None
    if unseen:  # judged on the whole run: a member may rightly be absent from one window
        return RuleResult(rule, None, False, unseen)
    snap = snapshot if rule.window == "all" else (windows or {}).get(rule.window)
    if snap is None:
        known = ", ".join(sorted({"all", *(windows or {})}))
        return RuleResult(rule, None, False, f"no data for window {rule.window!r} (known windows: {known})")
    stats = _scope_stats(rule, snap)
    samples = 0 if stats is None else (stats.histogram.count if kind == "latency" else stats.count)
    if stats is None or samples == 0:
        return RuleResult(rule, None, False, _no_samples(rule, snap))
    value, bound = _observe(rule, stats, snap)
    if value is None:
        return RuleResult(rule, None, False, f"observed no {rule.metric} (run duration {snap.duration_s:g}s)")
    return _judge(rule, kind, value, bound, samples)


def _intended(rule: Rule, snapshot: Snapshot) -> RuleResult:
    """A LATENCY_intended rule: the request metric on the intended-start view (fails closed without it)."""
    view = snapshot.views.get("intended")
    if view is None or not view.requests:
        return RuleResult(
            rule,
            None,
            False,
            f"not measured: {rule.metric} times requests of open-model iterations from their intended "
            "start, and this run recorded none (closed model, or no iteration ran)",
        )
    inner = evaluate_rule(replace(rule, metric=base_metric(rule.metric)), view)
    return replace(inner, rule=rule)


def _judge(rule: Rule, kind: str, value: float | bool, bound: float | None, samples: int) -> RuleResult:
    passed = bool(_OPS[rule.op](value, rule.threshold))
    detail = f"observed {fmt_observed(kind, value, rule.op, rule.threshold)}{fmt_bound(bound)}"
    if not passed:
        detail += f", threshold {rule.op} {fmt_value(kind, rule.threshold)}"
    if rule.window != "all":
        detail += f" [window {rule.window}]"
    return RuleResult(rule, value, passed, detail, bound, samples)


def evaluate(
    rules: Iterable[Rule], snapshot: Snapshot, windows: Mapping[str, Snapshot] | None = None
) -> list[RuleResult]:
    """Evaluate EVERY rule (never stops at the first failure; a crash in one rule fails only it)."""
    results = []
    for rule in rules:
        try:
            results.append(evaluate_rule(rule, snapshot, windows))
        except Exception as e:  # a bug must not hide the other verdicts; the rule fails loudly
            results.append(RuleResult(rule, None, False, f"evaluation error: {type(e).__name__}: {e}"))
    return results


def exit_code_for(results: Iterable[RuleResult]) -> ExitCode:
    """PASS when every rule passed, else SLA_BREACHED."""
    return ExitCode.PASS if all(r.passed for r in results) else ExitCode.SLA_BREACHED


def verdict_lines(results: list[RuleResult]) -> list[str]:
    """Console verdict, one line per rule plus a closing line (STYLE.md §4)."""
    if not results:
        return ["SLA no rules configured"]
    width = min(60, max(len(r.rule.title) for r in results))
    lines = [f"SLA {'PASS' if r.passed else 'FAIL'}  {r.rule.title:<{width}}   {r.detail}" for r in results]
    failed = sum(not r.passed for r in results)
    if failed:
        lines.append(f"SLA {failed} of {len(results)} rules failed -> exit {int(ExitCode.SLA_BREACHED)}")
    else:
        lines.append(f"SLA all {len(results)} rules passed")
    return lines


@dataclass(frozen=True)
class Trip:
    """A live rule that tripped: which, when (s since start), failing since when, and its result."""

    rule: Rule
    at_s: float
    failing_since_s: float
    result: RuleResult


class LiveAbortTracker:
    """`abort: true` semantics with injected time: grace `after`, then failing for `for` seconds.

    A rule without data (None observed) counts as not failing: an endpoint not hit yet must not
    stop the run; the final verdict still fails it. Once tripped, `check` keeps returning that trip.
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = [r for r in rules if r.abort]
        self._failing_since: dict[int, float] = {}
        self.tripped: Trip | None = None

    def check(
        self, now_s: float, snapshot: Snapshot, windows: Mapping[str, Snapshot] | None = None
    ) -> Trip | None:
        """Evaluate the abort rules at `now_s` (seconds since the test started)."""
        if self.tripped is not None or not self.rules:
            return self.tripped
        for i, rule in enumerate(self.rules):
            if now_s < rule.after_s:
                self._failing_since.pop(i, None)
                continue
            result = evaluate([rule], snapshot, windows)[0]
            if result.passed or result.observed is None:
                self._failing_since.pop(i, None)
                continue
            since = self._failing_since.setdefault(i, now_s)
            if now_s - since >= rule.for_s:
                self.tripped = Trip(rule, now_s, since, result)
                return self.tripped
        return None
