"""Reports rendered from a `RunSummary`: summary.json, junit.xml, summary.md, report.html (pure).

    check_report_dir("reports/run-1")                  # before the load: ConfigError (exit 2) if unusable
    paths = write_reports(summary, "reports/run-1")   # {"json": Path, "junit": ..., "markdown": ..., "html": ...}
    append_step_summary(paths["markdown"].read_text())  # only does something when $GITHUB_STEP_SUMMARY is set

Every report is rendered in memory first, then the set is written all-or-nothing (`writer.write_all`):
the reports on disk never claim a verdict the process does not give. A renderer that fails (a bug)
does not cost the others: they are written with verdict "error" / exit code 6 and a note naming it,
then `ReportWriteError` (exit 6) is raised. A write that fails (full disk) leaves none of the set and
raises `ReportWriteError` naming every file and why.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from erpload.core.errors import ExitCode
from erpload.report import comment, html, json_report, junit, markdown
from erpload.report.markdown import append_step_summary
from erpload.report.model import RunSummary
from erpload.report.writer import ReportWriteError, check_report_dir, write_all

__all__ = ["RENDERERS", "ReportWriteError", "append_step_summary", "check_report_dir", "write_reports"]
log = logging.getLogger(__name__)

RENDERERS: dict[str, tuple[str, Callable[[RunSummary], str]]] = {
    "json": (json_report.FILENAME, json_report.render_json),
    "junit": (junit.FILENAME, junit.render_junit),
    "markdown": (markdown.FILENAME, markdown.render_markdown),
    "html": (html.FILENAME, html.render_html),
    "comment": (comment.FILENAME, comment.render_comment),  # the sticky PR comment (examples/ci/)
}


def _render_all(summary: RunSummary, out_dir: Path) -> tuple[dict[str, tuple[Path, str]], dict[Path, str]]:
    """({kind: (path, text)} of the renderers that worked, {path: why} of those that raised)."""
    rendered: dict[str, tuple[Path, str]] = {}
    broken: dict[Path, str] = {}
    for kind, (filename, render) in RENDERERS.items():
        try:
            rendered[kind] = (out_dir / filename, render(summary))
        except Exception as e:  # a bug in one renderer must not cost the other reports
            log.exception("erpload: rendering %s failed", filename)
            broken[out_dir / filename] = f"rendering failed (a bug): {type(e).__name__}: {e}"
    return rendered, broken


def write_reports(
    summary: RunSummary | Mapping[str, Any], report_dir: str | os.PathLike[str]
) -> dict[str, Path]:
    """Write every report into `report_dir` (created if needed); returns {kind: path}.

    Raises `ReportWriteError` (exit 6) if any report could not be rendered or written.
    """
    if not isinstance(summary, RunSummary):
        summary = RunSummary.from_dict(summary)
    out_dir = Path(report_dir)
    rendered, broken = _render_all(summary, out_dir)
    if broken:  # the process will exit 6: the reports that can be written must say so
        notes = [f"{p.name} could not be rendered: {why}" for p, why in broken.items()]
        summary = dataclasses.replace(
            summary, verdict="error", exit_code=int(ExitCode.INTERNAL_ERROR), notes=[*summary.notes, *notes]
        )
        rendered, more = _render_all(summary, out_dir)
        broken.update(more)
    write_all({path: text for path, text in rendered.values()})  # raises ReportWriteError on failure
    if broken:
        raise ReportWriteError(broken)
    return {kind: path for kind, (path, _) in rendered.items()}
