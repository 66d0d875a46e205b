"""Capacity search (pure): which level to run next, from the verdicts of the levels run so far.

No clock and no Locust: `erpload.locust.capacity` runs each level (settle, then hold), evaluates
the profile's rules on the level's window and calls `record`; `next_level` says what comes next.

    search = CapacitySearch(spec)
    while (step := search.next_level()) is not None:      # (level, "search" | "confirm" | "retest")
        ... run step.level, evaluate the rules on its window ...
        search.record(observations)
    outcome = search.outcome()                             # status, capacity, evidence

Search (a level passes when every rule passes on its window):
- step: start, start+step, ... up to max (max itself is always tried); stop at the first break.
- bisect: start, then double (capped at max) until a level breaks; then bisect between the
  highest pass and the lowest break until they are at most `bisect` apart (closed model: whole users).
The boundary is tested twice on both sides (a level's verdict is its latest run's; a level runs
again only while that verdict has been seen once): once the search has converged, the lowest break
is run again (`retest`, held `confirm` long). If it passes now it was a false break (a burst, a
backlog) and the search goes on above it; if it breaks again it is a confirmed break. Then the
highest pass below it is held again (`confirm`). If that breaks, the level is run a third time
(`retest`): two breaks make it a confirmed break and the search goes on below it (step: the next
lower pass; bisect: bisects again), two passes make it the capacity. Only a level that passed twice,
its latest run a pass, is a capacity; the answer is the interval [capacity, first break].

Outcomes, never a made-up number (fail closed):
- found: the confirmed level, and the lowest level above it that broke (with its first failing rule;
  `interval` says whether that break was confirmed by a second break);
- at_least_max: max itself was confirmed: the capacity is ">= max" (the search never broke);
- below_start: no level passed twice below the first break (start broke twice, or every level
  below the first break did): "< start";
- not_judged: a level could not be judged (too few samples, erpload.profile.capacity_judge): none;
- incomplete: the run ended before the search did: no capacity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from erpload.profile.capacity_spec import CapacitySpec

SEARCH, CONFIRM, RETEST = "search", "confirm", "retest"
MAX_RECORDS = 400  # a guard: every level runs at most 3 times, so a real search ends far below this


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
    phase: str  # SEARCH, CONFIRM (a pass run again) or RETEST (a break run again)
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
            "interval": self.interval(),
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

    def interval(self) -> dict[str, Any]:
        """The uncertainty: the capacity lies between the last pass and the first break above it."""
        brk = self.first_break
        runs = [r for r in self.levels if brk is not None and r.level == brk.level]
        return {
            "last_pass": self.capacity,
            "first_break": None if brk is None else brk.level,
            "first_break_confirmed": sum(not r.passed for r in runs) >= 2,
            "gap": None if brk is None or self.capacity is None else brk.level - self.capacity,
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
    def _runs(self, level: float) -> list[LevelRecord]:
        return [r for r in self.records if r.level == level]

    def _latest(self) -> dict[float, LevelRecord]:
        """Each level's latest run: its verdict now."""
        return {r.level: r for r in self.records}

    def _seen_twice(self, level: float) -> bool:
        """The level's latest verdict has been seen at least twice (passed twice, or broke twice)."""
        runs = self._runs(level)
        return sum(r.passed == runs[-1].passed for r in runs) >= 2

    def _again(self, level: float, passed: bool) -> tuple[float, str] | None:
        """Run `level` again (a pass: CONFIRM, a break: RETEST) unless its verdict is already seen twice."""
        if self._seen_twice(level) or len(self._runs(level)) >= 3:
            return None
        return level, (CONFIRM if passed and not any(r.phase == CONFIRM for r in self._runs(level)) else
                       RETEST)  # fmt: skip

    def _decide(self, rec: LevelRecord) -> tuple[float, str] | None:
        spec = self.spec
        if len(self.records) >= MAX_RECORDS:
            return None
        latest = self._latest()
        fails = sorted(lvl for lvl, r in latest.items() if not r.passed)
        passes = sorted(lvl for lvl, r in latest.items() if r.passed)
        if not fails:  # growing: nothing broke (or every break passed its retest)
            top = passes[-1]
            if top >= spec.max:
                return self._again(top, True)
            grown = self._snap(min(top + spec.step if spec.step else top * 2, spec.max))
            return (grown, SEARCH) if grown > top else self._again(top, True)
        hi = fails[0]
        below = [p for p in passes if p < hi]
        if not below:  # the lowest level tried broke: retest it once, then "< start"
            return self._again(hi, False)
        lo = below[-1]
        if not spec.step:  # bisect until pass and break are at most `bisect` apart
            mid = self._snap((lo + hi) / 2)
            if hi - lo > (spec.bisect or 0) and lo < mid < hi:
                return mid, SEARCH
        # converged (a step search: its first break): both sides of the boundary seen twice
        return self._again(hi, False) or self._again(lo, True)

    def _snap(self, level: float) -> float:
        """Whole users in the closed model (rounded down), a rate to 3 decimals in the open one."""
        return float(math.floor(level + 1e-9)) if not self.spec.is_open else round(level, 3)

    # -- the answer ------------------------------------------------------------------------------
    def _capacity(self) -> tuple[LevelRecord | None, LevelRecord | None]:
        """(the capacity's evidence: a level passed twice below every break, the lowest break above it)."""
        latest = self._latest()
        fails = [r for r in latest.values() if not r.passed]
        hi = min((r.level for r in fails), default=math.inf)
        held = [r for lvl, r in latest.items() if r.passed and lvl < hi and self._seen_twice(lvl)]
        best = max(held, key=lambda r: r.level) if held else None
        brk = _lowest([r for r in fails if best is None or r.level > best.level])
        return best, brk

    def outcome(self) -> CapacityOutcome:
        """The search's answer so far (status incomplete while it is not over)."""
        spec, levels = self.spec, tuple(self.records)
        if self.abandoned:
            return CapacityOutcome("not_judged", None, f"not determined ({self.abandoned})",
                                   None, None, levels)  # fmt: skip
        if not self.done:
            return CapacityOutcome("incomplete", None, "not determined (the run ended during the search)",
                                   None, _lowest([r for r in levels if not r.passed]), levels)  # fmt: skip
        best, brk = self._capacity()
        if best is not None:
            if brk is None and best.level >= spec.max:
                return CapacityOutcome(
                    "at_least_max", best.level, f">= {spec.fmt(best.level)}", best, None, levels
                )
            return CapacityOutcome("found", best.level, spec.fmt(best.level), best, brk, levels)
        evidence = _lowest([r for r in levels if r.phase == SEARCH and not r.passed]) or brk
        return CapacityOutcome("below_start", None, f"< {spec.fmt(spec.start)}", evidence, brk, levels)


def _lowest(records: Sequence[LevelRecord]) -> LevelRecord | None:
    """The record with the lowest level (its latest run on a tie: the verdict that stands)."""
    return min(records, key=lambda r: (r.level, -r.index)) if records else None
