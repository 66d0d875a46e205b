"""Quantities (pure): ONE parser each for durations, rates, sizes and SLA thresholds, ONE did-you-mean.

Canonical units by kind: latency -> ms, rate -> fraction (0.1% -> 0.001, 80% -> 0.8),
rps -> per second, duration -> seconds, count -> raw number, bool -> True/False; sizes -> bytes.
Every parser raises `QuantityError` (a ValueError) with the value got in `message` and the fix in
`fix`; values are shown through `preview`, which never builds a full repr (a YAML anchor bomb is a
billion-element list) and numbers longer than `MAX_DIGITS` digits are refused before any arithmetic.
"""

from __future__ import annotations

import difflib
import math
import operator
import re
import reprlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any

KINDS = ("latency", "rate", "rps", "count", "bool", "duration")
UNITS: dict[str, dict[str, float]] = {  # kind -> {unit: factor to the canonical unit}; "" = bare number
    "latency": {"": 1.0, "ms": 1.0, "s": 1000.0, "m": 60_000.0},
    "rate": {"": 1.0, "%": 0.01},
    "count": {"": 1.0},
    "duration": {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0},
}
PER = {"": 1.0, "/s": 1.0, "/m": 60.0, "/h": 3600.0}  # rate unit -> seconds per unit
SIZES = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
HINTS = {
    "latency": "Use ms, s or m (a bare number is ms), e.g. 300ms or 1.5s",
    "rate": "Use a percentage (0.1%) or a fraction between 0 and 1 (0.001)",
    "rps": 'Use a rate per second, minute or hour: 20, "20/s", "1200/m" or "72000/h"',
    "count": "Use a plain number, e.g. 0",
    "duration": "Use s, ms, m or h (a bare number is seconds), e.g. 30s",
    "bool": "Use true or false",
}
DURATION_FIX = "Use Locust's -t syntax: 90, 90s, 5m, 1h30m, 2h5m10s (a bare number is seconds)"
RATE_FIX = HINTS["rps"]
SIZE_FIX = "Use bytes or a unit: 512KiB, 10MB, 1GiB (units: " + ", ".join(SIZES) + ")"
MAX_DIGITS = 30  # longer numbers are typos or attacks; int('9' * 5000) alone is slow, float() overflows
MAX_DURATION_S = 366 * 86400.0  # a year: longer is a unit mistake, and sums of such stay finite
COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {  # an SLA rule's operator -> its test
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_NUMBER = re.compile(r"(?P<num>-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*(?P<unit>.*)")  # ASCII digits only
_DURATION = re.compile(r"(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
_DIGITS_FIX = f"Write at most {MAX_DIGITS} digits (a typo?)"
_DIGIT_RUN = re.compile(f"[0-9]{{{MAX_DIGITS + 1},}}")


class QuantityError(ValueError):
    """A value that cannot be read: `message` (with the value got) and `fix`."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


class _Preview(reprlib.Repr):
    """reprlib with small limits, and ints shown by size past 40 digits (repr() of a huge int is slow)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel, self.maxdict, self.maxlist, self.maxtuple, self.maxset = 3, 4, 6, 6, 6
        self.maxstring, self.maxother, self.maxlong = 60, 60, 40

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 130:  # > ~40 digits
            return f"<a number of about {x.bit_length() * 0.30103:.0f} digits>"
        return super().repr_int(x, level)


_PREVIEW = _Preview()


def preview(value: Any, limit: int = 60) -> str:
    """repr(value) cut to about `limit` characters, built from a bounded part of the value only."""
    text = _PREVIEW.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def preview_keys(item: Any, limit: int = 10) -> str:
    """The keys of a mapping for a message: "users, spawn_rate", cut after `limit`, or "none"."""
    keys = [k[:60] if isinstance(k, str) else preview(k) for k in list(item)[:limit]]
    more = f", ... ({len(item)} in all)" if len(item) > limit else ""
    return ", ".join(keys) + more if keys else "none"


def closest(got: str, choices: Iterable[str], *, n: int = 1, cutoff: float = 0.6) -> list[str]:
    """What `got` most likely meant: an exact case-insensitive match, else difflib's closest `n`."""
    choices = list(choices)
    lower = {c.lower(): c for c in choices}
    if got.lower() in lower:
        return [lower[got.lower()]]
    return difflib.get_close_matches(got[:200], choices, n=n, cutoff=cutoff)


def format_possibilities(possibilities: Sequence[str]) -> str:
    """click's `_format_possibilities`: "Did you mean 'users'?", "(Possible options: a, b)" or ""."""
    if len(possibilities) == 1:
        return f"Did you mean '{possibilities[0]}'?"
    return f"(Possible options: {', '.join(sorted(possibilities))})" if possibilities else ""


def did_you_mean(got: Any, choices: Iterable[str], *, n: int = 1, cutoff: float = 0.6) -> str:
    """The start of a fix: "Did you mean 'p95'? " (or several possible options), or ""."""
    text = format_possibilities(
        closest(str(got) if isinstance(got, str | int | float) else "", choices, n=n, cutoff=cutoff)
    )
    return f"{text} " if text else ""


def _check_digits(raw: Any) -> None:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw.bit_length() > 100:  # > 30 digits
        raise QuantityError(f"a number longer than {MAX_DIGITS} digits (got {preview(raw)})", _DIGITS_FIX)
    if isinstance(raw, str) and _DIGIT_RUN.search(raw):
        raise QuantityError(f"a number longer than {MAX_DIGITS} digits (got {preview(raw)})", _DIGITS_FIX)


def _number(raw: Any, fix: str, what: str = "a number with a unit") -> tuple[float, str]:
    """A number with an optional unit: 5 -> (5.0, ""), "300 ms" -> (300.0, "ms"); the unit as written."""
    _check_digits(raw)
    if isinstance(raw, bool) or raw is None:
        raise QuantityError(f"expected a number (got {preview(raw)})", fix)
    if isinstance(raw, int | float):
        num, unit = float(raw), ""
    elif isinstance(raw, str) and (m := _NUMBER.fullmatch(raw.strip())):
        num, unit = float(m["num"]), m["unit"]
    else:
        raise QuantityError(f"not {what} (got {preview(raw)})", fix)
    if num < 0 or not math.isfinite(num):
        raise QuantityError(f"must be a number >= 0 (got {preview(raw)})", fix)
    return num, unit


def _unit(unit: str, known: Iterable[str], raw: Any, fix: str) -> None:
    raise QuantityError(f"unknown unit {preview(unit)} (got {preview(raw)})", did_you_mean(unit, known) + fix)


def parse_quantity(raw: Any, kind: str) -> float | bool:
    """'300ms' / 1.5 / '0.1%' / '50/s' / 'false' -> canonical value of `kind`; raises QuantityError."""
    if kind == "bool":
        text = raw.strip().lower() if isinstance(raw, str) else ""
        if isinstance(raw, bool) or text in ("true", "false"):
            return raw if isinstance(raw, bool) else text == "true"
        raise QuantityError(f"expected true or false (got {preview(raw)})", HINTS["bool"])
    if kind == "rps":
        return parse_rate(raw)
    num, unit = _number(raw, HINTS[kind])
    units = UNITS[kind]
    if unit.lower() not in units:
        if kind == "latency" and unit == "%":
            raise QuantityError(f"a latency takes a time unit, not '%' (got {preview(raw)})", HINTS[kind])
        _unit(unit, [u for u in units if u], raw, HINTS[kind])
    if kind == "rate" and unit == "" and num > 1:
        raise QuantityError(
            f"a bare rate is a fraction, and {num:g} is above 1 (got {preview(raw)})",
            f"Did you mean '{num:g}%'?",
        )
    return num * units[unit.lower()]


def parse_duration(value: Any) -> float:
    """Locust `-t` syntax -> seconds: 90, 1.5, "90", "30s", "5m", "1h30m", "2h5m10s"; raises QuantityError."""
    _check_digits(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = value.strip() if isinstance(value, str) else ""
        m = _DURATION.fullmatch(text)
        if re.fullmatch(r"[0-9]+", text):  # ASCII digits: "²".isdigit() is True, int("²") fails
            seconds = float(text)
        elif text and m and any(m.groups()):
            h, mi, s = (int(g or 0) for g in m.groups())
            seconds = float(h * 3600 + mi * 60 + s)
        else:
            raise QuantityError(f"not a duration (got {preview(value)})", DURATION_FIX)
    if not 0 <= seconds <= MAX_DURATION_S:  # also NaN
        raise QuantityError(f"not a duration between 0s and 366 days (got {preview(value)})", DURATION_FIX)
    return seconds


def parse_rate(value: Any) -> float:
    """A rate (20, "20/s", "1200/m", "72000/h") -> per second; raises QuantityError."""
    num, unit = _number(value, RATE_FIX, "a rate")
    per = unit.replace(" ", "").lower()
    if per not in PER:
        _unit(unit, [u for u in PER if u], value, RATE_FIX)
    return num / PER[per]


def parse_ratio(value: Any) -> float:
    """A share between 0 and 1: 0.01 or "1%" -> 0.01; raises QuantityError."""
    share = float(parse_quantity(value, "rate"))
    if share > 1:
        raise QuantityError(f"a share is at most 100% (got {preview(value)})", 'e.g. "1%" or 0.01')
    return share


def parse_size(value: Any) -> int:
    """A size in bytes: 1024, "512KiB", "10MB", "1.5 GiB" -> int bytes; raises QuantityError."""
    num, unit = _number(value, SIZE_FIX, "a size")
    known = {u.lower(): u for u in SIZES}
    if unit == "":
        unit = "B"
    if unit.lower() not in known:
        _unit(unit, SIZES, value, SIZE_FIX)
    size = num * SIZES[known[unit.lower()]]
    if size != int(size):
        raise QuantityError(f"not a whole number of bytes (got {preview(value)})", SIZE_FIX)
    return int(size)


def fmt_num(x: float, digits: int = 3) -> str:
    """`digits` significant digits, never dropping integer digits: 212, 31.4, 0.123, 1049."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    text = f"{x:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_value(kind: str, value: float | bool | None, digits: int = 3) -> str:
    """A canonical value in its display unit: 212ms, 0.1%, 31.4/s, 12s, 3, true; None -> 'no data'."""
    if value is None:
        return "no data"
    if isinstance(value, bool) or kind == "bool":
        return str(bool(value)).lower()
    if kind == "rate":
        return f"{fmt_num(value * 100, digits)}%"
    if kind == "count":
        return str(int(value)) if value == int(value) else fmt_num(value, digits)
    return fmt_num(value, digits) + {"latency": "ms", "rps": "/s", "duration": "s"}.get(kind, "")


def fmt_observed(kind: str, value: float | bool | None, op: str, threshold: float | bool) -> str:
    """`fmt_value` of an observed value beside its rule `op threshold`, with as many more significant
    digits as it takes for the printed figure to sit on the verdict's side of the threshold and not
    on it unless the value is: 49.98/s against `>= 50/s` (a FAIL), never "50/s", which reads as a pass.
    """
    compare = COMPARISONS.get(op)
    if compare is None or value is None or isinstance(value, bool) or isinstance(threshold, bool):
        return fmt_value(kind, value)
    scale = 100.0 if kind == "rate" else 1.0  # rates print in percent: compare what is printed
    exact, limit = float(value) * scale, float(threshold) * scale
    holds = bool(compare(float(value), float(threshold)))
    for digits in range(3, 18):  # 17 significant digits round-trip any float: the loop ends there
        shown = float(fmt_num(exact, digits))
        if bool(compare(shown, limit)) == holds and (shown != limit or exact == limit):
            return fmt_value(kind, value, digits)
    return fmt_value(kind, value, 17)


def fmt_bound(bound: float | None) -> str:
    """' (±0.5ms)' for a percentile's bucket bound, '' when exact/unknown."""
    return f" (±{fmt_num(bound)}ms)" if bound else ""
