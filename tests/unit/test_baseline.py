"""Baselines: per-endpoint verdicts from bootstrap CIs on synthetic histograms, floors, noise band, reports."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from erpload.cli import main as cli_main
from erpload.core.errors import ConfigError, ExitCode
from erpload.core.histogram import Histogram, bucket_bound, nearest_rank
from erpload.report.baseline import Comparison, compare, load_baseline, render_table
from erpload.report.html import render_html
from erpload.report.markdown import render_markdown
from erpload.report.model import PERCENTILES
from erpload.report.regression import percentile_diff, proportion_diff, rate_ratio
from erpload.report.summary import EndpointSummary, ProfileInfo, RunSummary


def _samples(
    n: int, median_ms: float, seed: int, scale: float = 1.0, shift: float = 0.0, sigma: float = 0.35
) -> list[float]:
    """Log-normal latencies (sigma 0.35: p95 ~ 1.8 x median), optionally scaled and shifted."""
    rng = random.Random(seed)
    return [rng.lognormvariate(math.log(median_ms), sigma) * scale + shift for _ in range(n)]


def _ep(name: str, samples: list[float], failures: int = 0, method: str = "GET") -> EndpointSummary:
    hist = Histogram.from_samples(samples)
    return _from_hist(method, name, hist, failures)


def _from_hist(
    method: str, name: str, hist: Histogram, failures: int = 0, secs: float = 60.0
) -> EndpointSummary:
    e = EndpointSummary(method, name, count=hist.count, failures=failures, rps=round(hist.count / secs, 3))
    e.min, e.max, e.histogram = hist.min, hist.max, hist.to_dict()
    for key, p in PERCENTILES.items():
        value = hist.percentile(p)
        setattr(e, key, value)
        if value is not None:
            e.bounds[key] = bucket_bound(value)
    return e


def _run(*endpoints: EndpointSummary, model: str = "closed", secs: float = 60.0, started: str = "T0") -> dict:
    total = Histogram()
    for e in endpoints:
        total = total.merge(Histogram.from_dict(e.histogram, e.min, e.max))
    agg = _from_hist("", "Aggregated", total, sum(e.failures for e in endpoints), secs)
    summary = RunSummary(
        "pass",
        0,
        ProfileInfo("peak-200"),
        started_at=started,
        duration_s=secs,
        requests=list(endpoints),
        total=agg,
        load={"model": model},
    )
    return summary.to_dict()


def _verdicts(c: Comparison) -> dict[str, str]:
    return {e.label: e.verdict_text for e in c.endpoints}


def _flags(c: Comparison) -> list[tuple[str, str]]:
    return [(e.label, d.metric) for e, d in c.regressions]


N = 4000  # big n: p95 CI a few % wide


def _base(seed: int = 1) -> dict:
    return _run(
        _ep("/a", _samples(N, 50, seed)),
        _ep("/b", _samples(N, 120, seed + 1)),
        _ep("/login", _samples(N, 30, seed + 2), method="POST"),
    )


def test_identical_runs_are_unchanged_everywhere() -> None:
    base = _base()
    c = compare(base, base)
    assert c.regressions == [] and c.problem == ""
    assert _verdicts(c) == dict.fromkeys(["GET /a", "GET /b", "POST /login", "Aggregated"], "unchanged")
    p95 = c.endpoints[0].deltas[0]
    assert (p95.metric, p95.effect, p95.n_baseline, p95.n_current) == ("p95", 0, N, N)
    assert p95.ci_low < 0 < p95.ci_high and p95.floor_from == "tolerance"


def test_two_samples_of_one_distribution_are_not_flagged() -> None:
    c = compare(_base(seed=100), _base(seed=1))  # independent draws: only sampling noise
    assert c.regressions == [], render_table(c)
    assert set(_verdicts(c).values()) <= {"unchanged", "inconclusive (CI reaches past the floor)"}


def test_a_30_percent_slower_endpoint_with_big_n_is_regressed_and_only_it() -> None:
    cur = _run(
        _ep("/a", _samples(N, 50, 7, scale=1.3)),
        _ep("/b", _samples(N, 120, 8)),
        _ep("/login", _samples(N, 30, 9), method="POST"),
    )
    c = compare(cur, _base())
    v = _verdicts(c)
    assert v["GET /a"] == "regressed" and v["GET /b"] == v["POST /login"] == "unchanged", render_table(c)
    p95 = c.endpoints[0].deltas[0]
    assert p95.ci_low > p95.floor > 0 and 0.2 < p95.change < 0.4
    assert ("GET /a", "p95") in _flags(c)


def test_faster_is_improved_never_regressed() -> None:
    cur = _run(_ep("/a", _samples(N, 50, 7, scale=0.7)), _ep("/b", _samples(N, 120, 8)))
    v = _verdicts(compare(cur, _base()))
    assert v["GET /a"] == "improved" and v["GET /b"] == "unchanged"


def test_small_n_is_inconclusive_even_when_much_slower() -> None:
    base = _run(_ep("/a", _samples(60, 50, 1)), _ep("/big", _samples(N, 50, 2)))
    cur = _run(_ep("/a", _samples(60, 50, 3, scale=1.5)), _ep("/big", _samples(N, 50, 4)))
    c = compare(cur, base)
    assert _verdicts(c)["GET /a"] == "inconclusive (n < 100)" and c.regressions == []
    p95, p99 = c.endpoints[0].deltas[:2]
    assert p95.reason == "n < 100" and p99.reason == "n < 500" and p95.ci_low is None
    assert (p95.n_baseline, p95.n_current) == (60, 60)
    assert _verdicts(compare(cur, base, min_samples=50))["GET /a"] == "regressed"  # MIN is a setting


def test_nothing_judgeable_is_a_problem_not_a_pass() -> None:
    tiny = _run(_ep("/a", _samples(30, 50, 1)))
    c = compare(tiny, tiny)
    assert c.regressions == [] and "has 100 samples on both sides" in c.problem
    assert any(n.startswith("not evaluated:") for n in c.notes)
    assert "no endpoint in common" in compare(_run(_ep("/x", _samples(N, 5, 1))), _base()).problem


def test_floor_is_never_under_1_ms() -> None:
    base = _run(_ep("/fast", _samples(20_000, 8, 1, sigma=0.1)))  # p95 9 ms, a tight CI
    plus1 = _run(_ep("/fast", _samples(20_000, 8, 2, sigma=0.1, shift=1.0)))  # +11 % at p95
    d = compare(plus1, base, tolerance=0.0).endpoints[0].deltas[0]
    assert (d.floor, d.floor_from, d.verdict) == (1.0, "1 ms", "unchanged")
    assert d.ci_low == 1, "the change is real; only the floor keeps it from being flagged"
    plus2 = _run(_ep("/fast", _samples(20_000, 8, 2, sigma=0.1, shift=2.0)))
    assert compare(plus2, base, tolerance=0.0).endpoints[0].deltas[0].verdict == "regressed"
    with pytest.raises(ValueError, match=">= 1 ms"):
        compare(plus1, base, latency_epsilon_ms=0.5)


def test_floor_is_never_under_the_bucket_width() -> None:
    base = _run(_ep("/slow", _samples(20_000, 1500, 1, sigma=0.01)))  # 10 ms buckets above 1 s
    nudge = _run(_ep("/slow", _samples(20_000, 1500, 2, sigma=0.01, shift=8)))
    d = compare(nudge, base, tolerance=0.0).endpoints[0].deltas[0]
    assert (d.floor, d.floor_from, d.verdict) == (10.0, "bucket", "unchanged")
    shove = _run(_ep("/slow", _samples(20_000, 1500, 2, sigma=0.01, shift=30)))
    assert compare(shove, base, tolerance=0.0).endpoints[0].deltas[0].verdict == "regressed"


def test_tolerance_sets_the_floor() -> None:
    cur = _run(_ep("/a", _samples(N, 50, 1, scale=1.15)))
    base = _run(_ep("/a", _samples(N, 50, 1)))
    assert _verdicts(compare(cur, base, tolerance=0.05))["GET /a"] == "regressed"
    assert _verdicts(compare(cur, base, tolerance=0.25))["GET /a"] == "unchanged"
    with pytest.raises(ValueError, match="tolerance must be within 0..1"):
        compare(cur, base, tolerance=10)


def test_noise_band_from_several_baseline_runs_widens_the_floor() -> None:
    runs = [_run(_ep("/a", _samples(N, 50, i, scale=s))) for i, s in enumerate((0.9, 1.0, 1.12))]
    cur = _run(_ep("/a", _samples(N, 50, 9, scale=1.08)))  # within the baseline runs' own spread
    pooled = compare(cur, runs, tolerance=0.03)
    d = pooled.endpoints[0].deltas[0]
    assert (d.floor_from, d.n_baseline, pooled.baseline_runs) == ("noise", 3 * N, 3)
    assert d.verdict == "unchanged" and d.ci_low > 0, render_table(pooled)
    assert compare(cur, runs[1], tolerance=0.03).endpoints[0].deltas[0].verdict == "regressed"
    assert any("3 runs pooled" in n for n in pooled.notes)


def test_verdicts_are_reproducible_and_seeded() -> None:
    cur, base = _run(_ep("/a", _samples(500, 50, 1))), _run(_ep("/a", _samples(500, 50, 2)))
    one, two = compare(cur, base).to_dict(), compare(cur, base).to_dict()
    assert one == two
    other = compare(cur, base, seed=7)
    assert other.seed == 7 and other.endpoints[0].verdict == compare(cur, base).endpoints[0].verdict


def test_bootstrap_from_the_histogram_matches_resampling_n_values() -> None:
    """One Beta draw per replicate == sorting a resample of n values and taking the nearest rank."""
    base_raw, cur_raw = _samples(300, 40, 1), _samples(300, 40, 2, scale=1.1)
    base_h, cur_h = Histogram.from_samples(base_raw), Histogram.from_samples(cur_raw)
    ci = percentile_diff(base_h, cur_h, 0.95, random.Random(3), resamples=4000)
    rng, r = random.Random(4), nearest_rank(300, 0.95)
    naive = sorted(
        sorted(rng.choices(cur_raw, k=300))[r - 1] - sorted(rng.choices(base_raw, k=300))[r - 1]
        for _ in range(4000)
    )
    lo, hi = naive[100], naive[3899]
    assert abs(ci.low - lo) < 1.5 and abs(ci.high - hi) < 1.5, (ci, lo, hi)  # 1 ms buckets + MC error


def test_newcombe_interval_matches_the_published_example() -> None:
    ci = proportion_diff(48, 80, 56, 70)  # Newcombe 1998, example (a), method 10
    assert (round(ci.estimate, 4), round(ci.low, 4), round(ci.high, 4)) == (0.2, 0.0524, 0.3339)
    ratio = rate_ratio(1000, 100.0, 1000, 100.0)
    assert ratio.estimate == 0 and -0.12 < ratio.low < -0.08 and 0.08 < ratio.high < 0.12


def test_error_rate_needs_a_ci_beyond_the_absolute_floor() -> None:
    a = _samples(1000, 50, 1)
    base = _run(_ep("/a", a))
    assert _flags(compare(_run(_ep("/a", a, failures=20)), base)) == [
        ("GET /a", "error_rate"),
        ("Aggregated", "error_rate"),
    ]
    assert _flags(compare(_run(_ep("/a", a, failures=1)), base)) == []  # 0 -> 0.1 %: within the CI
    broken = _run(_ep("/a", a[:30], failures=30), _ep("/b", _samples(N, 5, 3)))
    small = _run(_ep("/a", a[:30]), _ep("/b", _samples(N, 5, 4)))
    assert ("GET /a", "error_rate") in _flags(compare(broken, small)), "n < MIN still catches 0 -> 100 %"


def test_rps_is_compared_only_in_open_model_runs_or_when_asked() -> None:
    a = _samples(N, 50, 1)
    closed_base, closed_cur = _run(_ep("/a", a)), _run(_ep("/a", a), secs=90.0)  # rps -33 %
    c = compare(closed_cur, closed_base)
    rps = c.endpoints[0].deltas[2]
    assert (rps.verdict, c.rps_compared, _flags(c)) == ("not compared", False, [])
    assert any(n.startswith("rps not compared: closed model") for n in c.notes)
    assert ("GET /a", "rps") in _flags(compare(closed_cur, closed_base, compare_rps=True))
    open_c = compare(_run(_ep("/a", a), model="open", secs=90.0), _run(_ep("/a", a), model="open"))
    assert open_c.rps_compared and ("GET /a", "rps") in _flags(open_c)
    same_rate = compare(_run(_ep("/a", a), model="open"), _run(_ep("/a", a), model="open"))
    assert same_rate.endpoints[0].deltas[2].verdict == "unchanged"


def test_endpoints_on_one_side_only_are_listed() -> None:
    cur = _run(_ep("/a", _samples(N, 50, 1)), _ep("/new", _samples(N, 50, 2)))
    c = compare(cur, _base())
    assert (c.only_current, c.only_baseline) == (["GET /new"], ["GET /b", "POST /login"])
    assert [e.label for e in c.endpoints] == ["GET /a", "Aggregated"]


def test_bad_inputs_and_settings_are_rejected() -> None:
    with pytest.raises(ValueError, match="not an erpload summary"):
        compare({"stats": []}, _base())
    for kw, match in (
        ({"min_samples": 5}, "min_samples"),
        ({"confidence": 1.5}, "confidence"),
        ({"resamples": 10}, "resamples"),
    ):
        with pytest.raises(ValueError, match=match):
            compare(_base(), _base(), **kw)
    with pytest.raises(ValueError, match="no baseline"):
        compare(_base(), [])


def test_to_dict_round_trip_and_old_comparisons_still_read() -> None:
    cur = _run(_ep("/a", _samples(N, 50, 7, scale=1.3)), _ep("/b", _samples(N, 120, 8)))
    c = compare(cur, _base())
    data = json.loads(json.dumps(c.to_dict()))
    assert Comparison.from_dict(data) == c
    assert data["counts"]["regressed"] >= 1 and data["problem"] == ""
    flat = data["regressions"][0]
    assert flat["label"] == "GET /a" and flat["verdict"] == "regressed" and flat["ci_low"] > flat["floor"]
    old = {
        "tolerance": 0.1,
        "error_epsilon": 0.001,
        "latency_epsilon_ms": 1.0,
        "endpoints": [
            {
                "method": "GET",
                "name": "/a",
                "deltas": [
                    {"metric": "p95", "baseline": 200, "current": 300, "change": 0.5, "regressed": True}
                ],
            }
        ],
    }
    back = Comparison.from_dict(old)
    assert back.endpoints[0].verdict == "regressed" and len(back.regressions) == 1 and back.problem == ""
    assert "200ms -> 300ms (+50%)" in render_table(back)


def test_text_table_shows_verdict_n_effect_and_ci() -> None:
    cur = _run(
        _ep("/a", _samples(N, 50, 7, scale=1.3)),
        _ep("/b", _samples(N, 120, 8)),
        _ep("/tiny", _samples(9, 5, 1)),
    )
    base = _run(
        _ep("/a", _samples(N, 50, 1)), _ep("/b", _samples(N, 120, 2)), _ep("/tiny", _samples(9, 5, 2))
    )
    text = render_table(compare(cur, base), fmt="text")
    lines = text.splitlines()
    assert lines[0].startswith("Baseline peak-200 T0 vs current peak-200 T0: ")
    assert "95% CI (bootstrap, 2000 resamples, seed 0), MIN n 100" in lines[0]
    assert lines[2].split() == ["verdict", "request", "n", "base/cur", "p95", "p99", "rps", "error", "rate"]
    row = next(line for line in lines if "GET /a " in line)
    assert row.startswith("✗  regressed") and f"{N}/{N}" in row and "REGRESSED " in row
    assert "Δ +" in row and "CI [+" in row and "floor ±" in row and "not compared" in row
    assert next(line for line in lines if "GET /tiny" in line).startswith("?  inconclusive (n < 100)")


def test_markdown_table_escapes_limits_and_feeds_summary_md() -> None:
    base = _run(*[_ep(f"/x{i}|<b>", _samples(N, 50, i)) for i in range(5)])
    cur = _run(*[_ep(f"/x{i}|<b>", _samples(N, 50, i, scale=1.5)) for i in range(5)])
    c = compare(cur, base)
    md = render_table(c, fmt="markdown", only_regressions=True, limit=2)
    assert "| ✗ | **regressed** | GET /x0\\|&lt;b&gt; | 4000/4000 | **REGRESSED** " in md
    assert md.count("| ✗ |") == 2 and "... 4 more endpoint(s) not shown" in md
    assert "No regressions." in render_table(compare(base, base), fmt="markdown", only_regressions=True)
    with pytest.raises(ValueError, match="unknown format"):
        render_table(c, fmt="html")
    summary = RunSummary.from_dict({**cur, "baseline": c.to_dict()})
    assert "## Baseline" in render_markdown(summary) and "**REGRESSED**" in render_markdown(summary)
    page = render_html(summary)
    assert 'id="baseline"' in page and "Δ +" in page and "CI [" in page


def test_erpload_compare_pools_several_baselines_and_fails_closed(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    paths = []
    for i, run in enumerate(
        [
            _base(1),
            _base(2),
            _run(_ep("/a", _samples(N, 50, 3, scale=1.5))),
            _run(_ep("/a", _samples(9, 5, 1))),
        ]
    ):
        paths.append(tmp_path / f"s{i}.json")
        paths[-1].write_text(json.dumps(run))
    assert cli_main(["compare", str(paths[0]), str(paths[1]), str(paths[0])]) == ExitCode.PASS
    assert "(+1 pooled)" in capsys.readouterr().out
    assert cli_main(["compare", str(paths[0]), str(paths[2]), "--markdown"]) == ExitCode.SLA_BREACHED
    assert "| ✗ | **regressed** | GET /a |" in capsys.readouterr().out
    assert cli_main(["compare", str(paths[3]), str(paths[3])]) == ExitCode.RUN_INVALID
    assert "could not be evaluated: no endpoint" in capsys.readouterr().err
    assert (
        cli_main(["compare", str(paths[0]), str(paths[0]), "--min-samples", "3"]) == ExitCode.CONFIG_INVALID
    )
    assert "--min-samples: must be a whole number >= 20 (got 3)" in capsys.readouterr().err


# -- load_baseline: a missing, corrupt or malformed baseline is exit 2 before any load -------------

BASE = _run(_ep("/a", _samples(200, 50, 1)))


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
        (
            {"schema_version": 1, "requests": [{"method": "GET", "name": "/a", "histogram": {"fast": 3}}]},
            [
                (
                    "requests[0].histogram",
                    "bucket 'fast': 3 must be a whole count >= 0 of a latency in ms >= 0",
                )
            ],
        ),
        (
            {"schema_version": 1, "total": {"method": "", "name": "Aggregated", "histogram": {"12": -1}}},
            [("total.histogram", "bucket '12': -1 must be a whole count >= 0")],
        ),
        (
            {"schema_version": 1, "total": {"method": "", "name": "Aggregated", "histogram": [1, 2]}},
            [("total.histogram", "must be an object {ms: count} (got [1, 2])")],
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


def test_comparison_settings_are_checked_before_any_load_naming_the_flag() -> None:
    from erpload.report.baseline import check_options

    check_options(0.10, 100)
    with pytest.raises(ConfigError) as info:
        check_options(1.5, 5)
    assert [(p.where, p.message) for p in info.value.problems] == [
        ("--baseline-tolerance", "must be within 0..1 (got 1.5)"),
        ("--baseline-min-samples", "must be a whole number >= 20 (got 5)"),
    ]
    assert info.value.exit_code == ExitCode.CONFIG_INVALID


def test_requests_cut_off_at_stop_are_left_out_of_the_error_rate() -> None:
    slow = _samples(4, 8000, 1)
    base = _run(_ep("/export", slow), _ep("/b", _samples(N, 50, 2)))
    cur = _run(_ep("/export", slow, failures=3), _ep("/b", _samples(N, 50, 3)))
    cut = "InFlightAtStop('in flight at stop: no complete response after 8 s (no byte received)')"
    cur["errors"] = [{"method": "GET", "name": "/export", "error": cut, "occurrences": 3}]
    d = next(e for e in compare(cur, base).endpoints if e.name == "/export").deltas[3]
    assert (d.metric, d.n_current, d.current, d.verdict) == ("error_rate", 1, 0.0, "inconclusive")
    cur["errors"][0]["error"] = "CatchResponseError('no valid response: DeadlineExceeded: ...')"
    assert ("GET /export", "error_rate") in _flags(compare(cur, base)), "a timeout is the target's failure"
