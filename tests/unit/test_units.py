"""erpload.core.units: ONE parser per quantity (duration, rate, size, share), ONE did-you-mean, bounded previews."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from erpload.core.units import (
    DURATION_FIX,
    QuantityError,
    did_you_mean,
    fmt_observed,
    fmt_value,
    format_possibilities,
    parse_duration,
    parse_quantity,
    parse_rate,
    parse_ratio,
    parse_size,
    preview,
)

PACKAGE = Path(__file__).resolve().parents[2] / "lib" / "erpload"
SHARED = {"parse_duration", "parse_timespan", "parse_rate", "parse_ratio", "parse_size", "did_you_mean"}


def test_each_parser_and_did_you_mean_is_defined_once_in_core_units() -> None:
    """A second parse_duration (or did_you_mean) anywhere in the package is the bug this issue removed."""
    defined = {
        (str(path.relative_to(PACKAGE)), node.name)
        for path in PACKAGE.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and node.name in SHARED
    }
    assert {where for where, _ in defined} == {"core/units.py"}, sorted(defined)
    assert {name for _, name in defined} == SHARED - {"parse_timespan"}


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        (" 2h5m10s ", 7510.0),
    ],
)
def test_parse_duration_reads_locust_run_time_syntax(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == seconds


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("²", "not a duration (got '²')"),  # "²".isdigit() is True; int("²") raises a bare ValueError
        ("٣", "not a duration (got '٣')"),  # an Arabic-Indic 3: \d matches it, [0-9] does not
        ("1.5m", "not a duration (got '1.5m')"),
        (-1, "not a duration between 0s and 366 days (got -1)"),
        (float("nan"), "not a duration between 0s and 366 days (got nan)"),
        (10**400, "a number longer than 30 digits (got <a number of about 400 digits>)"),
        ("9" * 5000 + "s", "a number longer than 30 digits (got '9999999999"),
        ("400d", "not a duration (got '400d')"),
        ([5], "not a duration (got [5])"),
    ],
)
def test_parse_duration_refuses_with_the_value_and_the_fix(raw: object, message: str) -> None:
    with pytest.raises(QuantityError) as err:
        parse_duration(raw)
    assert err.value.message.startswith(message) and len(err.value.message) < 120
    assert err.value.fix


def test_parse_duration_fix_is_the_syntax() -> None:
    with pytest.raises(QuantityError) as err:
        parse_duration("5 minutes")
    assert err.value.fix == DURATION_FIX and "1h30m" in DURATION_FIX


@pytest.mark.parametrize(
    ("raw", "per_s"),
    [
        (20, 20.0),
        ("20", 20.0),
        ("20/s", 20.0),
        ("1200/m", 20.0),
        ("72000/h", 20.0),
        ("2.5 / s", 2.5),
        (0, 0.0),
    ],
)
def test_parse_rate(raw: object, per_s: float) -> None:
    assert parse_rate(raw) == per_s
    assert parse_quantity(raw, "rps") == per_s  # the SLA's rps thresholds read rates the same way


@pytest.mark.parametrize(
    ("raw", "message", "fix"),
    [
        ("20/min", "unknown unit '/min' (got '20/min')", "Did you mean '/m'? "),
        ("20/d", "unknown unit '/d' (got '20/d')", '"1200/m"'),
        ("fast", "not a rate (got 'fast')", '"20/s"'),
        ("-3/s", "must be a number >= 0 (got '-3/s')", '"20/s"'),
        (True, "expected a number (got True)", '"20/s"'),
    ],
)
def test_parse_rate_refuses(raw: object, message: str, fix: str) -> None:
    with pytest.raises(QuantityError) as err:
        parse_rate(raw)
    assert err.value.message == message and fix in err.value.fix


@pytest.mark.parametrize(
    ("raw", "size"),
    [
        (1024, 1024),
        ("1024", 1024),
        ("100B", 100),
        ("512KiB", 512 * 1024),
        ("10MB", 10_000_000),
        ("10 mb", 10_000_000),
        ("1.5 GiB", 3 * 2**29),
        ("2KB", 2000),
        ("0", 0),
    ],
)
def test_parse_size(raw: object, size: int) -> None:
    assert parse_size(raw) == size and isinstance(parse_size(raw), int)


@pytest.mark.parametrize(
    ("raw", "message", "fix"),
    [
        ("10MiBs", "unknown unit 'MiBs' (got '10MiBs')", "Did you mean 'MiB'? "),
        ("10 TB", "unknown unit 'TB' (got '10 TB')", "512KiB, 10MB"),
        ("0.5B", "not a whole number of bytes (got '0.5B')", "512KiB"),
        ("-1KB", "must be a number >= 0 (got '-1KB')", "512KiB"),
        ("big", "not a size (got 'big')", "512KiB"),
        (None, "expected a number (got None)", "512KiB"),
        ("9" * 40 + "MB", "a number longer than 30 digits", "at most 30 digits"),
    ],
)
def test_parse_size_refuses(raw: object, message: str, fix: str) -> None:
    with pytest.raises(QuantityError) as err:
        parse_size(raw)
    assert err.value.message.startswith(message) and fix in err.value.fix


def test_parse_ratio_is_a_share_between_0_and_1() -> None:
    assert parse_ratio("1%") == 0.01 and parse_ratio(0.25) == 0.25 and parse_ratio("100%") == 1.0
    for bad, message in [
        ("150%", "at most 100%"),
        (2, "above 1"),
        ("x%", "not a number"),
        (True, "expected"),
    ]:
        with pytest.raises(QuantityError, match=message):
            parse_ratio(bad)


def test_did_you_mean_is_clicks_format_possibilities() -> None:
    assert format_possibilities(["users"]) == "Did you mean 'users'?"
    assert format_possibilities(["b", "a"]) == "(Possible options: a, b)"
    assert format_possibilities([]) == ""
    assert did_you_mean("user", ["users", "roles"]) == "Did you mean 'users'? "
    assert did_you_mean("USERS", ["users", "user"]) == "Did you mean 'users'? "  # exact, ignoring case
    assert did_you_mean("p9", ["p90", "p95", "p99"], n=3) == "(Possible options: p90, p95, p99) "
    assert did_you_mean("zzz", ["users"]) == "" and did_you_mean(["users"], ["users"]) == ""


class _Counted:
    calls = 0

    def __repr__(self) -> str:
        _Counted.calls += 1
        return "x"


def test_preview_never_builds_the_whole_repr() -> None:
    """An anchor bomb is a list of 9 references to a list of 9 references ...: repr() of 9**10 never ends."""
    _Counted.calls = 0
    item: object = [_Counted()] * 9
    for _ in range(6):
        item = [item] * 9  # 9**7 leaves in a few hundred bytes; repr() would call _Counted 4.8 million times
    text = preview(item)
    assert len(text) <= 60 and text.startswith("[[[")
    assert _Counted.calls <= 10
    assert preview(10**5000) == "<a number of about 5000 digits>"  # repr() refuses past 4300 digits
    assert preview("x" * 1_000_000).startswith("'xxx") and len(preview("x" * 1_000_000)) <= 60
    assert preview({"users": 10}) == "{'users': 10}" and preview("5 minutes") == "'5 minutes'"


@pytest.mark.parametrize(
    ("kind", "value", "op", "threshold", "text"),
    [
        ("rps", 49.98, ">=", 50.0, "49.98/s"),  # a FAIL that 3 digits would print as "50/s"
        ("rps", 50.02, ">", 50.0, "50.02/s"),  # a PASS that would print on the threshold
        ("rps", 49.98, ">", 50.0, "49.98/s"),  # on the threshold while it is not
        ("latency", 499.7, "<", 500.0, "499.7ms"),  # a PASS that would print as "500ms"
        ("latency", 1049.6, "<", 1050.0, "1049.6ms"),  # integer digits kept, one decimal more
        ("rate", 0.0009999, "<", 0.001, "0.09999%"),  # rates compare as printed, in percent
        ("rps", 49.99999, ">=", 50.0, "49.99999/s"),
        ("rps", 31.4, ">", 50.0, "31.4/s"),  # far from the threshold: 3 digits as ever
        ("rps", 50.0, ">=", 50.0, "50/s"),  # on it for real
        ("count", 3.0, "==", 0.0, "3"),
        ("bool", True, "==", True, "true"),
    ],
)
def test_fmt_observed_never_prints_a_value_on_the_wrong_side_of_its_threshold(
    kind: str, value: float, op: str, threshold: float, text: str
) -> None:
    assert fmt_observed(kind, value, op, threshold) == text
    if text != fmt_value(kind, value):  # the 3-digit figure was the misleading one
        assert fmt_value(kind, value) in ("50/s", "500ms", "1050ms", "0.1%")


def test_fmt_observed_of_no_data_or_an_unknown_operator_is_fmt_value() -> None:
    assert fmt_observed("rps", None, ">=", 50.0) == "no data"
    assert fmt_observed("rps", 49.98, "~", 50.0) == "50/s"
