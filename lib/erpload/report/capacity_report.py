"""A capacity search's answer in the console, summary.md and report.html (pure).

Reads the `capacity` section of summary.json (`erpload.profile.capacity_search.CapacityOutcome
.to_dict`; top-level `capacity` if RunSummary carries it, else `resources.capacity`): the capacity
as a number (or ">= max" / "< start", never a made-up one), the evidence (the confirmed level and
every rule's observed value there), the first level that broke with its first failing rule, and
every level tried. Stable hooks for tests: `#capacity`, `#capacity-value`, `#capacity-levels`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

Table = Callable[[list[str], Sequence[Sequence[object]]], list[str]]
LEVEL_HEADER = ["#", "phase", "level", "verdict", "window", "first failing rule", "observed"]
STATUS = {
    "found": "found",
    "at_least_max": "never broke up to max",
    "below_start": "no level held",
    "not_judged": "a level could not be judged: INVALID",
    "incomplete": "search not finished",
}


def section_of(summary: Any) -> Mapping[str, Any] | None:
    """The capacity section of a RunSummary (None when the run was no capacity search)."""
    own = getattr(summary, "capacity", None)
    if isinstance(own, Mapping) and own:
        return own
    found = (getattr(summary, "resources", None) or {}).get("capacity")
    return found if isinstance(found, Mapping) else None


def _level(cap: Mapping[str, Any], value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:g}/s" if cap.get("unit") == "/s" else f"{int(value)} users"


def headline(cap: Mapping[str, Any]) -> str:
    """'CAPACITY 40 users (bisect 2; confirmed over 60 s) · breaks at 44 users: p95 < 250ms observed 412ms'."""
    text = (
        f"CAPACITY {cap.get('text', '?')} ({cap.get('method', '')}; {STATUS.get(cap.get('status', ''), '?')}"
    )
    ev = cap.get("evidence")
    if cap.get("status") in ("found", "at_least_max") and isinstance(ev, Mapping):
        held = (ev.get("end_s") or 0) - (ev.get("start_s") or 0)
        text += f", confirmed over {held:.0f} s"
    text += ")"
    brk = cap.get("first_break")
    if isinstance(brk, Mapping):
        first = next((r for r in brk.get("rules") or () if not r.get("passed")), None)
        why = f"{first.get('rule')} {first.get('detail')}" if first else "no rule to judge it"
        text += f" · breaks at {_level(cap, brk.get('level'))} ({brk.get('phase')}): {why}"
    if cap.get("required") is not None:
        ok = cap.get("meets_required")
        text += f" · required {_level(cap, cap['required'])}: {'met' if ok else 'NOT met'}"
    return text


def evidence_lines(cap: Mapping[str, Any]) -> list[str]:
    """One line per rule at the evidence level: what every SLO observed there."""
    ev = cap.get("evidence")
    if not isinstance(ev, Mapping):
        return []
    where = f"{ev.get('phase')} {_level(cap, ev.get('level'))}"
    return [f"  at {where}: {'PASS' if r.get('passed') else 'FAIL'} {r.get('rule')}: {r.get('detail')}"
            for r in ev.get("rules") or ()]  # fmt: skip


def console_lines(cap: Mapping[str, Any]) -> list[str]:
    """The console: the headline, the evidence, and one short line per level tried."""
    lines = [headline(cap), *evidence_lines(cap)]
    for r in cap.get("levels") or ():
        lines.append(f"  level {r.get('index', 0) + 1}: {r.get('phase')} {_level(cap, r.get('level'))} "
                     f"{'pass' if r.get('passed') else 'BREAK'}{' (early)' if r.get('early') else ''}")  # fmt: skip
    return lines


def _rows(cap: Mapping[str, Any]) -> list[list[str]]:
    out = []
    for r in cap.get("levels") or ():
        first = next((o for o in r.get("rules") or () if not o.get("passed")), None)
        span = f"{r.get('start_s') or 0:.0f}–{r.get('end_s') or 0:.0f} s"
        out.append([
            str(r.get("index", 0) + 1), str(r.get("phase")), _level(cap, r.get("level")),
            ("pass" if r.get("passed") else "break") + (" (early)" if r.get("early") else ""), span,
            str(first.get("rule")) if first else "–", str(first.get("detail")) if first else "–",
        ])  # fmt: skip
    return out


def markdown_lines(summary: Any, table: Table) -> list[str]:
    """summary.md's Capacity section (empty when the run was no capacity search)."""
    cap = section_of(summary)
    if cap is None:
        return []
    lines = ["## Capacity", "", f"**{cap.get('text')}** — {headline(cap)}", ""]
    ev = cap.get("evidence")
    if isinstance(ev, Mapping):
        lines += [f"Evidence at {ev.get('phase')} {_level(cap, ev.get('level'))}:", ""]
        lines += table(["rule", "verdict", "observed"],
                       [[r.get("rule"), "pass" if r.get("passed") else "FAIL", r.get("detail")]
                        for r in ev.get("rules") or ()])  # fmt: skip
        lines.append("")
    lines += ["Levels tried:", "", *table(LEVEL_HEADER, _rows(cap)), ""]
    return lines


def html_section(summary: Any) -> str:
    """report.html's Capacity section ('' when the run was no capacity search)."""
    cap = section_of(summary)
    if cap is None:
        return ""
    parts = [f'<section id="capacity"><h2>Capacity: <span id="capacity-value">{escape(str(cap.get("text")))}'
             f"</span></h2><p>{escape(headline(cap))}</p>"]  # fmt: skip
    ev = cap.get("evidence")
    if isinstance(ev, Mapping):
        rows = "".join(
            f"<tr><td>{escape(str(r.get('rule')))}</td><td>{'pass' if r.get('passed') else 'FAIL'}</td>"
            f"<td>{escape(str(r.get('detail')))}</td></tr>"
            for r in ev.get("rules") or ()
        )
        parts.append(f"<h3>Evidence at {escape(str(ev.get('phase')))} {escape(_level(cap, ev.get('level')))}</h3>"
                     f'<table id="capacity-evidence"><tr><th>rule</th><th>verdict</th><th>observed</th></tr>{rows}</table>')  # fmt: skip
    head = "".join(f"<th>{escape(h)}</th>" for h in LEVEL_HEADER)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in _rows(cap))
    parts.append(f'<h3>Levels tried</h3><table id="capacity-levels"><tr>{head}</tr>{body}</table></section>')
    return "".join(parts)
