"""The summary.json model (schema_version 1): dataclasses and their dict round-trip (pure).

`RunSummary.to_dict()` is summary.json; `RunSummary.from_dict()` reads it back (also for re-rendering
reports offline: `write_reports(RunSummary.from_dict(json.load(f)), "out/")`). Nothing here carries
request headers or tokens; error strings are redacted (`redact`).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, TypeVar

from erpload.core.histogram import bucket_bound
from erpload.core.snapshot import RequestStats
from erpload.report.exceptions import ExceptionSummary
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
    # unhandled exceptions in user code (erpload.report.exceptions)
    exceptions: list[ExceptionSummary] = field(default_factory=list)
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
    stages: list[dict[str, Any]] = field(default_factory=list)  # per stage: report.stages_report.StageSummary
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
        d["exceptions"] = [
            ExceptionSummary.from_dict(e) for e in d.get("exceptions") or [] if isinstance(e, Mapping)
        ]
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
