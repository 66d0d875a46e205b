"""Per-stage tables (pure): summary.json's `stages`, and their sections in summary.md and report.html.

A profile's stages (a ramp-up, a steady peak, ...) side by side, per endpoint and per role: count,
rps, p50/p95/p99 and error rate. A ramp stage (one whose user count or arrival rate changes during
it) is marked. The numbers come from per-stage windows of the same fine, mergeable histograms as
the whole-run table (erpload.core.stagebook, filled by erpload.locust.stage_stats), so the stages
of a run add up exactly to the whole run::

    stages = build_stages(snapshot)          # snapshot.views["stage:NAME"] -> [StageSummary dict]
    lines += markdown_lines(summary.stages, table)
    parts.append(html_section(summary.stages))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from html import escape
from typing import Any

from erpload.core.snapshot import Snapshot
from erpload.core.stagebook import VIEW_PREFIX
from erpload.core.units import fmt_num, fmt_value
from erpload.report.model import EndpointSummary, _from

RAMP_MARK = "↗ ramp"
MAX_ROWS = 50  # endpoints shown per table (busiest first); summary.json has them all
NUM = ' class="num"'


@dataclass
class StageSummary:
    """One stage of a run: where it sits on the run clock, whether it ramps, and its tables."""

    name: str
    index: int
    start_s: float
    end_s: float
    duration_s: float
    ramp: bool
    total: EndpointSummary
    requests: list[EndpointSummary] = field(default_factory=list)
    roles: list[EndpointSummary] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StageSummary:
        """Inverse of `to_dict`; ValueError for a malformed stage."""
        try:
            return cls(
                name=str(data["name"]),
                index=int(data["index"]),
                start_s=float(data["start_s"]),
                end_s=float(data["end_s"]),
                duration_s=float(data["duration_s"]),
                ramp=bool(data["ramp"]),
                total=_endpoint(data["total"]),
                requests=[_endpoint(r) for r in data.get("requests") or []],
                roles=[_endpoint(r) for r in data.get("roles") or []],
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"malformed stage {str(data.get('name', '?'))[:60]!r}: {e}") from None


def _endpoint(data: Mapping[str, Any]) -> EndpointSummary:
    return _from(EndpointSummary, data)  # the model's forward-compatible reader


def build_stages(snapshot: Snapshot) -> list[dict[str, Any]]:
    """summary.json's `stages`: one StageSummary dict per `stage:NAME` view, in run order."""
    out = []
    scheme = snapshot.bucket_scheme
    for key, view in snapshot.views.items():
        if not key.startswith(VIEW_PREFIX):
            continue
        dur, extra = view.duration_s, view.extra
        requests = sorted(view.requests.values(), key=lambda s: (s.name, s.method))
        total = view.total_stats()
        total.method, total.name = "", "Aggregated"
        stage = StageSummary(
            name=key[len(VIEW_PREFIX) :],
            index=int(extra.get("index", len(out))),
            start_s=round(float(extra.get("start_s", 0.0)), 3),
            end_s=round(float(extra.get("end_s", 0.0)), 3),
            duration_s=round(dur, 3),
            ramp=bool(extra.get("ramp", False)),
            total=EndpointSummary.from_stats(total, dur, scheme),
            requests=[EndpointSummary.from_stats(s, dur, scheme) for s in requests],
            roles=[EndpointSummary.from_stats(s, dur, scheme) for _, s in sorted(view.roles.items())],
        )
        out.append(stage.to_dict())
    return sorted(out, key=lambda s: s["index"])


def parse_stages(stages: Sequence[Mapping[str, Any]] | None) -> tuple[list[StageSummary], str]:
    """(stages, problem): a report renders what it can read and says what it could not."""
    out, problems = [], []
    for data in stages or []:
        try:
            out.append(StageSummary.from_dict(data))
        except (ValueError, AttributeError) as e:
            problems.append(str(e))
    return out, "; ".join(problems)


def stage_label(stage: StageSummary) -> str:
    """'ramp-up ↗ ramp (0–30 s)' / 'peak (30–90 s)'."""
    mark = f" {RAMP_MARK}" if stage.ramp else ""
    return f"{stage.name}{mark} ({fmt_num(stage.start_s)}–{fmt_num(stage.end_s)} s)"


def _ms(e: EndpointSummary, key: str) -> str:
    value = getattr(e, key)
    return "–" if value is None else fmt_value("latency", value)  # bucket bounds: in summary.json


def _cells(e: EndpointSummary) -> list[str]:
    return [
        str(e.count),
        fmt_num(e.rps),
        _ms(e, "p50"),
        _ms(e, "p95"),
        _ms(e, "p99"),
        fmt_value("rate", e.error_rate) if e.count else "–",
    ]


HEADER = ["count", "rps", "p50", "p95", "p99", "error rate"]


def rows(stages: list[StageSummary], what: str, limit: int = MAX_ROWS) -> tuple[list[list[str]], int]:
    """Table rows [label, stage, cells...] grouped by endpoint ("requests") or role ("roles").

    Endpoints are ordered by their whole-run count (busiest first) and cut to `limit`; the second
    value is how many were left out. "requests" starts with the all-requests row of each stage.
    """
    by_label: dict[str, dict[int, EndpointSummary]] = {}
    for st in stages:
        for e in getattr(st, what):
            by_label.setdefault(e.label, {})[st.index] = e
    order = sorted(by_label, key=lambda k: (-sum(e.count for e in by_label[k].values()), k))
    cut = max(0, len(order) - limit)
    out = []
    if what == "requests":
        out += [["all requests", stage_label(st), *_cells(st.total)] for st in stages]
    for label in order[:limit]:
        for st in stages:
            e = by_label[label].get(st.index)
            if e is not None:
                out.append([label, stage_label(st), *_cells(e)])
    return out, cut


def markdown_lines(stages: Sequence[Mapping[str, Any]] | None, table: Callable[..., list[str]]) -> list[str]:
    """summary.md's "Stages" section (`table(header, rows)` is summary.md's table builder)."""
    parsed, problem = parse_stages(stages)
    if not parsed and not problem:
        return []
    lines = ["", "## Stages", ""]
    if problem:
        lines += [f"_stage tables unreadable: {problem[:300]}_", ""]
    if not parsed:
        return lines
    ramps = [s.name for s in parsed if s.ramp]
    lines += [
        f"{len(parsed)} stage(s); {RAMP_MARK} marks a ramp (users or arrival rate change during it)"
        + (f": {', '.join(ramps)}" if ramps else "; none ramps")
        + ". Stages add up to the whole run.",
        "",
    ]
    for what, first in (("requests", "request"), ("roles", "role")):
        body, cut = rows(parsed, what)
        if what == "roles" and not body:
            continue
        lines += [f"### Per stage: {what}", "", *table([first, "stage", *HEADER], body)]
        if cut:
            lines.append(f"_… {cut} more endpoint(s) in summary.json_")
        lines.append("")
    return lines


def html_section(stages: Sequence[Mapping[str, Any]] | None) -> str:
    """report.html's `#stages` section ('' for a run without stages)."""
    parsed, problem = parse_stages(stages)
    if not parsed and not problem:
        return ""
    parts = ['<section id="stages"><h2>Stages</h2>']
    if problem:
        parts.append(f'<p class="note">stage tables unreadable: {escape(problem[:300])}</p>')
    parts.append(
        f'<p class="note">{escape(RAMP_MARK)} marks a ramp stage (users or arrival rate change during '
        "it). Stages add up to the whole run.</p>"
    )
    for what, first in (("requests", "request"), ("roles", "role")):
        body, cut = rows(parsed, what)
        if not body:
            continue
        head = "".join(f"<th>{escape(h)}</th>" for h in [first, "stage", *HEADER])
        trs = []
        for r in body:
            cls = ' class="ramp"' if RAMP_MARK in r[1] else ""
            tds = "".join(f"<td{'' if i < 2 else NUM}>{escape(c)}</td>" for i, c in enumerate(r))
            trs.append(f"<tr{cls}>{tds}</tr>")
        parts.append(
            f'<h3>Per stage: {what}</h3><div class="scroll"><table id="stages-{what}-table">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(trs)}</tbody></table></div>"
        )
        if cut:
            parts.append(f'<p class="note">{cut} more endpoint(s) in summary.json</p>')
    parts.append("</section>")
    return "".join(parts)
