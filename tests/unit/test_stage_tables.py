"""Stage maths: the stage book (record / take / absorb), stage windows, summary tables, renderers,
and the stage-by-stage comparison (erpload.core.stagebook, report.stages_report, report.stage_compare)."""

from __future__ import annotations

import json
import random

import pytest

from erpload.core.histogram import Histogram
from erpload.core.snapshot import RequestStats, Snapshot
from erpload.core.stagebook import StageBook, decode, encode, view_windows
from erpload.report.html import render_html
from erpload.report.markdown import _table, render_markdown
from erpload.report.model import RunSummary
from erpload.report.stage_compare import compare_by_stage, render
from erpload.report.stages_report import VIEW_PREFIX, html_section, markdown_lines
from erpload.report.summary import build_summary

ROLES = ("Admin", "PpicPlanner")
ENDPOINTS = (("GET", "/dashboard"), ("POST", "/ppic/manufacturing-orders"))


def requests(seed: int, n: int, slow: float = 1.0) -> list[tuple[int, str, str, str, float | None, bool]]:
    """n random requests over 3 stages: (stage, method, name, role, rt_ms or None, failed)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        method, name = rng.choice(ENDPOINTS)
        rt = None if rng.random() < 0.02 else rng.lognormvariate(3, 1) * slow
        out.append((rng.randrange(3), method, name, rng.choice(ROLES), rt, rng.random() < 0.05))
    return out


def whole_run(reqs: list) -> Snapshot:
    snap = Snapshot(duration_s=30.0)
    for _, method, name, role, rt, failed in reqs:
        key = (method, name)
        snap.requests.setdefault(key, RequestStats(method, name)).record(rt, failed)
        snap.roles.setdefault(role, RequestStats("ROLE", role)).record(rt, failed)
    return snap


def test_a_request_without_time_counts_but_is_not_bucketed_and_encode_round_trips():
    book = StageBook()
    book.record(1, "GET", "/x", "Admin", None, True)
    book.record(1, "GET", "/x", None, 12.4, False)
    snap = book.snapshot(1, 10.0)
    x = snap.requests[("GET", "/x")]
    assert (x.count, x.failures, x.histogram.count, x.histogram.counts) == (2, 1, 1, {12: 1})
    assert snap.roles["Admin"].count == 1 and snap.roles["Admin"].histogram.count == 0
    assert decode(json.loads(json.dumps(encode(x)))) == x
    assert book.snapshot(7, 5.0).requests == {}  # a stage nothing was filed under: empty, not an error


def test_a_report_ships_numeric_bucket_keys_through_locusts_msgpack():
    """The master copies bucket keys instead of parsing a string per bucket (docs/performance.md)."""
    from locust.rpc import Message

    book = StageBook()
    for rt in (3.2, 12.4, 12.6, 980.0, 1234.0, None):
        book.record(0, "GET", "/x", "Admin", rt, False)
    sent = book.take()
    got = Message.unserialize(Message("stats", {"erpload": {"stages": sent}}, "w1").serialize()).data
    rows = got["erpload"]["stages"]["0"]
    assert [sorted(row["histogram"]) for row in rows] == [[3, 12, 13, 980, 1230]] * 2  # request, role
    assert all(type(k) is int for row in rows for k in row["histogram"])  # not '12' strings to parse
    master = StageBook()
    master.absorb(got["erpload"]["stages"])
    x = master.snapshot(0, 1.0).requests[("GET", "/x")]
    assert (x.count, x.histogram.counts, x.histogram.min, x.histogram.max) == (
        6,
        {3: 1, 12: 1, 13: 1, 980: 1, 1230: 1},
        3.2,
        1234.0,
    )


def test_workers_taking_and_the_master_absorbing_equals_one_process_exactly():
    reqs = requests(1, 3000)
    local, master = StageBook(), StageBook()
    workers = [StageBook(), StageBook()]
    for i, r in enumerate(reqs):
        local.record(*r)
        workers[i % 2].record(*r)
        if i % 250 == 0:  # periodic reports: each take() empties the worker's book
            for w in workers:
                master.absorb(json.loads(json.dumps(w.take())))
    for w in workers:
        master.absorb(w.take())
        assert w.parts == {}
    for stage in range(3):
        a, b = local.snapshot(stage, 10.0), master.snapshot(stage, 10.0)
        assert a.requests.keys() == b.requests.keys() and a.roles.keys() == b.roles.keys()
        for key in a.requests:
            x, y = a.requests[key], b.requests[key]
            assert (x.count, x.failures, x.histogram) == (y.count, y.failures, y.histogram)
            assert x.total_ms == pytest.approx(y.total_ms)
            for p in (0.5, 0.95, 0.99):
                assert x.percentile(p) == y.percentile(p)
        for role in a.roles:
            assert a.roles[role].histogram == b.roles[role].histogram


def test_the_stages_add_up_to_the_whole_run_exactly():
    reqs = requests(2, 2000)
    book = StageBook()
    for r in reqs:
        book.record(*r)
    whole = whole_run(reqs)
    parts = [book.snapshot(i, 10.0) for i in range(3)]
    acc = parts[0].plus(parts[1]).plus(parts[2])
    for key, w in whole.requests.items():
        s = acc.requests[key]
        assert (s.count, s.failures, s.histogram.counts) == (w.count, w.failures, w.histogram.counts)
        assert (s.histogram.min, s.histogram.max) == (w.histogram.min, w.histogram.max)
        assert s.percentile(0.99) == w.percentile(0.99)
    for role, w in whole.roles.items():
        assert acc.roles[role].histogram.counts == w.histogram.counts
    total = acc.total_stats()
    assert total.count == len(reqs) and total.histogram == whole.total_stats().histogram


def test_absorb_refuses_a_malformed_payload_whole():
    book = StageBook()
    with pytest.raises(ValueError, match="not a stage index"):
        book.absorb({"ramp": []})
    with pytest.raises(ValueError, match="malformed stage stats row"):
        book.absorb({"0": [encode(RequestStats("GET", "/a", count=1))], "1": [{"method": "GET"}]})
    assert book.parts == {}  # nothing half-added


def staged_summary(seed: int = 3, slow: float = 1.0) -> RunSummary:
    reqs = requests(seed, 3000, slow)
    book = StageBook()
    for r in reqs:
        book.record(*r)
    end = whole_run(reqs)
    names = ("ramp-up", "peak", "ramp-down")
    for i, name in enumerate(names):
        extra = {"index": i, "start_s": 10.0 * i, "end_s": 10.0 * (i + 1), "ramp": name != "peak"}
        end.views[VIEW_PREFIX + name] = book.snapshot(i, 10.0, extra)
    end.views["intended"] = Snapshot()  # another view: not a stage
    return build_summary(end, [], exit_code=0)


def test_build_summary_carries_a_table_per_stage_in_order_with_ramps_marked():
    s = staged_summary()
    assert [st["name"] for st in s.stages] == ["ramp-up", "peak", "ramp-down"]
    assert [st["ramp"] for st in s.stages] == [True, False, True]
    assert sum(st["total"]["count"] for st in s.stages) == s.total.count
    peak = s.stages[1]
    assert peak["duration_s"] == 10.0 and peak["total"]["rps"] == round(peak["total"]["count"] / 10.0, 3)
    assert {r["name"] for r in peak["roles"]} == set(ROLES)
    assert {(r["method"], r["name"]) for r in peak["requests"]} == set(ENDPOINTS)
    back = RunSummary.from_dict(json.loads(s.to_json()))
    assert back.stages == s.stages


def test_a_run_without_stages_has_no_stage_section():
    s = build_summary(Snapshot(duration_s=1.0), [], exit_code=0)
    assert s.stages == [] and markdown_lines(s.stages, _table) == [] and html_section(s.stages) == ""


def test_markdown_and_html_show_each_stage_per_endpoint_and_role():
    s = staged_summary()
    md = render_markdown(s)
    assert "## Stages" in md and "### Per stage: requests" in md and "### Per stage: roles" in md
    assert "| all requests | ramp-up ↗ ramp (0–10 s) |" in md
    assert "| GET /dashboard | peak (10–20 s) |" in md and "| Admin | ramp-down ↗ ramp (20–30 s) |" in md
    html = render_html(s)
    assert 'id="stages-requests-table"' in html and 'id="stages-roles-table"' in html
    assert '<tr class="ramp"><td>all requests</td><td>ramp-up ↗ ramp (0–10 s)</td>' in html
    assert "<tr><td>GET /dashboard</td><td>peak (10–20 s)</td>" in html


def test_a_malformed_stage_is_reported_not_rendered_as_zeros():
    lines = markdown_lines([{"name": "x"}], _table)
    assert any("stage tables unreadable" in line and "'x'" in line for line in lines)
    assert "stage tables unreadable" in html_section([{"name": "<b>"}]) and "<b>" not in html_section(
        [{"name": "<b>"}]
    )


def test_compare_by_stage_matches_names_and_finds_the_slow_stage():
    base, same = staged_summary(3), staged_summary(4)
    slow = staged_summary(4, slow=1.6)
    ok = compare_by_stage(same, base)
    assert [st.name for st, _ in ok.stages] == ["ramp-up", "peak", "ramp-down"]
    assert ok.regressions == 0 and ok.problem == "" and int(ok.exit_code()) == 0
    bad = compare_by_stage(slow, base)
    assert bad.regressions > 0 and int(bad.exit_code()) == 3
    assert all(c.regressions for _, c in bad.stages)
    text = render(bad)
    assert "== stage ramp-up ↗ ramp (10 s) ==" in text and "regression(s) in 3 stage(s)" in text


def test_compare_by_stage_names_unmatched_stages_and_fails_closed_without_stages():
    base = staged_summary(3)
    cur = staged_summary(4)
    cur.stages[2]["name"] = "cool-down"
    r = compare_by_stage(cur, base)
    assert r.only_current == ["cool-down"] and r.only_baseline == ["ramp-down"]
    text = render(r)
    assert "stages only in current: cool-down" in text and "stages only in baseline: ramp-down" in text
    assert int(r.exit_code()) == 0  # two stages in common, judged
    plain = build_summary(Snapshot(duration_s=1.0), [], exit_code=0)
    none = compare_by_stage(plain, base)
    assert int(none.exit_code()) == 4 and "has no per-stage tables" in none.problem
    renamed = staged_summary(4)
    for st in renamed.stages:
        st["name"] = "other-" + st["name"]
    assert "no stage in common" in compare_by_stage(renamed, base).problem


def test_compare_by_stage_pools_several_baselines_and_needs_one():
    r = compare_by_stage(staged_summary(4), [staged_summary(3), staged_summary(5)])
    assert all(c.baseline_runs == 2 for _, c in r.stages)
    with pytest.raises(ValueError, match="no baseline"):
        compare_by_stage(staged_summary(4), [])


def test_histogram_difference_and_stage_book_agree():
    """A stage from the book equals the difference of cumulative histograms at its boundaries."""
    reqs = sorted(requests(6, 1000), key=lambda r: r[0])
    book, cum = StageBook(), Histogram()
    marks = []
    for stage in range(3):
        marks.append(Histogram(cum.counts))
        for r in (r for r in reqs if r[0] == stage):
            book.record(*r)
            if r[4] is not None:
                cum.add(r[4])
    marks.append(cum)
    for stage in range(3):
        diff = marks[stage + 1].minus(marks[stage])
        assert book.snapshot(stage, 1.0).total_stats().histogram.counts == diff.counts


def test_sla_windows_come_from_the_stage_numbers_when_the_snapshot_carries_them():
    reqs = requests(7, 1500)
    book = StageBook()
    for r in reqs:
        book.record(*r)
    end = whole_run(reqs)
    end.extra = {"target_cpu_max": 0.4}
    for i, name in enumerate(("ramp-up", "peak", "spike")):
        end.views[VIEW_PREFIX + name] = book.snapshot(i, 10.0, {"index": i, "ramp": name != "peak"})
    windows = view_windows(end, steady={"peak", "spike"})
    assert windows is not None and set(windows) == {
        "all",
        "stage:ramp-up",
        "stage:peak",
        "stage:spike",
        "steady",
    }
    assert windows["all"] is end
    peak = windows["stage:peak"]
    assert peak.total_stats().histogram == book.snapshot(1, 1.0).total_stats().histogram
    assert peak.extra == {"target_cpu_max": 0.4} and peak.duration_s == 10.0
    steady = windows["steady"]
    assert steady.duration_s == 20.0
    want = sum(1 for r in reqs if r[0] in (1, 2))
    assert steady.total_stats().count == want
    assert view_windows(whole_run(reqs)) is None  # no stage views: the recorder uses boundary snapshots


def test_erpload_compare_by_stage_exit_codes(tmp_path, capsys):
    from erpload.cli import main

    files = {}
    for name, summary in (
        ("base", staged_summary(3)),
        ("same", staged_summary(4)),
        ("slow", staged_summary(4, slow=1.6)),
        ("plain", build_summary(whole_run(requests(4, 3000)), [], exit_code=0)),
    ):
        files[name] = tmp_path / f"{name}.json"
        files[name].write_text(summary.to_json())
    assert main(["compare", "--by-stage", str(files["base"]), str(files["same"])]) == 0
    out = capsys.readouterr().out
    assert "== stage peak (10 s) ==" in out and "by stage: no regression in 3 stage(s)" in out
    assert main(["compare", "--by-stage", "--markdown", str(files["base"]), str(files["slow"])]) == 3
    assert "## stage ramp-down ↗ ramp (10 s)" in capsys.readouterr().out
    # the whole runs compare fine, but the current run has no per-stage tables: not evaluated (4)
    assert main(["compare", "--by-stage", str(files["base"]), str(files["plain"])]) == 4
    captured = capsys.readouterr()
    assert "has no per-stage tables" in captured.err
    assert main(["compare", str(files["base"]), str(files["plain"])]) == 0  # without --by-stage: as before


def test_the_inline_record_with_or_without_a_shared_bucket_equals_requeststats_record():
    """StageBook.record updates its RequestStats inline: the same numbers as RequestStats.record."""
    from erpload.core.histogram import fine_bucket

    reqs = requests(11, 3000)
    reqs += [(0, "GET", "/dashboard", "Admin", v, False) for v in (3, 3.0, 999.5, 1000, 1234.5, -1.0, 0)]
    plain, shared, ref = StageBook(), StageBook(), {}
    for i, (stage, method, name, role, rt, failed) in enumerate(reqs):
        plain.record(stage, method, name, role, rt, failed)
        shared.record(
            stage, method, name, role if i % 7 else None, rt, failed, None if rt is None else fine_bucket(rt)
        )
        ref.setdefault((stage, method, name), RequestStats(method, name)).record(rt, failed)
        if i % 7:
            ref.setdefault((stage, "ROLE", role), RequestStats("ROLE", role)).record(rt, failed)
    got = {}
    for stage, part in shared.parts.items():
        got.update({(stage, *k): v for k, v in part.requests.items()})
        got.update({(stage, "ROLE", k): v for k, v in part.roles.items()})
    assert got == ref
    assert [type(k) for k in got[(0, "GET", "/dashboard")].histogram.counts] == [
        type(k) for k in ref[(0, "GET", "/dashboard")].histogram.counts
    ]
    assert type(ref[(0, "ROLE", "Admin")].histogram.min) is type(got[(0, "ROLE", "Admin")].histogram.min)
    assert plain.take().keys() == {"0", "1", "2"}
