"""Quantities in SLA rules and reports (pure): parse thresholds/durations, format values.

Canonical units by kind: latency -> ms, rate -> fraction (0.1% -> 0.001, 80% -> 0.8),
rps -> per second, duration -> seconds, count -> raw number, bool -> True/False.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any

KINDS = ("latency", "rate", "rps", "count", "bool", "duration")
UNITS: dict[str, dict[str, float]] = {  # kind -> {unit: factor to the canonical unit}; "" = bare number
    "latency": {"": 1.0, "ms": 1.0, "s": 1000.0, "m": 60_000.0},
    "rate": {"": 1.0, "%": 0.01},
    "rps": {"": 1.0, "/s": 1.0},
    "count": {"": 1.0},
    "duration": {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0},
}
HINTS = {
    "latency": "Use ms, s or m (a bare number is ms), e.g. 300ms or 1.5s",
    "rate": "Use a percentage (0.1%) or a fraction between 0 and 1 (0.001)",
    "rps": "Use requests per second: 50 or 50/s",
    "count": "Use a plain number, e.g. 0",
    "duration": "Use s, ms, m or h (a bare number is seconds), e.g. 30s",
    "bool": "Use true or false",
}
_NUMBER = re.compile(r"(?P<num>-?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>\S*)")
_TIMESPAN = re.compile(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


class QuantityError(ValueError):
    """A value that cannot be read: `message` (with the value got) and `fix`."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


def did_you_mean(got: str, choices: list[str], quote: str = "'", cutoff: float = 0.6) -> str:
    """The fix prefix "Did you mean 'p95'? " for difflib's closest match, or ""."""
    close = difflib.get_close_matches(got, choices, n=1, cutoff=cutoff)
    return f"Did you mean {quote}{close[0]}{quote}? " if close else ""


def parse_quantity(raw: Any, kind: str) -> float | bool:
    """'300ms' / 1.5 / '0.1%' / '50/s' / 'false' -> canonical value of `kind`; raises QuantityError."""
    if kind == "bool":
        text = str(raw).strip().lower()
        if isinstance(raw, bool) or text in ("true", "false"):
            return raw if isinstance(raw, bool) else text == "true"
        raise QuantityError(f"expected true or false (got {raw!r})", HINTS["bool"])
    if isinstance(raw, bool) or raw is None:
        raise QuantityError(f"expected a number (got {raw!r})", HINTS[kind])
    if isinstance(raw, int | float):
        num, unit = float(raw), ""
    else:
        m = _NUMBER.fullmatch(str(raw).strip())
        if not m:
            raise QuantityError(f"{str(raw)!r} is not a number with a unit", HINTS[kind])
        num, unit = float(m["num"]), m["unit"].lower()
    units = UNITS[kind]
    if unit not in units:
        if kind == "latency" and unit == "%":
            raise QuantityError(f"a latency takes a time unit, not '%' (got {str(raw)!r})", HINTS[kind])
        hint = did_you_mean(unit, [u for u in units if u])
        raise QuantityError(f"unknown unit {unit!r} (got {str(raw)!r})", hint + HINTS[kind])
    if num < 0 or not math.isfinite(num):
        raise QuantityError(f"must be a number >= 0 (got {str(raw)!r})", HINTS[kind])
    if kind == "rate" and unit == "" and num > 1:
        raise QuantityError(
            f"a bare rate is a fraction, and {num:g} is above 1 (got {str(raw)!r})",
            f"Did you mean '{num:g}%'?",
        )
    return num * units[unit]


def parse_timespan(value: Any) -> float:
    """Locust `-t` syntax -> seconds: 90, "90", "30s", "1m", "1h30m", "2h5m10s"; raises QuantityError."""
    fix = "Use Locust -t syntax: 30s, 1m, 1h30m (a bare number is seconds)"
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
        return float(value)
    text = str(value).strip() if isinstance(value, str) else ""
    if text.isdigit():
        return float(text)
    m = _TIMESPAN.fullmatch(text)
    if not text or not m or not any(m.groups()):
        raise QuantityError(f"not a duration (got {value!r})", fix)
    h, mi, s = (int(g or 0) for g in m.groups())
    return float(h * 3600 + mi * 60 + s)


def fmt_num(x: float) -> str:
    """3 significant digits, never dropping integer digits: 212, 31.4, 0.123, 1049."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    decimals = max(0, 2 - math.floor(math.log10(abs(x))))
    text = f"{x:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_value(kind: str, value: float | bool | None) -> str:
    """A canonical value in its display unit: 212ms, 0.1%, 31.4/s, 12s, 3, true; None -> 'no data'."""
    if value is None:
        return "no data"
    if isinstance(value, bool) or kind == "bool":
        return str(bool(value)).lower()
    if kind == "rate":
        return f"{fmt_num(value * 100)}%"
    if kind == "count":
        return str(int(value)) if value == int(value) else fmt_num(value)
    return fmt_num(value) + {"latency": "ms", "rps": "/s", "duration": "s"}.get(kind, "")


def fmt_bound(bound: float | None) -> str:
    """' (±0.5ms)' for a percentile's bucket bound, '' when exact/unknown."""
    return f" (±{fmt_num(bound)}ms)" if bound else ""
