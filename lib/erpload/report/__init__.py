"""Reports rendered from a `RunSummary`: summary.json, junit.xml, summary.md, report.html (pure).

    paths = write_reports(summary, "reports/run-1")   # {"json": Path, "junit": ..., "markdown": ..., "html": ...}
    append_step_summary(paths["markdown"].read_text())  # only does something when $GITHUB_STEP_SUMMARY is set

Each file is written atomically (temp file + fsync + rename), so an interrupted run never leaves a
half-written report; a renderer that fails does not stop the others (its error is raised after).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from erpload.report import html, json_report, junit, markdown
from erpload.report.markdown import append_step_summary
from erpload.report.summary import RunSummary, write_atomic

__all__ = ["RENDERERS", "append_step_summary", "write_reports"]
log = logging.getLogger(__name__)

RENDERERS: dict[str, tuple[str, Callable[[RunSummary], str]]] = {
    "json": (json_report.FILENAME, json_report.render_json),
    "junit": (junit.FILENAME, junit.render_junit),
    "markdown": (markdown.FILENAME, markdown.render_markdown),
    "html": (html.FILENAME, html.render_html),
}


def write_reports(
    summary: RunSummary | Mapping[str, Any], report_dir: str | os.PathLike[str]
) -> dict[str, Path]:
    """Write every report into `report_dir` (created if needed); returns {kind: path}."""
    if not isinstance(summary, RunSummary):
        summary = RunSummary.from_dict(summary)
    out_dir = Path(report_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    first_error: Exception | None = None
    for kind, (filename, render) in RENDERERS.items():
        try:
            written[kind] = write_atomic(out_dir / filename, render(summary))
        except Exception as e:  # one broken renderer must not cost the other reports
            log.exception("erpload: writing %s failed", filename)
            first_error = first_error or e
    if first_error is not None:
        raise first_error
    return written
