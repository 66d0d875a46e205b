"""Unhandled exceptions in user code: message, count and one traceback each, redacted and bounded (pure).

Locust keeps them in `runner.exceptions` ({hash of the traceback: {count, msg, traceback, nodes}});
on a master they are the workers' ones, merged by Locust itself (each worker sends an "exception"
message per occurrence, `MasterRunner` counts them in the same table). `from_locust` turns those
rows into summary.json's `exceptions`: most frequent first, at most MAX_EXCEPTIONS, messages cut to
MAX_MESSAGE characters and tracebacks to their last MAX_TRACEBACK characters (the innermost frames,
where it was raised), every text through the process-wide redactor (`erpload.core.redact`: the
credential pool's passwords and issued tokens in every encoding, plus secret-shaped values; a
traceback quotes source lines, and a locustfile may hold a password literal).

Locust records `str(exception)` and the frames, not the exception's type: the last frame shows the
line that raised. Stable hooks in report.html: `#exceptions`, `#exceptions-table`, `.traceback`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from erpload.core.redact import redact

MAX_EXCEPTIONS = 20  # distinct exceptions kept (most frequent first); the count of all is kept too
MAX_MESSAGE = 500  # characters of a message
MAX_TRACEBACK = 4000  # characters of a traceback, from its end (the frame that raised)
MAX_NODES = 20  # node ids named per exception


@dataclass
class ExceptionSummary:
    """One distinct unhandled exception in user code: what it said, how often, where it was raised."""

    message: str
    count: int
    traceback: str = ""
    nodes: list[str] = field(default_factory=list)  # "local", or the worker node ids that raised it

    @property
    def raised_at(self) -> str:
        """The traceback's last frame line ('File "x.py", line 3, in on_start'), or ''."""
        frames = [ln.strip() for ln in self.traceback.splitlines() if ln.strip().startswith("File ")]
        return frames[-1] if frames else ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExceptionSummary:
        """Inverse of `asdict` (summary.json), tolerant of missing keys."""
        nodes = data.get("nodes")
        return cls(
            str(data.get("message") or ""),
            int(data.get("count") or 0),
            str(data.get("traceback") or ""),
            [str(n) for n in nodes] if isinstance(nodes, list) else [],
        )


def _clip_end(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1) :]


def from_locust(rows: Iterable[Mapping[str, Any]]) -> tuple[list[ExceptionSummary], int]:
    """(the kept exceptions, how many distinct there were) from `runner.exceptions.values()`."""
    out = []
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        message = redact(str(row.get("msg") or ""))
        nodes = sorted(str(n) for n in row.get("nodes") or ())
        out.append(
            ExceptionSummary(
                message[:MAX_MESSAGE] + ("…" if len(message) > MAX_MESSAGE else ""),
                int(row.get("count") or 0),
                _clip_end(redact(str(row.get("traceback") or "")), MAX_TRACEBACK),
                nodes[:MAX_NODES],
            )
        )
    out.sort(key=lambda e: (-e.count, e.message))
    return out[:MAX_EXCEPTIONS], len(out)


def total(exceptions: Sequence[ExceptionSummary]) -> int:
    """Occurrences of every kept exception."""
    return sum(e.count for e in exceptions)


def line(e: ExceptionSummary) -> str:
    """'12x ValueError text (File "x.py", line 3, in on_start)' for the console and notes."""
    where = f" ({e.raised_at})" if e.raised_at else ""
    return f"{e.count}x {' '.join(e.message.split())[:200] or '(no message)'}{where}"


def markdown_lines(
    exceptions: Sequence[ExceptionSummary],
    table: Callable[[list[str], Iterable[Sequence[object]]], list[str]],
) -> list[str]:
    """'## Exceptions in user code': a table, then the most frequent one's traceback ([] without any)."""
    if not exceptions:
        return []
    out = [f"## Exceptions in user code ({len(exceptions)} distinct, {total(exceptions)} in all)", ""]
    out += table(["count", "message", "raised at"], [[e.count, e.message, e.raised_at] for e in exceptions])
    first = exceptions[0]
    if first.traceback:
        fenced = first.traceback.replace("```", "'''").rstrip("\n")
        out += [
            "",
            "Traceback of the most frequent (summary.json has one per exception):",
            "",
            "```",
            fenced,
            "```",
        ]
    return [*out, ""]


def html_section(exceptions: Sequence[ExceptionSummary]) -> str:
    """<section id="exceptions">: one row per exception, its traceback in a <details> ('' without any)."""
    if not exceptions:
        return ""
    rows = []
    for e in exceptions:
        tb = (
            f'<details><summary>traceback</summary><pre class="traceback">{escape(e.traceback)}</pre></details>'
            if e.traceback
            else ""
        )
        nodes = escape(", ".join(e.nodes))
        rows.append(
            f'<tr><td class="num">{e.count}</td><td>{escape(e.message)}{tb}</td><td>{nodes}</td></tr>'
        )
    head = "<thead><tr><th>count</th><th>message</th><th>nodes</th></tr></thead>"
    title = f"Exceptions in user code ({len(exceptions)} distinct, {total(exceptions)} in all)"
    return (
        f'<section id="exceptions"><h2>{escape(title)}</h2>'
        f'<table id="exceptions-table">{head}<tbody>{"".join(rows)}</tbody></table></section>'
    )
