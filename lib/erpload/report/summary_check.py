"""Structural check of a summary.json read from disk (a --baseline, `erpload compare` inputs) (pure).

    problems = summary_problems(json.loads(text))   # [] when it can be compared; else where/what/fix

A summary written by another erpload version, edited by hand or truncated must be a configuration
error naming the field, not an exception in the middle of the end-of-run verdict (exit 6, no reports).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from erpload.core.errors import Problem
from erpload.report.model import PERCENTILES, SCHEMA_VERSION, RunSummary

__all__ = ["summary_problems"]

FIX = "Give the summary.json an erpload run wrote (--report-dir DIR writes DIR/summary.json)"
_COUNTS = ("count", "failures")
_NUMBERS = ("rps",)
_OPTIONAL_NUMBERS = ("avg", "min", "max", *PERCENTILES)
_OPTIONAL_STRINGS = {"profile": ("name", "file", "description"), "": ("started_at", "ended_at", "host")}


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


def _got(value: Any) -> str:
    text = repr(value)
    return f"{_kind(value)} {text if len(text) <= 40 else text[:37] + '...'}"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _endpoint_problems(where: str, row: Any) -> list[Problem]:
    if not isinstance(row, Mapping):
        return [Problem(where, f"must be an object with method, name, count, ... (got {_got(row)})", FIX)]
    out = []
    for key in ("method", "name"):
        if not isinstance(row.get(key), str):
            got = "missing" if key not in row else f"got {_got(row[key])}"
            out.append(Problem(f"{where}.{key}", f"must be a string ({got})", FIX))
    for key in _COUNTS:
        value = row.get(key, 0)
        if not (_is_number(value) and value >= 0 and float(value).is_integer()):
            out.append(Problem(f"{where}.{key}", f"must be a whole number >= 0 (got {_got(value)})", FIX))
    for key in _NUMBERS:
        value = row.get(key, 0.0)
        if not (_is_number(value) and value >= 0):
            out.append(Problem(f"{where}.{key}", f"must be a number >= 0 (got {_got(value)})", FIX))
    for key in _OPTIONAL_NUMBERS:
        value = row.get(key)
        if value is not None and not (_is_number(value) and value >= 0):
            out.append(
                Problem(f"{where}.{key}", f"must be milliseconds >= 0 or null (got {_got(value)})", FIX)
            )
    return out


def summary_problems(data: Any) -> list[Problem]:
    """Every structural problem of a loaded summary.json (where: the JSON field path)."""
    if not isinstance(data, Mapping):
        return [Problem("(top level)", f"must be a JSON object (got {_kind(data)})", FIX)]
    version = data.get("schema_version")
    if "schema_version" not in data:
        return [Problem("schema_version", f"missing (got keys: {', '.join(sorted(data)) or 'none'})", FIX)]
    if not (isinstance(version, int) and not isinstance(version, bool) and 1 <= version):
        return [Problem("schema_version", f"must be a whole number >= 1 (got {_got(version)})", FIX)]
    if version > SCHEMA_VERSION:
        return [
            Problem(
                "schema_version",
                f"{version} is newer than this erpload reads ({SCHEMA_VERSION})",
                "Upgrade erpload, or compare with a summary.json this version wrote",
            )
        ]
    problems: list[Problem] = []
    if not isinstance(data.get("verdict"), str):
        got = "missing" if "verdict" not in data else f"got {_got(data['verdict'])}"
        problems.append(Problem("verdict", f"must be a string such as 'pass' ({got})", FIX))
    code = data.get("exit_code")
    if not (_is_number(code) and float(code).is_integer()):
        got = "missing" if "exit_code" not in data else f"got {_got(code)}"
        problems.append(Problem("exit_code", f"must be a whole number ({got})", FIX))
    for key in ("requests", "roles"):
        rows = data.get(key, [])
        if not isinstance(rows, list):
            problems.append(Problem(key, f"must be a list of endpoint objects (got {_got(rows)})", FIX))
            continue
        for i, row in enumerate(rows):
            problems += _endpoint_problems(f"{key}[{i}]", row)
    total = data.get("total")
    if isinstance(total, Mapping):
        problems += _endpoint_problems("total", {"method": "", "name": "Aggregated", **total})
    elif total is not None:
        problems.append(Problem("total", f"must be an object (got {_got(total)})", FIX))
    for section, keys in _OPTIONAL_STRINGS.items():
        obj = data.get(section) if section else data
        if section and obj is not None and not isinstance(obj, Mapping):
            problems.append(Problem(section, f"must be an object (got {_got(obj)})", FIX))
            continue
        for key in keys:
            value = (obj or {}).get(key)
            if value is not None and not isinstance(value, str):
                where = f"{section}.{key}" if section else key
                problems.append(Problem(where, f"must be a string (got {_got(value)})", FIX))
    if not problems:  # the parts compare does not read must still load: the safety net
        try:
            RunSummary.from_dict(data)
        except (TypeError, ValueError, AttributeError, KeyError) as e:
            problems.append(Problem("(structure)", f"cannot be read as a run summary: {e}", FIX))
    return problems
