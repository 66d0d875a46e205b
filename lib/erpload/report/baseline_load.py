"""Reading a baseline summary.json and checking the comparison settings, before any load (pure).

    base = load_baseline("base/summary.json")        # ConfigError (exit 2) naming the file / JSON field
    check_options(tolerance=0.10, min_samples=100)   # ConfigError naming --baseline-tolerance, ...

Unreadable, corrupt or malformed input is a configuration error, never a silent pass (fail closed):
the structure (`summary_check`) and the latency histograms the bootstrap resamples are both checked.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from erpload.core.errors import ConfigError, Problem
from erpload.report.summary_check import FIX, summary_problems

__all__ = ["check_options", "load_baseline"]


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
    problems = summary_problems(data) or _histogram_problems(data)
    if problems:
        raise ConfigError(source, problems)
    return data


def _no_constant(name: str) -> float:
    raise ValueError(f"not valid JSON: {name} is not a JSON number")


def _histogram_problems(data: Mapping[str, Any]) -> list[Problem]:
    """The latency histograms the comparison resamples: {ms: count}, ms a number >= 0, count whole >= 0."""
    rows = [(f"requests[{i}]", r) for i, r in enumerate(data.get("requests") or [])]
    rows += [("total", data["total"])] if isinstance(data.get("total"), Mapping) else []
    out = []
    for where, row in rows:
        hist = row.get("histogram", {})
        if not isinstance(hist, Mapping):
            out.append(
                Problem(f"{where}.histogram", f"must be an object {{ms: count}} (got {hist!r:.40})", FIX)
            )
            continue
        for key, n in hist.items():
            try:
                ok_key = math.isfinite(float(key)) and float(key) >= 0
            except (TypeError, ValueError):
                ok_key = False
            ok_n = isinstance(n, int) and not isinstance(n, bool) and n >= 0
            if not (ok_key and ok_n):
                what = (
                    f"bucket {str(key)[:20]!r}: {n!r:.20} must be a whole count >= 0 of a latency in ms >= 0"
                )
                out.append(Problem(f"{where}.histogram", what, FIX))
                break
    return out


def check_options(tolerance: Any, min_samples: Any, prefix: str = "--baseline-") -> None:
    """Before any load: the user's comparison settings; ConfigError (exit 2) naming each flag otherwise."""
    problems = []
    if not (isinstance(tolerance, int | float) and 0 <= tolerance < 1):
        problems.append(
            Problem(f"{prefix}tolerance", f"must be within 0..1 (got {tolerance!r})", "0.10 means 10 %")
        )
    if not (isinstance(min_samples, int) and min_samples >= 20):
        problems.append(
            Problem(
                f"{prefix}min-samples",
                f"must be a whole number >= 20 (got {min_samples!r})",
                "100 (the default) keeps 5 samples beyond p95; fewer makes the bootstrap CI of p95 meaningless",
            )
        )
    if problems:
        raise ConfigError("the baseline comparison settings", problems)
