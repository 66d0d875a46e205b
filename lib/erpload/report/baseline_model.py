"""The result of a baseline comparison: per metric, per endpoint, per run (pure; `report.baseline` builds it).

summary.json's `baseline` key is `Comparison.to_dict()`; every report reads it back with
`Comparison.from_dict` (older summaries without verdict fields read back too: their deltas carry
only values and the `regressed` flag).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from erpload.core.units import fmt_num, fmt_value

VERDICTS = ("regressed", "improved", "unchanged", "inconclusive")
NOT_COMPARED = "not compared"
_KIND = {"p95": "latency", "p99": "latency", "rps": "rps", "error_rate": "rate"}


def fmt_effect(metric: str, value: float, signed: bool = True) -> str:
    """An effect in the metric's comparison unit: '+12ms' (latency), '+0.5pt' (error rate), '-12%' (rps)."""
    kind = _KIND.get(metric, "count")
    scaled = value * 100 if kind in ("rate", "rps") else value
    unit = {"latency": "ms", "rate": "pt", "rps": "%"}.get(kind, "")
    if value != value or abs(value) == float("inf"):
        return f"{'+' if value > 0 else '-'}inf{unit}" if value == value else "n/a"
    sign = ("+" if scaled > 0 else "-" if scaled < 0 else "±") if signed else ""
    return f"{sign}{fmt_num(abs(scaled))}{unit}"


@dataclass
class Delta:
    """One metric of one endpoint: baseline vs current, and the verdict with its evidence.

    `effect`, `ci_low`, `ci_high` and `floor` share one unit: ms for p95/p99, a fraction for the
    error rate (current - baseline), a relative change for rps (current / baseline - 1).
    """

    metric: str
    baseline: float | None
    current: float | None
    change: float | None  # relative (None if the baseline is 0)
    regressed: bool = False
    verdict: str = ""  # one of VERDICTS, or NOT_COMPARED; "" in summaries written before verdicts
    reason: str = ""  # why inconclusive / not compared: "n < 100", "closed model", ...
    effect: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    floor: float | None = None
    floor_from: str = ""  # what set the floor: tolerance | 1 ms | bucket | noise | epsilon
    n_baseline: int = 0
    n_current: int = 0

    @property
    def judged(self) -> bool:
        """A confidence interval was computed (the verdict is not for want of data)."""
        return self.ci_low is not None and self.ci_high is not None

    def values(self) -> str:
        """'212ms -> 240ms (+13.2%)'."""
        kind = _KIND.get(self.metric, "count")
        change = (
            ""
            if self.change is None
            else f" ({'+' if self.change >= 0 else ''}{fmt_num(self.change * 100)}%)"
        )
        return f"{fmt_value(kind, self.baseline)} -> {fmt_value(kind, self.current)}{change}"

    def evidence(self) -> str:
        """'Δ +12ms, CI [+11ms, +13ms], floor ±5.8ms', or why there is none ('n < 100')."""
        if self.judged and self.effect is not None and self.floor is not None:
            m = self.metric
            lo, hi = fmt_effect(m, self.ci_low or 0.0), fmt_effect(m, self.ci_high or 0.0)
            return (
                f"Δ {fmt_effect(m, self.effect)}, CI [{lo}, {hi}], floor ±{fmt_effect(m, self.floor, False)}"
            )
        if self.verdict == NOT_COMPARED:
            return NOT_COMPARED  # the reason is one note for the whole comparison
        return self.reason

    def text(self) -> str:
        """Values, then the evidence: '58ms -> 70ms (+20.7%); Δ +12ms, CI [+11ms, +13ms], floor ±5.8ms'."""
        evidence = self.evidence()
        return f"{self.values()}; {evidence}" if evidence else self.values()


@dataclass
class EndpointComparison:
    """All compared metrics of one endpoint (method + name), or of the aggregate."""

    method: str
    name: str
    deltas: list[Delta] = field(default_factory=list)
    n_baseline: int = 0
    n_current: int = 0

    @property
    def label(self) -> str:
        """'GET /x' or 'Aggregated'."""
        return f"{self.method} {self.name}" if self.method else self.name

    @property
    def regressed(self) -> bool:
        """Any metric regressed."""
        return any(d.regressed for d in self.deltas)

    @property
    def verdict(self) -> str:
        """regressed if any metric regressed, else improved if any improved, else p95's verdict."""
        words = [d.verdict for d in self.deltas]
        if self.regressed or "regressed" in words:
            return "regressed"
        if "improved" in words:
            return "improved"
        p95 = next((d for d in self.deltas if d.metric == "p95"), None)
        if p95 is None or not p95.verdict:
            return "unchanged"  # a summary written before verdicts: nothing regressed
        return p95.verdict

    @property
    def verdict_text(self) -> str:
        """'inconclusive (n < 100)', 'regressed', ..."""
        word = self.verdict
        p95 = next((d for d in self.deltas if d.metric == "p95"), None)
        if word == "inconclusive" and p95 is not None and p95.reason:
            return f"{word} ({p95.reason})"
        return word


@dataclass
class Comparison:
    """The outcome of `compare`: per-endpoint verdicts, the settings that produced them, notes."""

    tolerance: float
    error_epsilon: float
    latency_epsilon_ms: float
    endpoints: list[EndpointComparison] = field(default_factory=list)
    only_current: list[str] = field(default_factory=list)  # labels new in the current run
    only_baseline: list[str] = field(default_factory=list)  # labels the current run no longer has
    baseline_label: str = ""
    current_label: str = ""
    method: str = "bootstrap"  # how latency CIs were computed
    confidence: float = 0.95
    min_samples: int = 100  # MIN for p95 (p99 needs as many samples beyond it: 5x)
    resamples: int = 2000
    seed: int = 0
    rps_compared: bool = False
    baseline_runs: int = 1  # summaries pooled into the baseline (> 1: a noise band widens the floors)
    notes: list[str] = field(default_factory=list)

    @property
    def regressions(self) -> list[tuple[EndpointComparison, Delta]]:
        """(endpoint, delta) for every regressed metric."""
        return [(e, d) for e in self.endpoints for d in e.deltas if d.regressed]

    def counts(self) -> dict[str, int]:
        """Endpoints (the aggregate included) per verdict, in VERDICTS order."""
        out = dict.fromkeys(VERDICTS, 0)
        for e in self.endpoints:
            out[e.verdict] = out.get(e.verdict, 0) + 1
        return out

    @property
    def problem(self) -> str:
        """Why nothing could be judged ('' when at least one latency CI was computed): fail closed."""
        if not any(e.method for e in self.endpoints):  # the aggregate alone compares unrelated runs
            return "no endpoint in common with the baseline: nothing could be compared"
        if any(d.judged for e in self.endpoints for d in e.deltas if d.metric in ("p95", "p99")):
            return ""
        if not any(d.verdict for e in self.endpoints for d in e.deltas):
            return ""  # a comparison written before verdicts: judged by its flags
        return (
            f"no endpoint, not even the aggregate, has {self.min_samples} samples on both sides: "
            "the latencies could not be compared (run longer, or pool several baseline runs)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the `baseline` key of summary.json), with a flat `regressions` list for tools."""
        data = asdict(self)
        for e, row in zip(self.endpoints, data["endpoints"], strict=True):
            row["verdict"] = e.verdict_text
        data["regressions"] = [{"label": e.label, **asdict(d)} for e, d in self.regressions]
        data["counts"] = self.counts()
        data["problem"] = self.problem
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        """Inverse of `to_dict` (derived keys are ignored; missing new keys take their defaults)."""
        endpoints = [
            EndpointComparison(
                e["method"],
                e["name"],
                [Delta(**_known(Delta, d)) for d in e.get("deltas", [])],
                int(e.get("n_baseline") or 0),
                int(e.get("n_current") or 0),
            )
            for e in data.get("endpoints", [])
        ]
        rest = _known(cls, data, skip=("tolerance", "error_epsilon", "latency_epsilon_ms", "endpoints"))
        return cls(
            float(data["tolerance"]),
            float(data["error_epsilon"]),
            float(data["latency_epsilon_ms"]),
            endpoints,
            **rest,
        )


def _known(cls: type, data: Mapping[str, Any], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    names = {f.name for f in fields(cls)} - set(skip)
    return {k: v for k, v in data.items() if k in names}
