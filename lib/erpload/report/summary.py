"""The run summary: `build_summary` assembles a `RunSummary` (see `report.model`) at the end of a run.

The plugin builds it at `quitting` on the master and hands it to `erpload.report.write_reports`::

    summary = build_summary(snapshot, results, profile=ProfileInfo("smoke", "profiles/smoke.yaml", "..."),
                            exit_code=ExitCode.PASS, started_at=t0, ended_at=t1, host=host, workers=2,
                            errors=environment.stats.serialize_errors().values(),
                            exceptions=runner.exceptions.values(),  # Locust's, merged from the workers
                            timeline=timeline.to_dict(), resources={...}, notes=[...])

Every report renders only this object. A `lost_updates` / `duplicated_updates` rule's detail gets
the units beside the SKUs it counts ("observed 2 ... — 139 unit(s) lost on 2 SKU(s): ..."). The model's names are re-exported here (the old import path).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from erpload.core.errors import ExitCode
from erpload.core.snapshot import Snapshot
from erpload.core.stockcheck import units_note
from erpload.report import exceptions as user_exceptions
from erpload.report.model import (
    MAX_ERRORS,
    PERCENTILES,
    SCHEMA_VERSION,
    VERDICTS,
    EndpointSummary,
    ErrorSummary,
    ProfileInfo,
    RunSummary,
    SlaEntry,
    Stage,
    TimelineData,
    redact,
)
from erpload.report.stages_report import build_stages
from erpload.report.writer import write_atomic
from erpload.sla.evaluation import RuleResult

__all__ = [
    "MAX_ERRORS",
    "PERCENTILES",
    "SCHEMA_VERSION",
    "VERDICTS",
    "EndpointSummary",
    "ErrorSummary",
    "ProfileInfo",
    "RunSummary",
    "SlaEntry",
    "Stage",
    "TimelineData",
    "build_summary",
    "redact",
    "verdict_for",
    "write_atomic",
]

_VERDICTS_BY_CODE: dict[int, str] = {
    ExitCode.PASS: "pass",
    ExitCode.REQUEST_FAILURES: "fail",
    ExitCode.SLA_BREACHED: "fail",
    ExitCode.RUN_INVALID: "invalid",
    ExitCode.ABORTED: "aborted",
}


def verdict_for(exit_code: int) -> str:
    """The verdict word for an exit code: pass, fail, invalid, aborted, else error."""
    return _VERDICTS_BY_CODE.get(int(exit_code), "error")


def _iso(ts: float | str | datetime | None) -> str:
    if ts is None or isinstance(ts, str):
        return ts or ""
    dt = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def build_summary(
    snapshot: Snapshot,
    results: Iterable[RuleResult],
    *,
    exit_code: int,
    verdict: str | None = None,
    profile: ProfileInfo | None = None,
    started_at: float | str | datetime | None = None,
    ended_at: float | str | datetime | None = None,
    host: str = "",
    workers: int = 0,
    errors: Iterable[Mapping[str, Any]] = (),
    exceptions: Iterable[Mapping[str, Any]] = (),
    timeline: Mapping[str, Any] | None = None,
    baseline: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    load: Mapping[str, Any] | None = None,
    invalid: Iterable[Mapping[str, Any]] = (),
    notes: Iterable[str] = (),
    correctness: Mapping[str, Any] | None = None,
) -> RunSummary:
    """Assemble a RunSummary from a final snapshot, SLA results and run metadata."""
    dur, scheme = snapshot.duration_s, snapshot.bucket_scheme
    requests = sorted(snapshot.requests.values(), key=lambda s: (s.name, s.method))
    error_rows = sorted((ErrorSummary.from_locust(e) for e in errors), key=lambda e: -e.occurrences)
    out_notes = list(notes)
    if len(error_rows) > MAX_ERRORS:
        out_notes.append(
            f"errors: showing the {MAX_ERRORS} most frequent of {len(error_rows)} distinct errors"
        )
    kept, distinct = user_exceptions.from_locust(exceptions)
    if distinct > len(kept):
        out_notes.append(
            f"exceptions: showing the {len(kept)} most frequent of {distinct} distinct exceptions"
        )
    stock = (correctness or {}).get("stock")
    return RunSummary(
        verdict=verdict or verdict_for(exit_code),
        exit_code=int(exit_code),
        profile=profile or ProfileInfo(),
        started_at=_iso(started_at),
        ended_at=_iso(ended_at),
        duration_s=round(dur, 3),
        host=host,
        workers=workers,
        requests=[EndpointSummary.from_stats(s, dur, scheme) for s in requests],
        roles=[EndpointSummary.from_stats(s, dur, scheme) for _, s in sorted(snapshot.roles.items())],
        total=EndpointSummary.from_stats(snapshot.total_stats(), dur, scheme),
        errors=error_rows[:MAX_ERRORS],
        exceptions=kept,
        sla=[_with_units(SlaEntry.from_result(r), stock) for r in results],
        timeline=TimelineData.from_dict(timeline),
        baseline=dict(baseline) if baseline is not None else None,
        resources=dict(resources or {}),
        load=dict(load or {}),
        invalid=[dict(i) for i in invalid],
        notes=out_notes,
        correctness=dict(correctness or {}),
        stages=build_stages(snapshot),  # per-stage tables from snapshot.views["stage:NAME"]
    )


def _with_units(entry: SlaEntry, stock: Any) -> SlaEntry:
    """A lost/duplicated-updates rule counts SKUs: say the units beside them (2 SKUs can be 139 units)."""
    note = units_note(entry.metric, dict(stock)) if isinstance(stock, Mapping) else ""
    if note:
        entry.detail = f"{entry.detail} — {note}"
    return entry
