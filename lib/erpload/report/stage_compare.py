"""Stage-by-stage comparison of a run with baselines (pure): backs `erpload compare --by-stage`.

    result = compare_by_stage(current, [base], tolerance=0.10)    # summary.json dicts or RunSummary
    print(render(result, fmt="text"))
    exit_code = result.exit_code()                                  # 3 regression, 4 not evaluable, 0

Stages are matched by name. Each matched stage is compared with `report.baseline.compare`, the very
per-endpoint comparator of the whole-run gate (bootstrap CIs of p95/p99, error-rate and rps CIs),
fed with that stage's endpoint rows and duration (a stage of several baseline runs is pooled like a
whole run). Stages found on one side only are named. Fail closed: a summary without per-stage
tables, no stage in common, or a matched stage that could not be judged (too few samples) makes the
result not evaluable (exit 4) unless a regression was found (exit 3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from erpload.core.errors import ExitCode
from erpload.report.baseline import Comparison, compare, render_table
from erpload.report.model import RunSummary
from erpload.report.stages_report import RAMP_MARK, StageSummary, parse_stages

__all__ = ["StageComparison", "compare_by_stage", "render", "stage_summary"]


@dataclass
class StageComparison:
    """Per matched stage (current order) its Comparison; the unmatched stage names; problems."""

    stages: list[tuple[StageSummary, Comparison]] = field(default_factory=list)
    only_current: list[str] = field(default_factory=list)
    only_baseline: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> int:
        return sum(len(c.regressions) for _, c in self.stages)

    @property
    def problem(self) -> str:
        """Why the stage comparison is not a pass when nothing regressed ('' when fully evaluated)."""
        out = list(self.problems)
        if not self.stages and not out:
            out.append("no stage in common with the baseline (stages are matched by name)")
        out += [f"stage {st.name!r}: {c.problem}" for st, c in self.stages if c.problem]
        return "; ".join(out)

    def exit_code(self) -> ExitCode:
        if self.regressions:
            return ExitCode.SLA_BREACHED
        return ExitCode.RUN_INVALID if self.problem else ExitCode.PASS


def _summary(data: Mapping[str, Any] | RunSummary) -> RunSummary:
    return data if isinstance(data, RunSummary) else RunSummary.from_dict(data)


def stage_summary(run: RunSummary, stage: StageSummary) -> RunSummary:
    """A run summary holding one stage's rows and duration: what `compare` takes."""
    return RunSummary(
        verdict=run.verdict,
        exit_code=run.exit_code,
        profile=run.profile,
        started_at=run.started_at,
        duration_s=stage.duration_s,
        requests=list(stage.requests),
        roles=list(stage.roles),
        total=stage.total,
        load=dict(run.load),
    )


def _stages(run: RunSummary, which: str, problems: list[str]) -> dict[str, StageSummary]:
    parsed, problem = parse_stages(run.stages)
    if problem:
        problems.append(f"{which}: {problem}")
    if not parsed and not problem:
        problems.append(
            f"{which} ({run.profile.name or 'run'} {run.started_at}) has no per-stage tables: "
            "it ran without a load profile's stages, or with an erpload older than per-stage numbers"
        )
    return {s.name: s for s in parsed}


def compare_by_stage(
    current: Mapping[str, Any] | RunSummary,
    baseline: Mapping[str, Any] | RunSummary | Sequence[Mapping[str, Any] | RunSummary],
    **options: Any,
) -> StageComparison:
    """Compare stage by stage; `options` are `report.baseline.compare`'s (tolerance, min_samples, ...)."""
    bases = [baseline] if isinstance(baseline, Mapping | RunSummary) else list(baseline)
    if not bases:
        raise ValueError("no baseline summary given")
    cur, base = _summary(current), [_summary(b) for b in bases]
    out = StageComparison()
    cur_stages = _stages(cur, "the current run", out.problems)
    base_stages = [_stages(b, f"baseline {i + 1}", out.problems) for i, b in enumerate(base)]
    names_base = set().union(*(set(s) for s in base_stages)) if base_stages else set()
    for name, stage in cur_stages.items():
        pool = [stage_summary(b, s[name]) for b, s in zip(base, base_stages, strict=True) if name in s]
        if pool:
            out.stages.append((stage, compare(stage_summary(cur, stage), pool, **options)))
    out.only_current = [n for n in cur_stages if n not in names_base]
    out.only_baseline = sorted(names_base - set(cur_stages))
    return out


def render(result: StageComparison, fmt: str = "text") -> str:
    """One comparison table per matched stage, then the unmatched stages and the verdict line."""
    md = fmt == "markdown"
    lines: list[str] = []
    for stage, comparison in result.stages:
        mark = f" {RAMP_MARK}" if stage.ramp else ""
        title = f"stage {stage.name}{mark} ({stage.duration_s:g} s)"
        lines += [f"## {title}" if md else f"== {title} ==", render_table(comparison, fmt=fmt)]
    if result.only_current:
        lines.append(f"stages only in current: {', '.join(result.only_current)}")
    if result.only_baseline:
        lines.append(f"stages only in baseline: {', '.join(result.only_baseline)}")
    problem = result.problem
    if result.regressions:
        lines.append(
            f"by stage: {result.regressions} regression(s) in {len(result.stages)} stage(s) compared"
        )
    elif problem:
        lines.append(f"by stage: not evaluated: {problem}")
    else:
        lines.append(f"by stage: no regression in {len(result.stages)} stage(s) compared")
    return "\n".join(lines) + "\n"
