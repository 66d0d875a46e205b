"""Baselines: per-endpoint p95/p99/rps/error-rate regressions with tolerance and noise floors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from erpload.core.errors import ConfigError, ExitCode
from erpload.report.baseline import Comparison, compare, load_baseline, render_table
from erpload.report.summary import EndpointSummary, ProfileInfo, RunSummary


def _ep(
    name: str,
    p95: float = 200,
    p99: float = 300,
    rps: float = 50,
    count: int = 1000,
    failures: int = 0,
    method: str = "GET",
) -> EndpointSummary:
    return EndpointSummary(method, name, count=count, failures=failures, rps=rps, p95=p95, p99=p99)


def _run(*endpoints: EndpointSummary, started: str = "2024-01-01T00:00:00Z") -> dict:
    total = EndpointSummary(
        "",
        "Aggregated",
        count=sum(e.count for e in endpoints),
        failures=sum(e.failures for e in endpoints),
        rps=sum(e.rps for e in endpoints),
        p95=max(e.p95 or 0 for e in endpoints),
        p99=max(e.p99 or 0 for e in endpoints),
    )
    summary = RunSummary(
        "pass", 0, ProfileInfo("peak-200"), started_at=started, requests=list(endpoints), total=total
    )
    return summary.to_dict()


def _flags(c: Comparison) -> list[tuple[str, str]]:
    return [(e.label, d.metric) for e, d in c.regressions]


BASE = _run(_ep("/a"), _ep("/b"), _ep("/login", method="POST"))


def test_identical_runs_have_no_regressions() -> None:
    c = compare(BASE, BASE)
    assert c.regressions == []
    assert [e.label for e in c.endpoints] == ["GET /a", "GET /b", "POST /login", "Aggregated"]
    assert all(d.change == 0 for e in c.endpoints for d in e.deltas if d.change is not None)


@pytest.mark.parametrize(
    ("current", "flags"),
    [
        (_ep("/a", p95=221), [("GET /a", "p95")]),  # +10.5 %
        (_ep("/a", p95=219), []),  # +9.5 %: within tolerance
        (_ep("/a", p99=400), [("GET /a", "p99")]),
        (_ep("/a", p95=150, p99=100), []),  # faster is never a regression
        (_ep("/a", rps=44), [("GET /a", "rps")]),  # -12 %
        (_ep("/a", rps=46), []),  # -8 %
        (_ep("/a", rps=80), []),
        (_ep("/a", failures=10), [("GET /a", "error_rate")]),  # 0 -> 1 %
        (_ep("/a", failures=1, count=100_000), []),  # 0 -> 0.001 %: under the absolute floor
    ],
)
def test_regression_flags(current: EndpointSummary, flags: list[tuple[str, str]]) -> None:
    cur = _run(current, _ep("/b"), _ep("/login", method="POST"))
    got = [f for f in _flags(compare(cur, BASE)) if f[0] != "Aggregated"]
    assert got == flags


def test_error_rate_needs_both_relative_and_absolute_increase() -> None:
    base = _run(_ep("/a", failures=50))  # 5 %
    assert _flags(compare(_run(_ep("/a", failures=52)), base)) == []  # +4 % relative: within tolerance
    flagged = _flags(compare(_run(_ep("/a", failures=60)), base))  # 6 %: +20 % relative and +1 point
    assert ("GET /a", "error_rate") in flagged
    tiny = _run(_ep("/a", failures=1, count=10_000))  # 0.01 %
    assert _flags(compare(_run(_ep("/a", failures=5, count=10_000)), tiny)) == []  # 5x, but only +0.04 points


def test_latency_noise_floor_for_tiny_latencies() -> None:
    base = _run(_ep("/fast", p95=2.0, p99=3.0))
    assert _flags(compare(_run(_ep("/fast", p95=2.8, p99=3.9)), base)) == []  # +40 % but under 1 ms
    assert _flags(compare(_run(_ep("/fast", p95=3.5, p99=3.0)), base)) == [
        ("GET /fast", "p95"),
        ("Aggregated", "p95"),
    ]
    assert _flags(compare(_run(_ep("/fast", p95=2.8)), base, latency_epsilon_ms=0.5)) != []


def test_tolerance_is_configurable_and_validated() -> None:
    cur = _run(_ep("/a", p95=221), _ep("/b"), _ep("/login", method="POST"))
    assert _flags(compare(cur, BASE, tolerance=0.2)) == []
    with pytest.raises(ValueError, match="tolerance must be within 0..1"):
        compare(cur, BASE, tolerance=10)


def test_endpoints_on_one_side_only_are_listed() -> None:
    cur = _run(_ep("/a"), _ep("/new"))
    c = compare(cur, BASE)
    assert c.only_current == ["GET /new"]
    assert c.only_baseline == ["GET /b", "POST /login"]
    assert [e.label for e in c.endpoints] == ["GET /a", "Aggregated"]


def test_not_a_summary_is_rejected() -> None:
    with pytest.raises(ValueError, match="not an erpload summary"):
        compare({"stats": []}, BASE)


def test_to_dict_round_trip_and_flat_regressions() -> None:
    cur = _run(_ep("/a", p95=300), _ep("/b"), _ep("/login", method="POST"), started="2024-02-01T00:00:00Z")
    c = compare(cur, BASE)
    data = c.to_dict()
    assert data["regressions"] == [
        {
            "label": "GET /a",
            "metric": "p95",
            "baseline": 200,
            "current": 300,
            "change": 0.5,
            "regressed": True,
        },
        {
            "label": "Aggregated",
            "metric": "p95",
            "baseline": 200,
            "current": 300,
            "change": 0.5,
            "regressed": True,
        },
    ]
    back = Comparison.from_dict(data)
    assert back == c
    assert (c.baseline_label, c.current_label) == (
        "peak-200 2024-01-01T00:00:00Z",
        "peak-200 2024-02-01T00:00:00Z",
    )


def test_render_text_table() -> None:
    cur = _run(_ep("/a", p95=300), _ep("/b"), _ep("/login", method="POST"))
    text = render_table(compare(cur, BASE), fmt="text")
    lines = text.splitlines()
    assert lines[0] == (
        "Baseline peak-200 2024-01-01T00:00:00Z vs current peak-200 2024-01-01T00:00:00Z: 2 regression(s), tolerance 10%"
    )
    row = next(line for line in lines if "GET /a" in line)
    assert row.startswith("✗  GET /a") and "REGRESSED 200ms -> 300ms (+50%)" in row
    assert "50/s -> 50/s (+0%)" in row and "0% -> 0%" in row
    assert next(line for line in lines if "GET /b" in line).startswith("✓  GET /b")
    header = lines[2]
    assert header.split() == ["request", "p95", "p99", "rps", "error", "rate"]


def test_render_markdown_table_escapes_and_limits() -> None:
    base = _run(*[_ep(f"/x{i}|<b>") for i in range(5)])
    cur = _run(*[_ep(f"/x{i}|<b>", p95=400) for i in range(5)])
    md = render_table(compare(cur, base), fmt="markdown", only_regressions=True, limit=2)
    assert "| ✗ | GET /x0\\|&lt;b&gt; | **REGRESSED** 200ms -&gt; 400ms (+100%) |" in md
    assert md.count("| ✗ |") == 2 and "... 4 more endpoint(s) not shown" in md
    assert (
        render_table(compare(base, base), fmt="markdown", only_regressions=True).splitlines()[-1]
        == "No regressions."
    )
    with pytest.raises(ValueError, match="unknown format"):
        render_table(compare(base, base), fmt="html")


def test_only_side_lists_are_capped_in_tables() -> None:
    cur = _run(_ep("/a"), *[_ep(f"/n{i:02d}") for i in range(30)])
    text = render_table(compare(cur, BASE))
    assert "only in current: GET /n00" in text and "(30 in all)" in text and "GET /n29" not in text
    assert "only in baseline: GET /b, POST /login" in text


# -- load_baseline: a missing, corrupt or malformed baseline is exit 2 before any load -------------


def _problems(path: Path) -> list[tuple[str, str, str]]:
    with pytest.raises(ConfigError) as info:
        load_baseline(path)
    assert info.value.exit_code == ExitCode.CONFIG_INVALID
    assert info.value.source == f"the baseline {path}"
    return [(p.where, p.message, p.fix) for p in info.value.problems]


def test_a_good_baseline_loads_as_the_dict_compare_takes(tmp_path: Path) -> None:
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(BASE))
    assert load_baseline(path) == BASE
    assert compare(BASE, load_baseline(path)).regressions == []


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    [(where, what, fix)] = _problems(path)
    assert (where, what) == (str(path), "no such file") and "--report-dir DIR writes DIR/summary.json" in fix


def test_a_report_directory_suggests_its_summary_json(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps(BASE))
    [(where, what, fix)] = _problems(tmp_path)
    assert (
        what == "is a directory, not a summary.json" and fix == f"Did you mean {tmp_path / 'summary.json'}?"
    )


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        ('{"schema_version": 1,\n  "requests": [}', ":2:16", "not valid JSON: Expecting value"),
        ("", ":1:1", "not valid JSON: Expecting value (the file is empty)"),
        ('{"schema_version": 1, "total": {"p95": NaN}}', "", "NaN is not a JSON number"),
    ],
)
def test_corrupt_json_names_line_and_column(tmp_path: Path, text: str, where: str, what: str) -> None:
    path = tmp_path / "summary.json"
    path.write_text(text)
    [(got_where, got_what, _)] = _problems(path)
    assert got_where == f"{path}{where}" and what in got_what


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"schema_version": 1, "requests": "abc"},
            [("requests", "must be a list of endpoint objects (got a string 'abc')")],
        ),
        ([1, 2], [("(top level)", "must be a JSON object (got a list)")]),
        ({"requests": []}, [("schema_version", "missing (got keys: requests)")]),
        ({"schema_version": "1"}, [("schema_version", "must be a whole number >= 1 (got a string '1')")]),
        ({"schema_version": 99}, [("schema_version", "99 is newer than this erpload reads (1)")]),
        (
            {"schema_version": 1, "requests": [{"method": "GET", "name": "/a", "p95": "fast", "count": -1}]},
            [
                ("requests[0].count", "must be a whole number >= 0 (got a number -1)"),
                ("requests[0].p95", "must be milliseconds >= 0 or null (got a string 'fast')"),
            ],
        ),
        (
            {"schema_version": 1, "requests": [["GET", "/a"]], "roles": [{"name": 5}], "total": 3},
            [
                ("requests[0]", "must be an object with method, name, count, ... (got a list ['GET', '/a'])"),
                ("roles[0].method", "must be a string (missing)"),
                ("roles[0].name", "must be a string (got a number 5)"),
                ("total", "must be an object (got a number 3)"),
            ],
        ),
        (
            {"schema_version": 1, "profile": {"name": 7}},
            [("profile.name", "must be a string (got a number 7)")],
        ),
        ({"schema_version": 1, "sla": [{"rule": "x"}]}, [("(structure)", "cannot be read as a run summary")]),
        (
            {"schema_version": 1, "verdict": None, "exit_code": "0"},
            [
                ("verdict", "must be a string such as 'pass' (got null None)"),
                ("exit_code", "must be a whole number (got a string '0')"),
            ],
        ),
    ],
)
def test_structure_is_checked_field_by_field(tmp_path: Path, data: object, expected: list) -> None:
    path = tmp_path / "summary.json"
    if isinstance(data, dict) and "schema_version" in data and data["schema_version"] == 1:
        data = {"verdict": "pass", "exit_code": 0, **data}  # what every summary.json has
    path.write_text(json.dumps(data))
    got = _problems(path)
    assert [(w, m[: len(e)]) for (w, m, _), (_, e) in zip(got, expected, strict=False)] == expected, got
    assert len(got) == len(expected), got
    assert all(fix for _, _, fix in got)
