"""Compare a run with a baseline run, endpoint by endpoint (pure): backs --baseline and `erpload compare`.

    base = load_baseline("base/summary.json")          # before any load: ConfigError (exit 2) if unusable
    comparison = compare(load_baseline("new/summary.json", "current"), base)
    print(render_table(comparison, fmt="text"))        # or "markdown"
    exit_code = ExitCode.SLA_BREACHED if comparison.regressions else ExitCode.PASS
    summary.baseline = comparison.to_dict()            # reports render it via Comparison.from_dict

A regression: p95/p99 up by more than `tolerance` (and more than `latency_epsilon_ms`), rps down by
more than `tolerance`, error rate up by more than `tolerance` AND by more than `error_epsilon`
absolute (so 0 -> 0.01 % is noise, not a regression). The aggregate row is compared too.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from erpload.core.errors import ConfigError, Problem
from erpload.core.units import fmt_num, fmt_value
from erpload.report.model import EndpointSummary, RunSummary
from erpload.report.summary_check import FIX, summary_problems

METRICS = ("p95", "p99", "rps", "error_rate")
_KIND = {"p95": "latency", "p99": "latency", "rps": "rps", "error_rate": "rate"}


@dataclass
class Delta:
    """One metric of one endpoint: baseline vs current; `change` is relative (None if base is 0)."""

    metric: str
    baseline: float | None
    current: float | None
    change: float | None
    regressed: bool = False

    def text(self) -> str:
        """'212ms -> 240ms (+13.2%)'."""
        kind = _KIND.get(self.metric, "count")
        change = (
            ""
            if self.change is None
            else f" ({'+' if self.change >= 0 else ''}{fmt_num(self.change * 100)}%)"
        )
        return f"{fmt_value(kind, self.baseline)} -> {fmt_value(kind, self.current)}{change}"


@dataclass
class EndpointComparison:
    """All compared metrics of one endpoint (method + name)."""

    method: str
    name: str
    deltas: list[Delta] = field(default_factory=list)

    @property
    def label(self) -> str:
        """'GET /x' or 'Aggregated'."""
        return f"{self.method} {self.name}" if self.method else self.name

    @property
    def regressed(self) -> bool:
        """Any metric regressed."""
        return any(d.regressed for d in self.deltas)


@dataclass
class Comparison:
    """The outcome of `compare`; `regressions` is empty when nothing got worse."""

    tolerance: float
    error_epsilon: float
    latency_epsilon_ms: float
    endpoints: list[EndpointComparison] = field(default_factory=list)
    only_current: list[str] = field(default_factory=list)  # labels new in the current run
    only_baseline: list[str] = field(default_factory=list)  # labels the current run no longer has
    baseline_label: str = ""
    current_label: str = ""

    @property
    def regressions(self) -> list[tuple[EndpointComparison, Delta]]:
        """(endpoint, delta) for every regressed metric."""
        return [(e, d) for e in self.endpoints for d in e.deltas if d.regressed]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the `baseline` key of summary.json), with a flat `regressions` list for tools."""
        data = asdict(self)
        data["regressions"] = [{"label": e.label, **asdict(d)} for e, d in self.regressions]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        """Inverse of `to_dict`."""
        endpoints = [
            EndpointComparison(e["method"], e["name"], [Delta(**d) for d in e.get("deltas", [])])
            for e in data.get("endpoints", [])
        ]
        keys = ("only_current", "only_baseline", "baseline_label", "current_label")
        return cls(
            float(data["tolerance"]),
            float(data["error_epsilon"]),
            float(data["latency_epsilon_ms"]),
            endpoints,
            **{k: data[k] for k in keys if k in data},
        )


def load_baseline(path: str | os.PathLike[str], role: str = "baseline") -> dict[str, Any]:
    """Read and check a summary.json; ConfigError (exit 2) naming the file / JSON field otherwise."""
    p = Path(path)
    source = f"the {role} {p}"
    try:
        text = p.read_text(encoding="utf-8")
    except IsADirectoryError:
        hint = f"Did you mean {p / 'summary.json'}?" if (p / "summary.json").is_file() else FIX
        raise ConfigError(source, [Problem(str(p), "is a directory, not a summary.json", hint)]) from None
    except FileNotFoundError:
        raise ConfigError(source, [Problem(str(p), "no such file", FIX)]) from None
    except (OSError, UnicodeDecodeError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ConfigError(source, [Problem(str(p), f"cannot be read: {why}", FIX)]) from None
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except ValueError as e:
        where = f"{p}:{e.lineno}:{e.colno}" if isinstance(e, json.JSONDecodeError) else str(p)
        what = f"not valid JSON: {e.msg}" if isinstance(e, json.JSONDecodeError) else str(e)
        empty = " (the file is empty)" if not text.strip() else ""
        raise ConfigError(source, [Problem(where, what + empty, FIX)]) from None
    problems = summary_problems(data)
    if problems:
        raise ConfigError(source, problems)
    return data


def _no_constant(name: str) -> float:
    raise ValueError(f"not valid JSON: {name} is not a JSON number")


def _relative(base: float | None, cur: float | None) -> float | None:
    if base is None or cur is None or base == 0:
        return None
    return round((cur - base) / base, 6)


def _compare_endpoint(base: EndpointSummary, cur: EndpointSummary, c: Comparison) -> EndpointComparison:
    out = EndpointComparison(cur.method, cur.name)
    tol = c.tolerance
    for metric in ("p95", "p99"):
        b, n = getattr(base, metric), getattr(cur, metric)
        bad = b is not None and n is not None and n > b * (1 + tol) and n - b > c.latency_epsilon_ms
        out.deltas.append(Delta(metric, b, n, _relative(b, n), bad))
    b_rps, n_rps = base.rps, cur.rps
    out.deltas.append(
        Delta("rps", b_rps, n_rps, _relative(b_rps, n_rps), b_rps > 0 and n_rps < b_rps * (1 - tol))
    )
    b_err = base.error_rate if base.count else None
    n_err = cur.error_rate if cur.count else None
    bad = (
        b_err is not None
        and n_err is not None
        and n_err - b_err > c.error_epsilon
        and n_err > b_err * (1 + tol)
    )
    out.deltas.append(Delta("error_rate", b_err, n_err, _relative(b_err, n_err), bad))
    return out


def _summary(data: Mapping[str, Any] | RunSummary) -> RunSummary:
    return data if isinstance(data, RunSummary) else RunSummary.from_dict(data)


def _label(s: RunSummary) -> str:
    return " ".join(x for x in (s.profile.name, s.started_at) if x) or "run"


def compare(
    current: Mapping[str, Any] | RunSummary,
    baseline: Mapping[str, Any] | RunSummary,
    tolerance: float = 0.10,
    error_epsilon: float = 0.001,
    latency_epsilon_ms: float = 1.0,
) -> Comparison:
    """Compare two summaries (dicts as loaded from summary.json); raises ValueError for non-summaries."""
    if not 0 <= tolerance < 1:
        raise ValueError(f"tolerance must be within 0..1 (got {tolerance!r}; 0.10 means 10 %)")
    cur, base = _summary(current), _summary(baseline)
    c = Comparison(
        tolerance, error_epsilon, latency_epsilon_ms, baseline_label=_label(base), current_label=_label(cur)
    )
    base_by = {e.label: e for e in base.requests}
    cur_by = {e.label: e for e in cur.requests}
    for label in sorted(cur_by.keys() & base_by.keys()):
        c.endpoints.append(_compare_endpoint(base_by[label], cur_by[label], c))
    if base.total.count and cur.total.count:
        c.endpoints.append(_compare_endpoint(base.total, cur.total, c))
    c.only_current = sorted(cur_by.keys() - base_by.keys())
    c.only_baseline = sorted(base_by.keys() - cur_by.keys())
    return c


def render_table(
    comparison: Comparison, fmt: str = "text", only_regressions: bool = False, limit: int = 0
) -> str:
    """The comparison as an aligned text table or a Markdown table (regressed cells marked)."""
    if fmt not in ("text", "markdown"):
        raise ValueError(f"unknown format {fmt!r}; use 'text' or 'markdown'")
    md = fmt == "markdown"
    rows = [e for e in comparison.endpoints if e.regressed or not only_regressions]
    cut = len(rows) - limit if limit and len(rows) > limit else 0
    rows = rows[:limit] if cut else rows
    header = ["", "request", "p95", "p99", "rps", "error rate"]
    table: list[list[str]] = []
    for e in rows:
        cells = [
            ("**REGRESSED** " if md else "REGRESSED ") + d.text() if d.regressed else d.text()
            for d in e.deltas
        ]
        table.append(
            [
                "✗" if e.regressed else "✓",
                _md(e.label) if md else e.label,
                *[_md(x) if md else x for x in cells],
            ]
        )
    n = len(comparison.regressions)
    head = (
        f"Baseline {comparison.baseline_label} vs current {comparison.current_label}: "
        f"{n} regression(s), tolerance {fmt_num(comparison.tolerance * 100)}%"
    )
    lines = [_md(head) if md else head, ""]
    if not table:
        lines.append("No regressions." if only_regressions else "No endpoint in common.")
    elif md:
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in table]
    else:
        widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
        lines += ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
        lines += ["  ".join(x.ljust(w) for x, w in zip(r, widths, strict=True)).rstrip() for r in table]
    if cut:
        lines.append(f"... {cut} more endpoint(s) not shown")
    for what, labels in (
        ("only in current", comparison.only_current),
        ("only in baseline", comparison.only_baseline),
    ):
        if labels:
            shown = ", ".join(labels[:20]) + (f", ... ({len(labels)} in all)" if len(labels) > 20 else "")
            lines.append(f"{what}: {_md(shown) if md else shown}")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    """Escape Markdown table metacharacters in user-provided names."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
