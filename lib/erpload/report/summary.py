"""The run summary (`summary.json`, schema_version 1): dataclasses, dict round-trip, atomic writes.

The plugin builds it at `quitting` on the master and hands it to `erpload.report.write_reports`::

    summary = build_summary(snapshot, results, profile=ProfileInfo("smoke", "profiles/smoke.yaml", "..."),
                            exit_code=ExitCode.PASS, started_at=t0, ended_at=t1, host=host, workers=2,
                            errors=environment.stats.serialize_errors().values(),
                            timeline=timeline.to_dict(), resources={...}, notes=[...])

Every report renders only this object, so `erpload report summary.json` can re-render offline.
Nothing here carries request headers or tokens; error strings are redacted (`redact`).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from erpload.core.errors import ExitCode
from erpload.core.histogram import bucket_bound
from erpload.core.snapshot import RequestStats, Snapshot
from erpload.sla.evaluation import RuleResult

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

SCHEMA_VERSION = 1
_T = TypeVar("_T", bound="DataclassInstance")
VERDICTS = ("pass", "fail", "invalid", "aborted", "error")
PERCENTILES = {"p50": 0.5, "p75": 0.75, "p90": 0.9, "p95": 0.95, "p99": 0.99, "p99_9": 0.999}
MAX_ERRORS = 500  # distinct error rows kept (most frequent first)
_SECRETS = [
    (re.compile(r"(?i)\b(bearer\s+)[\w\-.~+/]+=*"), r"\1[redacted]"),
    (re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]*"), "[redacted-jwt]"),
    (
        re.compile(
            r"(?i)\b((?:password|passwd|token|access_token|secret|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"
        ),
        r"\1[redacted]",
    ),
]


def redact(text: str) -> str:
    """Mask bearer tokens, JWTs and password/token/secret assignments in a free-text string."""
    for pattern, repl in _SECRETS:
        text = pattern.sub(repl, text)
    return text


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


def _from(cls: type[_T], data: Mapping[str, Any]) -> _T:
    """Build a dataclass from a dict, ignoring unknown keys (forward compatible within a version)."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class EndpointSummary:
    """Stats of one request, one role (method "ROLE") or the total (name "Aggregated"); times in ms."""

    method: str
    name: str
    count: int = 0
    failures: int = 0
    rps: float = 0.0
    avg: float | None = None
    min: float | None = None
    max: float | None = None
    p50: float | None = None
    p75: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    p99_9: float | None = None
    bounds: dict[str, float] = field(default_factory=dict)  # percentile key -> ± ms
    histogram: dict[str, int] = field(default_factory=dict)  # bucket (ms) -> count
    users: int | None = None  # roles only

    @property
    def label(self) -> str:
        """'GET /x' (the SLA join key)."""
        return f"{self.method} {self.name}" if self.method and self.method != "ROLE" else self.name

    @property
    def error_rate(self) -> float:
        """failures / count (0 without requests)."""
        return self.failures / self.count if self.count else 0.0

    @classmethod
    def from_stats(
        cls, stats: RequestStats, duration_s: float, bucket_scheme: str = "fine"
    ) -> EndpointSummary:
        """Summarise one `RequestStats` over a run of `duration_s`."""
        out = cls(stats.method, stats.name, stats.count, stats.failures, users=stats.users)
        out.rps = round(stats.count / duration_s, 3) if duration_s > 0 else 0.0
        out.avg = None if stats.avg_ms is None else round(stats.avg_ms, 3)
        out.min, out.max = stats.min_ms, stats.max_ms
        for key, p in PERCENTILES.items():
            value = stats.percentile(p)
            setattr(out, key, value)
            if value is not None:
                out.bounds[key] = bucket_bound(value, bucket_scheme)
        out.histogram = stats.histogram.to_dict()
        return out


@dataclass
class ErrorSummary:
    """One distinct error: where, what (redacted), how often."""

    method: str
    name: str
    error: str
    occurrences: int

    @classmethod
    def from_locust(cls, row: Mapping[str, Any]) -> ErrorSummary:
        """From a `StatsError.serialize()` dict (`environment.stats.serialize_errors().values()`)."""
        return cls(
            row.get("method") or "",
            row.get("name") or "",
            redact(str(row.get("error"))),
            int(row["occurrences"]),
        )


@dataclass
class SlaEntry:
    """One evaluated rule as stored in the summary (threshold/observed in canonical units)."""

    rule: str
    metric: str
    scope: str  # 'all', '"GET /x"' or 'role CuttingOperator'
    op: str
    threshold: float | bool
    observed: float | bool | None
    passed: bool
    detail: str
    bound: float | None = None
    kind: str = "latency"  # latency | rate | rps | count | bool | duration (how to display values)
    window: str = "all"
    abort: bool = False
    name: str = ""

    @classmethod
    def from_result(cls, r: RuleResult) -> SlaEntry:
        """From an `sla_eval.RuleResult`."""
        rule = r.rule
        return cls(
            rule=rule.text,
            metric=rule.metric,
            scope=rule.scope_text,
            op=rule.op,
            threshold=rule.threshold,
            observed=r.observed,
            passed=r.passed,
            detail=r.detail,
            bound=r.bound,
            kind=rule.kind,
            window=rule.window,
            abort=rule.abort,
            name=rule.name,
        )


@dataclass
class Stage:
    """A stage boundary on the timeline (seconds since start)."""

    name: str
    start_s: float
    end_s: float | None = None
    index: int | None = None


@dataclass
class TimelineData:
    """Series over time for the charts; accepts `erpload.core.timeline.Timeline.to_dict()` as is."""

    t: list[float] = field(default_factory=list)
    users: list[int] = field(default_factory=list)
    rps: list[float] = field(default_factory=list)
    fail_rate: list[float] = field(default_factory=list)  # fraction
    p50: list[float | None] = field(default_factory=list)
    p95: list[float | None] = field(default_factory=list)
    p99: list[float | None] = field(default_factory=list)
    dt: list[float] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # {t, text}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> TimelineData:
        """Inverse of `asdict`; missing series are empty."""
        data = dict(data or {})
        stages = [_from(Stage, s) for s in data.pop("stages", None) or []]
        events = [dict(e) for e in data.pop("events", None) or []]
        return _from(cls, {**data, "stages": stages, "events": events})


@dataclass
class ProfileInfo:
    """Which load profile ran."""

    name: str = ""
    file: str = ""
    description: str = ""


@dataclass
class RunSummary:
    """Everything the reports show; `to_dict()` is summary.json."""

    verdict: str  # one of VERDICTS
    exit_code: int
    profile: ProfileInfo = field(default_factory=ProfileInfo)
    started_at: str = ""  # ISO-8601 UTC
    ended_at: str = ""
    duration_s: float = 0.0
    host: str = ""
    workers: int = 0
    requests: list[EndpointSummary] = field(default_factory=list)
    roles: list[EndpointSummary] = field(default_factory=list)
    total: EndpointSummary = field(default_factory=lambda: EndpointSummary("", "Aggregated"))
    errors: list[ErrorSummary] = field(default_factory=list)
    sla: list[SlaEntry] = field(default_factory=list)
    timeline: TimelineData = field(default_factory=TimelineData)
    baseline: dict[str, Any] | None = None  # baseline.Comparison.to_dict()
    resources: dict[str, Any] = field(default_factory=dict)  # free-form, filled by the resources monitor
    load: dict[str, Any] = field(
        default_factory=dict
    )  # model, per-role users, planned/started/dropped iterations
    invalid: list[dict[str, Any]] = field(
        default_factory=list
    )  # why the run is INVALID: {reason, detail, at_s}
    correctness: dict[str, Any] = field(
        default_factory=dict
    )  # stock ledger check, RBAC per role, recovery (free-form)
    notes: list[str] = field(default_factory=list)
    schema_version: int = SCHEMA_VERSION

    @property
    def failed_rules(self) -> list[SlaEntry]:
        """The SLA entries that did not pass."""
        return [s for s in self.sla if not s.passed]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict, schema_version first."""
        data = asdict(self)
        return {"schema_version": data.pop("schema_version"), **data}

    def to_json(self) -> str:
        """summary.json text."""
        return json.dumps(_finite(self.to_dict()), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        """Inverse of `to_dict`; raises ValueError for a non-summary or a newer schema."""
        version = data.get("schema_version") if isinstance(data, Mapping) else None
        if not isinstance(version, int):
            raise ValueError("not an erpload summary.json (no integer schema_version)")
        if version > SCHEMA_VERSION:
            raise ValueError(
                f"summary schema_version {version} is newer than this erpload reads ({SCHEMA_VERSION})"
            )
        d = dict(data)
        d["profile"] = _from(ProfileInfo, d.get("profile") or {})
        d["requests"] = [_from(EndpointSummary, r) for r in d.get("requests") or []]
        d["roles"] = [_from(EndpointSummary, r) for r in d.get("roles") or []]
        d["total"] = _from(EndpointSummary, d.get("total") or {"method": "", "name": "Aggregated"})
        d["errors"] = [_from(ErrorSummary, e) for e in d.get("errors") or []]
        d["sla"] = [_from(SlaEntry, s) for s in d.get("sla") or []]
        d["timeline"] = TimelineData.from_dict(d.get("timeline"))
        return _from(cls, d)


def _finite(value: Any) -> Any:
    """NaN/inf -> None, recursively (strict JSON; resources are free-form)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


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
        sla=[SlaEntry.from_result(r) for r in results],
        timeline=TimelineData.from_dict(timeline),
        baseline=dict(baseline) if baseline is not None else None,
        resources=dict(resources or {}),
        load=dict(load or {}),
        invalid=[dict(i) for i in invalid],
        notes=out_notes,
        correctness=dict(correctness or {}),
    )


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write via a temp file in the same directory + fsync + os.replace: readers never see half a file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # persist the rename itself; not possible on every platform/filesystem
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return target
