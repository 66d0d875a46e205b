"""summary.json: the versioned, machine-readable run summary (see `erpload.report.summary`)."""

from __future__ import annotations

from erpload.report.summary import RunSummary

FILENAME = "summary.json"


def render_json(summary: RunSummary) -> str:
    """summary.json text (strict JSON, NaN/inf written as null)."""
    return summary.to_json()
