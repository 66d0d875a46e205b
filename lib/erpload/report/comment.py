"""comment.md: the `--comment` flavour of summary.md, for one sticky PR / MR comment (pure).

    text = render_comment(summary)                      # written with every run, beside summary.md
    text = render_comment(summary, artifact_url=url)    # default: $ERPLOAD_ARTIFACT_URL

What a reviewer needs first, in this order: the verdict (exit code and what it means), the failed
rules, the baseline regressions, why the run is INVALID, the notes, then every rule folded away.
The first line is the hidden marker `<!-- erpload-comment -->`, which the CI templates
(examples/ci/) search for to update the one comment instead of adding one per push.

GitHub refuses a comment body over 65,536 characters. The text is bounded by `MAX_BYTES` UTF-8
bytes (a character is at least one byte, and at least one UTF-16 unit per byte pair, so bytes bound
both counts): tables are cut to their first rows with a note, and the whole is cut at a line with
a note pointing at the full reports in the artifact.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from erpload.core.units import fmt_bound, fmt_num, fmt_observed, fmt_value
from erpload.report.baseline_model import Comparison
from erpload.report.baseline_table import render_table
from erpload.report.markdown import cell
from erpload.report.model import RunSummary, SlaEntry

__all__ = ["ARTIFACT_ENV", "FILENAME", "MARKER", "MAX_BYTES", "render_comment"]

FILENAME = "comment.md"
MARKER = "<!-- erpload-comment -->"
ARTIFACT_ENV = "ERPLOAD_ARTIFACT_URL"
GITHUB_LIMIT = 65_536  # characters in an issue / PR comment body
MAX_BYTES = 60_000  # UTF-8 bytes: under GITHUB_LIMIT characters, with room for what a CI step appends
TOP_N = 30  # rows per table
_ICON = {
    "pass": "✅ PASS",
    "fail": "❌ FAIL",
    "invalid": "⚠️ INVALID",
    "aborted": "⏹️ ABORTED",
    "error": "💥 ERROR",
}
MEANING = {  # the README's exit-code table, one line each
    0: "pass: every SLA rule held",
    1: "request failures, and no SLA rule configured",
    2: "invalid configuration: nothing was sent to the target",
    3: "SLA breached: a rule failed, or a baseline regression",
    4: "INVALID run: the measurement cannot be trusted",
    5: "aborted before the profile finished",
    6: "internal error, or the reports could not be written",
    7: "target unavailable: nothing was measured",
}


@dataclass
class _Block:
    """A section: its lines, and the lines that must close it even when it is cut (</details>)."""

    lines: list[str]
    closer: list[str] = field(default_factory=list)


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return out + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def _more(shown: int, total: int, what: str) -> list[str]:
    return (
        [f"_… {total - shown} more {what} not shown: see summary.md in the artifact._"]
        if total > shown
        else []
    )


def _observed(s: SlaEntry) -> str:
    return fmt_observed(s.kind, s.observed, s.op, s.threshold) + fmt_bound(s.bound)


def _rules_block(summary: RunSummary) -> _Block | None:
    failed = summary.failed_rules
    if not failed:
        return None
    rows = [
        [s.name or s.rule, _observed(s), f"{s.op} {fmt_value(s.kind, s.threshold)}", s.detail] for s in failed
    ]
    lines = [f"### ❌ Failed rules ({len(failed)} of {len(summary.sla)})", ""]
    lines += _table(["rule", "observed", "threshold", "detail"], rows[:TOP_N])
    return _Block([*lines, *_more(min(TOP_N, len(rows)), len(rows), "failed rule(s)"), ""])


def _baseline_block(baseline: Mapping[str, object] | None) -> _Block:
    if not baseline:
        return _Block(["### Baseline", "", "_No baseline compared (no --baseline)._", ""])
    try:
        comparison = Comparison.from_dict(baseline)
    except (KeyError, TypeError, ValueError) as e:
        return _Block(["### Baseline", "", f"_The baseline comparison is unreadable: {cell(e)}_", ""])
    n = len(comparison.regressions)
    title = f"### 📉 Regressions ({n})" if n else "### Baseline: no regression"
    table = render_table(comparison, "markdown", only_regressions=True, limit=TOP_N)
    lines = [title, "", *table.rstrip("\n").splitlines()]
    if comparison.problem:
        lines += ["", f"**Not evaluated:** {cell(comparison.problem)}"]
    return _Block([*lines, ""])


def _invalid_block(summary: RunSummary) -> _Block | None:
    if not summary.invalid:
        return None
    rows = summary.invalid
    lines = ["### ⚠️ INVALID: the measurement cannot be trusted", ""]
    for i in rows[:TOP_N]:
        at = i.get("at_s")
        when = f" at {fmt_num(float(at))} s" if isinstance(at, int | float) else ""
        lines.append(f"- **{cell(i.get('reason', '?'))}**{when}: {cell(i.get('detail', ''))}")
    return _Block([*lines, *_more(min(TOP_N, len(rows)), len(rows), "reason(s)"), ""])


def _notes_block(summary: RunSummary) -> _Block | None:
    if not summary.notes:
        return None
    lines = ["### Notes", "", *(f"- {cell(n)}" for n in summary.notes[:TOP_N])]
    return _Block([*lines, *_more(min(TOP_N, len(summary.notes)), len(summary.notes), "note(s)"), ""])


def _all_rules_block(summary: RunSummary) -> _Block | None:
    if not summary.sla:
        return None
    rows = [
        [
            "✅" if s.passed else "❌",
            s.name or s.rule,
            _observed(s),
            f"{s.op} {fmt_value(s.kind, s.threshold)}",
        ]
        for s in summary.sla
    ]
    lines = [f"<details><summary>All {len(rows)} SLA rules</summary>", ""]
    lines += _table(["", "rule", "observed", "threshold"], rows[: TOP_N * 2])
    lines += _more(min(TOP_N * 2, len(rows)), len(rows), "rule(s)")
    return _Block(lines, closer=["", "</details>", ""])


def _head(summary: RunSummary, artifact_url: str) -> list[str]:
    code = summary.exit_code
    verdict = _ICON.get(summary.verdict, cell(summary.verdict))
    regressions = len((summary.baseline or {}).get("regressions") or [])
    facts = [
        f"{len(summary.failed_rules)} of {len(summary.sla)} SLA rules failed",
        *([f"{regressions} regression(s)"] if regressions else []),
        *([f"{len(summary.invalid)} INVALID reason(s)"] if summary.invalid else []),
        f"{summary.total.count} requests, {summary.total.failures} failures",
        f"{fmt_num(summary.duration_s)} s",
        f"host `{cell(summary.host) or '-'}`",
    ]
    url = artifact_url.strip()
    link = (
        f"📦 Full reports (summary.md, report.html, summary.json): [CI artifact]({cell(url).replace(')', '%29')})"
        if url.startswith(("https://", "http://"))
        else f"📦 Full reports (summary.md, report.html, summary.json): in this CI job's artifacts (${ARTIFACT_ENV} not set)"
    )
    return [
        MARKER,
        f"## erpload `{cell(summary.profile.name or 'run')}`: {verdict} (exit {code})",
        "",
        f"**Exit {code}: {MEANING.get(code, 'unknown exit code')}.**",
        "",
        " · ".join(facts),
        "",
        link,
        "",
    ]


def _fit(head: list[str], blocks: list[_Block], max_bytes: int) -> str:
    """head + whole lines of the blocks while they fit in max_bytes; a cut block is closed, with a note."""
    note = "_… cut here to stay under the PR comment size limit: the full reports are in the CI artifact._"
    out = list(head)
    used = sum(len(line.encode()) + 1 for line in out)
    reserve = (
        len(note.encode()) + 2 + max((sum(len(c.encode()) + 1 for c in b.closer) for b in blocks), default=0)
    )
    for block in blocks:
        for line in block.lines:
            size = len(line.encode()) + 1
            if used + size + reserve > max_bytes:
                out += ["", note, *block.closer]
                return "\n".join(out).rstrip("\n") + "\n"
            out.append(line)
            used += size
        out += block.closer
        used += sum(len(c.encode()) + 1 for c in block.closer)
    return "\n".join(out).rstrip("\n") + "\n"


def render_comment(summary: RunSummary, artifact_url: str | None = None, max_bytes: int = MAX_BYTES) -> str:
    """The comment's Markdown: at most `max_bytes` UTF-8 bytes, the marker on its first line."""
    url = os.environ.get(ARTIFACT_ENV, "") if artifact_url is None else artifact_url
    invalid = _invalid_block(summary)
    blocks = [
        invalid if summary.verdict == "invalid" else None,  # why it cannot be trusted comes first
        _rules_block(summary),
        _baseline_block(summary.baseline),
        invalid if summary.verdict != "invalid" else None,
        _notes_block(summary),
        _all_rules_block(summary),
    ]
    return _fit(_head(summary, url), [b for b in blocks if b is not None], max_bytes)
