"""Baselines: per-endpoint p95/p99/rps/error-rate regressions with tolerance and noise floors."""

from __future__ import annotations

import pytest

from erpload.report.baseline import Comparison, compare, render_table
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
