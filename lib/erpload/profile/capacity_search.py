"""Capacity search (pure): which level to run next, from the verdicts of the levels run so far.

No clock and no Locust: `erpload.locust.capacity` runs each level (settle, then hold), evaluates
the profile's rules on the level's window and calls `record`; `next_level` says what comes next.

    search = CapacitySearch(spec)
    while (step := search.next_level()) is not None:      # (level, "search" | "confirm")
        ... run step.level, evaluate the rules on its window ...
        search.record(observations)
    outcome = search.outcome()                             # status, capacity, evidence

Search (a level passes when every rule passes on its window):
- step: start, start+step, ... up to max (max itself is always tried); stop at the first break.
- bisect: start, then double (capped at max) until a level breaks; then bisect between the
  highest pass and the lowest break until they are at most `bisect` apart (closed model: whole users).
Confirm: the highest passing level below the lowest break is held again (`confirm`). If it breaks
now it counts as a break: a step search confirms the next lower passing level, a bisect search
bisects again below it (so one unlucky hold costs a resolution step, not a halving). Only a
confirmed level is a capacity.

Outcomes, never a made-up number (fail closed):
- found: the confirmed level, and the lowest level that broke (with its first failing rule);
- at_least_max: max itself was confirmed: the capacity is ">= max" (the search never broke);
- below_start: no level was confirmed (start broke, or every confirm broke): "< start";
- incomplete: the run ended before the search did: no capacity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from erpload.profile.capacity_spec import CapacitySpec

SEARCH, CONFIRM = "search", "confirm"


@dataclass(frozen=True)
class RuleObservation:
    """One rule's verdict on one level's window."""

    rule: str  # the rule's title
    passed: bool
    observed: float | bool | None
    detail: str


@dataclass(frozen=True)
class LevelRecord:
    """One level run: its load, phase, verdict and every rule's observation."""

    index: int
    level: float
    phase: str  # SEARCH or CONFIRM
    passed: bool
    rules: tuple[RuleObservation, ...]
    early: bool = False  # broken before the end of its hold by an `abort: true` rule
    start_s: float | None = None  # the measured window, seconds since the run started
    end_s: float | None = None
    stage: str = ""  # the stage name the window was marked with (timeline, SLA windows)

    @property
    def failed(self) -> list[RuleObservation]:
        """The rules that failed, in the profile's order."""
        return [r for r in self.rules if not r.passed]


@dataclass(frozen=True)
class CapacityOutcome:
    """What the search found: status, the capacity (None unless confirmed), and the evidence."""

    status: str  # found | at_least_max | below_start | incomplete
    capacity: float | None
    text: str  # "40 users", ">= 200 users", "< 10 users", "not determined"
    evidence: LevelRecord | None  # the confirmed level (below_start: the lowest level that broke)
    first_break: LevelRecord | None  # the lowest level above the capacity that broke
    levels: tuple[LevelRecord, ...] = field(default_factory=tuple)

    def to_dict(self, spec: CapacitySpec) -> dict[str, Any]:
        """summary.json `capacity`."""
        brk = self.first_break
        return {
            "status": self.status,
            "capacity": self.capacity,
            "text": self.text,
            "model": spec.model,
            "unit": spec.unit,
            "method": f"step {spec.step:g}" if spec.step else f"bisect {spec.bisect:g}",
            "settings": {
                "start": spec.start,
                "max": spec.max,
                "step": spec.step,
                "bisect": spec.bisect,
                "hold_s": spec.hold_s,
                "settle_s": spec.settle_s,
                "confirm_s": spec.confirm_s,
            },
            "required": spec.required,
            "meets_required": None if spec.required is None else (self.capacity or 0) >= spec.required,
            "evidence": _record(self.evidence),
            "first_break": None
            if brk is None
            else {
                **_record(brk),
                "rule": brk.failed[0].rule if brk.failed else "",
                "failed": len(brk.failed),
            },
            "levels": [_record(r) for r in self.levels],
        }


def _record(r: LevelRecord | None) -> dict[str, Any] | None:
    if r is None:
        return None
    d = asdict(r)
    d["rules"] = [asdict(o) for o in r.rules]
    return d


class CapacitySearch:
    """The search's state: the levels run so far and what to run next."""

    def __init__(self, spec: CapacitySpec) -> None:
        self.spec = spec
        self.records: list[LevelRecord] = []
        self._next: tuple[float, str] | None = (self._snap(spec.start), SEARCH)
        self.abandoned = ""  # why the search ended without an answer (a level no rule could judge)

    def next_level(self) -> tuple[float, str] | None:
        """(level, phase) to run now; None when the search is over."""
        return self._next

    @property
    def done(self) -> bool:
        return self._next is None

    def abandon(self, reason: str) -> None:
        """End the search without an answer: a level could not be judged (fail closed, never "< start")."""
        self.abandoned = reason
        self._next = None

    def record(
        self,
        rules: Sequence[RuleObservation],
        *,
        early: bool = False,
        start_s: float | None = None,
        end_s: float | None = None,
        stage: str = "",
    ) -> LevelRecord:
        """The verdict of the level `next_level` named; decides the next one."""
        if self._next is None:
            raise RuntimeError("the capacity search is over: nothing to record")
        level, phase = self._next
        # a level without any rule to judge it cannot pass (fail closed)
        passed = bool(rules) and all(r.passed for r in rules) and not early
        rec = LevelRecord(len(self.records), level, phase, passed, tuple(rules), early, start_s, end_s, stage)
        self.records.append(rec)
        self._next = self._decide(rec)
        return rec

    # -- the decisions ---------------------------------------------------------------------------
    def _passes(self) -> list[float]:
        return [r.level for r in self.records if r.phase == SEARCH and r.passed]

    def _fails(self) -> list[float]:
        return [r.level for r in self.records if not r.passed]

    def _confirm_below(self, ceiling: float) -> tuple[float, str] | None:
        """Confirm the highest search-passing level below `ceiling` not confirmed yet; None if none."""
        tried = {r.level for r in self.records if r.phase == CONFIRM}
        left = [p for p in self._passes() if p < ceiling and p not in tried]
        return (max(left), CONFIRM) if left else None

    def _decide(self, rec: LevelRecord) -> tuple[float, str] | None:
        spec = self.spec
        if rec.phase == CONFIRM and (rec.passed or spec.step):
            return None if rec.passed else self._confirm_below(rec.level)
        fails = self._fails()
        if not rec.passed and not self._passes():
            return None  # the start broke: below start
        if rec.passed and not fails:
            if rec.level >= spec.max:
                return rec.level, CONFIRM
            grown = rec.level + spec.step if spec.step else rec.level * 2
            return self._snap(min(grown, spec.max)), SEARCH
        hi = min(fails)
        if spec.step:  # a linear search stops at its first break
            return self._confirm_below(hi)
        lo = max(p for p in self._passes() if p < hi) if any(p < hi for p in self._passes()) else None
        if lo is None:
            return None
        mid = self._snap((lo + hi) / 2)
        if hi - lo <= (spec.bisect or 0) or not lo < mid < hi:
            return self._confirm_below(hi)
        return mid, SEARCH

    def _snap(self, level: float) -> float:
        """Whole users in the closed model (rounded down), a rate to 3 decimals in the open one."""
        return float(math.floor(level + 1e-9)) if not self.spec.is_open else round(level, 3)

    # -- the answer ------------------------------------------------------------------------------
    def outcome(self) -> CapacityOutcome:
        """The search's answer so far (status incomplete while it is not over)."""
        spec, levels = self.spec, tuple(self.records)
        confirmed = [r for r in levels if r.phase == CONFIRM and r.passed]
        if confirmed:
            best = confirmed[-1]
            brk = _lowest([r for r in levels if not r.passed and r.level > best.level])
            if brk is None and best.level >= spec.max:
                return CapacityOutcome(
                    "at_least_max", best.level, f">= {spec.fmt(best.level)}", best, None, levels
                )
            return CapacityOutcome("found", best.level, spec.fmt(best.level), best, brk, levels)
        if self.abandoned:
            return CapacityOutcome("not_judged", None, f"not determined ({self.abandoned})",
                                   None, None, levels)  # fmt: skip
        if not self.done:
            return CapacityOutcome("incomplete", None, "not determined (the run ended during the search)",
                                   None, _lowest([r for r in levels if not r.passed]), levels)  # fmt: skip
        brk = _lowest([r for r in levels if not r.passed])
        evidence = _lowest([r for r in levels if r.phase == SEARCH and not r.passed]) or brk
        return CapacityOutcome("below_start", None, f"< {spec.fmt(spec.start)}", evidence, brk, levels)


def _lowest(records: Sequence[LevelRecord]) -> LevelRecord | None:
    """The record with the lowest level (the first run of it on a tie)."""
    return min(records, key=lambda r: (r.level, r.index)) if records else None
