"""Compare a run with a baseline, endpoint by endpoint, statistically (pure): backs --baseline and `erpload compare`.

    base = load_baseline("base/summary.json")          # before any load: ConfigError (exit 2) if unusable
    comparison = compare(load_baseline("new/summary.json", "current"), base)   # or [base1, base2, ...]
    print(render_table(comparison, fmt="text"))        # or "markdown"
    exit_code = 4 if comparison.problem else 3 if comparison.regressions else 0
    summary.baseline = comparison.to_dict()            # reports render it via Comparison.from_dict

Per endpoint (and the aggregate) a verdict: `regressed`, `improved`, `unchanged` or `inconclusive`
(`n < MIN`, or a CI that reaches past the floor), from these metrics:
- p95, p99: a bootstrap CI of the percentile difference, resampled from the latency histograms
  (`report.regression` says why a bootstrap and not a rank test). Judged only when both sides hold
  MIN samples (default 100) for p95; p99 needs as many samples beyond it (5 x MIN).
- error rate: Newcombe's CI of the difference, at any n (an endpoint that now always fails is caught).
- rps: only for open-model runs (`load.model` is "open" on both sides) or when asked
  (`compare_rps=True`): in a closed model rps is mostly think time and says nothing about the target.
A metric regresses when its whole CI lies beyond the effect-size floor: the tolerance (relative,
default 10 %), never under max(1 ms, the histogram bucket width at that value); for the error rate
never under `error_epsilon` (0.1 point). Several baseline runs are pooled (histograms and counts
add) and their spread widens the floor (`regression.noise_band`): the bootstrap knows only the
sampling noise inside a run; N runs also show how far a whole run moves (host load, caches, data).
Requests cut off at stop ("in flight at stop") are left out of the error-rate comparison.
Resampling is seeded per endpoint and metric: the same inputs, the same verdict.
"""

from __future__ import annotations

import math
import random
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from erpload.core.histogram import Histogram, bucket_bound
from erpload.report import regression as stats
from erpload.report.baseline_load import check_options, load_baseline
from erpload.report.baseline_model import NOT_COMPARED, VERDICTS, Comparison, Delta, EndpointComparison
from erpload.report.baseline_table import render_table
from erpload.report.model import EndpointSummary, RunSummary

__all__ = [
    "METRICS",
    "MIN_SAMPLES",
    "VERDICTS",
    "Comparison",
    "Delta",
    "EndpointComparison",
    "check_options",
    "compare",
    "load_baseline",
    "render_table",
]

METRICS = ("p95", "p99", "rps", "error_rate")
LATENCY = {"p95": 0.95, "p99": 0.99}
MIN_SAMPLES = 100  # for p95: 5 samples beyond it; p99 needs the same 5 beyond it (500)
_TAIL = 0.05
IN_FLIGHT = "InFlightAtStop("


@dataclass
class _Pool:
    """One endpoint over the baseline runs: pooled histogram and counts, plus each run for the noise band."""

    rows: list[EndpointSummary] = field(default_factory=list)
    secs: list[float] = field(default_factory=list)
    cut: list[int] = field(default_factory=list)  # requests cut off at stop (in flight), per run

    @property
    def count(self) -> int:
        return sum(r.count for r in self.rows)

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self.rows)

    @property
    def duration(self) -> float:
        return sum(self.secs)

    def histogram(self) -> Histogram:
        out = Histogram()
        for r in self.rows:
            out = out.merge(_hist(r))
        return out


def _hist(row: EndpointSummary) -> Histogram:
    return Histogram.from_dict(row.histogram or {}, row.min, row.max)


def _summary(data: Mapping[str, Any] | RunSummary) -> RunSummary:
    return data if isinstance(data, RunSummary) else RunSummary.from_dict(data)


def _label(s: RunSummary) -> str:
    return " ".join(x for x in (s.profile.name, s.started_at) if x) or "run"


def _cut_off(s: RunSummary) -> dict[str, int]:
    """Failures per label that are requests cut off when the run stopped ("in flight at stop"): the end
    of the run, not the target's answer; left out of the error-rate comparison (the SLA still counts them).
    Matched by the exception's repr, as erpload.users.inflight writes it (a layer above this one)."""
    out: dict[str, int] = {}
    for e in s.errors:
        if e.error.startswith(IN_FLIGHT):
            label = f"{e.method} {e.name}" if e.method else e.name
            out[label] = out.get(label, 0) + e.occurrences
            out["Aggregated"] = out.get("Aggregated", 0) + e.occurrences
    return out


def _rows(s: RunSummary) -> dict[str, EndpointSummary]:
    rows = {e.label: e for e in s.requests}
    if s.total.count:
        rows["Aggregated"] = s.total
    return rows


def _seed(seed: int, label: str, metric: str) -> random.Random:
    return random.Random(seed ^ zlib.crc32(f"{label}|{metric}".encode()))


def _floor(candidates: dict[str, float], runs: list[float], c: Comparison) -> tuple[float, str]:
    """The largest candidate, the noise band of the baseline runs' own values included; and its name."""
    band = stats.noise_band(runs, c.confidence)
    candidates = {**candidates, "noise": band} if band is not None else candidates
    source = max(candidates, key=lambda k: candidates[k])
    return candidates[source], source


def _latency(metric: str, pool: _Pool, cur: EndpointSummary, c: Comparison, label: str) -> Delta:
    q = LATENCY[metric]
    bh, ch = pool.histogram(), _hist(cur)
    bv = bh.percentile(q) if bh.count else getattr(pool.rows[0], metric) if len(pool.rows) == 1 else None
    cv = ch.percentile(q) if ch.count else getattr(cur, metric)
    change = round((cv - bv) / bv, 6) if bv and cv is not None else None
    d = Delta(metric, bv, cv, change, n_baseline=pool.count, n_current=cur.count)
    need = math.ceil(c.min_samples * _TAIL / (1 - q) - 1e-9)
    if min(pool.count, cur.count) < need:
        d.verdict, d.reason = "inconclusive", f"n < {need}"
        return d
    if not bh.count or not ch.count or bv is None or cv is None:
        d.verdict, d.reason = "inconclusive", "no latency histogram"
        return d
    ci = stats.percentile_diff(bh, ch, q, _seed(c.seed, label, metric), c.confidence, c.resamples)
    bounds = [bucket_bound(bv)] + [r.bounds.get(metric, 0.0) for r in (*pool.rows, cur)]
    floors = {"tolerance": c.tolerance * bv, "1 ms": c.latency_epsilon_ms, "bucket": 2 * max(bounds)}
    runs = [float(_hist(r).percentile(q) or 0.0) for r in pool.rows if r.count >= need]
    d.floor, d.floor_from = _floor(floors, runs, c)
    d.effect, d.ci_low, d.ci_high = ci.estimate, ci.low, ci.high
    d.verdict, d.reason = stats.judge(ci, d.floor)
    return d


def _error_rate(pool: _Pool, cur: EndpointSummary, cur_cut: int, c: Comparison) -> Delta:
    cut = sum(pool.cut)
    kb, nb = max(0, pool.failures - cut), max(0, pool.count - cut)
    kc, nc = max(0, cur.failures - cur_cut), max(0, cur.count - cur_cut)
    bv, cv = (kb / nb if nb else None), (kc / nc if nc else None)
    change = round((cv - bv) / bv, 6) if bv and cv is not None else None
    d = Delta("error_rate", bv, cv, change, n_baseline=nb, n_current=nc)
    if bv is None or cv is None:
        d.verdict, d.reason = "inconclusive", "no completed requests"
        return d
    ci = stats.proportion_diff(kb, nb, kc, nc, c.confidence)
    floors = {"epsilon": c.error_epsilon, "tolerance": c.tolerance * bv}
    runs = [
        ((r.failures - k) / (r.count - k)) for r, k in zip(pool.rows, pool.cut, strict=True) if r.count > k
    ]
    d.floor, d.floor_from = _floor(floors, runs, c)
    d.effect, d.ci_low, d.ci_high = ci.estimate, ci.low, ci.high
    d.verdict, d.reason = stats.judge(ci, d.floor)
    return d


def _rps(pool: _Pool, cur: EndpointSummary, cur_secs: float, c: Comparison, why_not: str) -> Delta:
    tb, tc = pool.duration, cur_secs
    bv = round(pool.count / tb, 3) if tb > 0 else (pool.rows[0].rps if len(pool.rows) == 1 else None)
    cv = round(cur.count / tc, 3) if tc > 0 else cur.rps
    change = round((cv - bv) / bv, 6) if bv and cv is not None else None
    d = Delta("rps", bv, cv, change, n_baseline=pool.count, n_current=cur.count)
    if not c.rps_compared:
        d.verdict, d.reason = NOT_COMPARED, why_not
        return d
    if tb <= 0 or tc <= 0 or not pool.count:
        d.verdict, d.reason = "inconclusive", "no duration or no baseline requests"
        return d
    ci = stats.rate_ratio(pool.count, tb, cur.count, tc, c.confidence)
    floors = {"tolerance": c.tolerance}
    runs = [r.count / s / (pool.count / tb) for r, s in zip(pool.rows, pool.secs, strict=True) if s > 0]
    d.floor, d.floor_from = _floor(floors, runs, c)
    d.effect, d.ci_low, d.ci_high = ci.estimate, ci.low, ci.high
    d.verdict, d.reason = stats.judge(ci, d.floor, higher_is_worse=False)
    return d


def _check(tolerance: float, latency_epsilon_ms: float, min_samples: int, resamples: int) -> None:
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be within 0..1 (got {tolerance!r}; 0.10 means 10 %)")
    if not latency_epsilon_ms >= 1.0:
        raise ValueError(
            f"latency_epsilon_ms must be >= 1 ms, the floor's minimum (got {latency_epsilon_ms!r})"
        )
    if not (isinstance(min_samples, int) and min_samples >= 20):
        raise ValueError(f"min_samples must be a whole number >= 20 (got {min_samples!r})")
    if not (isinstance(resamples, int) and 100 <= resamples <= 100_000):
        raise ValueError(f"resamples must be within 100..100000 (got {resamples!r})")


def compare(
    current: Mapping[str, Any] | RunSummary,
    baseline: Mapping[str, Any] | RunSummary | Sequence[Mapping[str, Any] | RunSummary],
    tolerance: float = 0.10,
    error_epsilon: float = 0.001,
    latency_epsilon_ms: float = 1.0,
    *,
    min_samples: int = MIN_SAMPLES,
    confidence: float = 0.95,
    compare_rps: bool | None = None,
    seed: int = 0,
    resamples: int = stats.RESAMPLES,
) -> Comparison:
    """Compare a run with one baseline summary or several (pooled, with a noise band).

    Summaries are dicts as loaded from summary.json (or RunSummary). `compare_rps`: None compares rps
    only when both sides are open-model runs; True / False force it. Raises ValueError for a
    non-summary or an out-of-range setting.
    """
    _check(tolerance, latency_epsilon_ms, min_samples, resamples)
    stats.z_value(confidence)
    bases = [baseline] if isinstance(baseline, Mapping | RunSummary) else list(baseline)
    if not bases:
        raise ValueError("no baseline summary given")
    cur, base = _summary(current), [_summary(b) for b in bases]
    open_model = all(s.load.get("model") == "open" for s in (cur, *base))
    rps = open_model if compare_rps is None else bool(compare_rps)
    why_not = "closed model (rps is mostly think time)" if not open_model else "not asked"
    c = Comparison(
        tolerance,
        error_epsilon,
        latency_epsilon_ms,
        baseline_label=_label(base[0]) + (f" (+{len(base) - 1} pooled)" if len(base) > 1 else ""),
        current_label=_label(cur),
        confidence=confidence,
        min_samples=min_samples,
        resamples=resamples,
        seed=seed,
        rps_compared=rps,
        baseline_runs=len(base),
    )
    pools: dict[str, _Pool] = {}
    for s in base:
        cut = _cut_off(s)
        for label, row in _rows(s).items():
            pool = pools.setdefault(label, _Pool())
            pool.rows.append(row)
            pool.secs.append(s.duration_s)
            pool.cut.append(min(cut.get(label, 0), row.failures))
    cur_rows, cur_cut = _rows(cur), _cut_off(cur)
    common = sorted(k for k in cur_rows.keys() & pools.keys() if k != "Aggregated")
    for label in [*common, *(["Aggregated"] if "Aggregated" in cur_rows.keys() & pools.keys() else [])]:
        pool, row = pools[label], cur_rows[label]
        e = EndpointComparison(row.method, row.name, n_baseline=pool.count, n_current=row.count)
        e.deltas = [
            _latency("p95", pool, row, c, label),
            _latency("p99", pool, row, c, label),
            _rps(pool, row, cur.duration_s, c, why_not),
            _error_rate(pool, row, min(cur_cut.get(label, 0), row.failures), c),
        ]
        for d in e.deltas:
            d.regressed = d.verdict == "regressed"
        c.endpoints.append(e)
    c.only_current = sorted(cur_rows.keys() - pools.keys() - {"Aggregated"})
    c.only_baseline = sorted(pools.keys() - cur_rows.keys() - {"Aggregated"})
    c.notes = _notes(c, cur, base, why_not)
    return c


def _notes(c: Comparison, cur: RunSummary, base: list[RunSummary], why_not: str) -> list[str]:
    notes = []
    if not c.rps_compared:
        notes.append(f"rps not compared: {why_not}; --baseline-rps (erpload compare --rps) compares it")
    if len(base) > 1:
        notes.append(f"baseline: {len(base)} runs pooled; their spread widens each floor (noise band)")
    names = {s.profile.name for s in base} - {cur.profile.name}
    if names:
        notes.append(
            f"profiles differ: baseline {', '.join(sorted(names))}, current {cur.profile.name or '-'}"
        )
    if c.problem:
        notes.append(f"not evaluated: {c.problem}")
    return notes
