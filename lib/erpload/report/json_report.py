"""summary.json: the versioned, machine-readable run summary (see `erpload.summary`)."""

from __future__ import annotations

from erpload.summary import RunSummary

FILENAME = "summary.json"


def render_json(summary: RunSummary) -> str:
    """summary.json text (strict JSON, NaN/inf written as null)."""
    return summary.to_json()
