"""--history DB: record the finished run in the run history, after its reports are written.

A history that cannot be written (corrupt file, lock held past $ERPLOAD_HISTORY_TIMEOUT, server
gone) is logged as an error naming the DB, what went wrong and the fix, and leaves the exit code
as the verdict decided it. Not INVALID: the measurement is as sound as it was (INVALID means the
numbers cannot be trusted), the reports already say the verdict, and an exit code changed
afterwards would contradict the summary.json beside it. Nothing unsafe follows from a missed
record: a `--baseline history:` reads only passing runs, so a lost one can make the baseline older,
never turn a failure into a pass. A DB that is unusable before the run is checked at init (exit 2,
erpload.locust.checks).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from erpload.core.errors import ConfigError
from erpload.report.history import open_history
from erpload.report.history_db import display_name
from erpload.report.history_key import detect_key
from erpload.report.summary import RunSummary, verdict_for

log = logging.getLogger("erpload")

__all__ = ["record_run"]


def record_run(options: Any, summary: RunSummary, exit_code: int) -> int | None:
    """Record `summary` with the process's `exit_code` in --history (if set); the run id, else None."""
    target = str(getattr(options, "history", "") or "").strip() if options is not None else ""
    if not target:
        return None
    if summary.exit_code != int(exit_code):  # e.g. the reports could not be written (exit 6)
        summary = dataclasses.replace(summary, exit_code=int(exit_code), verdict=verdict_for(exit_code))
    key = detect_key()
    try:
        with open_history(target) as store:
            run_id = store.record(json.loads(summary.to_json()), key)  # strict JSON: NaN -> null
    except ConfigError as e:
        log.error(
            "erpload: %s\n  The run was NOT recorded in the history; its reports are written and the exit "
            "code (%d) is the verdict's.",
            e.render(),
            int(exit_code),
        )
        return None
    except (TypeError, ValueError) as e:  # a summary that cannot be stored as JSON: a bug, said as such
        log.error("erpload: the run could not be recorded in the history %s: %s", display_name(target), e)
        return None
    log.info(
        "erpload: run recorded in the history %s as #%d (profile %s, branch %s, commit %s)",
        display_name(target),
        run_id,
        summary.profile.name or "-",
        key.branch,
        key.commit[:12],
    )
    return run_id
