"""Request groups in SLA rules: `groups:` validation, the grammar, and evaluation on synthetic stats.

Every request metric on a group reads its members' requests as one (counts summed, histograms
merged), in every window; the expected values below are computed by hand from the samples.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import erpload.cli as cli
from erpload.core.errors import ConfigError, ExitCode
from erpload.core.histogram import Histogram
from erpload.core.snapshot import RequestStats, Snapshot, stage_windows
from erpload.profile import load_profile, parse_profile
from erpload.profile.json_schema import profile_schema
from erpload.sla.evaluation import evaluate, evaluate_rule, verdict_lines
from erpload.sla.grammar import parse_rule, parse_rules
from erpload.sla.terms import parse_groups

CUT, CLAIM = "POST /production/cutting", "POST /production/work-orders/[id]/claim"
GROUPS = {"work-order updates": (CUT, CLAIM), "reads": ("GET /production/work-orders",)}
BASE: dict[str, Any] = {
    "name": "t",
    "description": "d",
    "roles": {"CuttingOperator": 3, "PpicPlanner": 1},
    "stages": [
        {"name": "one", "duration": "10s", "users": 4},
        {"name": "two", "duration": "10s", "users": 4},
    ],
    "groups": {"work-order updates": [CUT, CLAIM]},
}
SCHEMA = jsonschema.Draft7Validator(profile_schema())


def rule(text: str | dict[str, Any], groups: Any = GROUPS):
    got, problems = parse_rule(text, "sla[0]", groups)
    assert problems == [] and got is not None, problems
    return got


def stats(label: str, samples: list[float], failures: int = 0) -> RequestStats:
    """A request's stats from raw samples (ms); `failures` of them failed."""
    method, _, name = label.partition(" ")
    out = RequestStats(method, name)
    for i, ms in enumerate(samples):
        out.record(ms, failed=i < failures)
    return out


def snapshot(*entries: RequestStats, duration_s: float = 3.0) -> Snapshot:
    snap = Snapshot(duration_s=duration_s)
    for e in entries:
        snap.add(e)
    return snap


# cutting: 4 requests (1 failed), claims: 2 (1 failed), a list the group leaves out
RUN = snapshot(
    stats(CUT, [10, 20, 30, 40], failures=1),
    stats(CLAIM, [100, 200], failures=1),
    stats("GET /production/work-orders", [5000, 6000, 7000]),
)


# -- groups: ---------------------------------------------------------------------------------------


def test_groups_are_read_normalised_as_stats_labels() -> None:
    groups, problems = parse_groups({"  work-order   updates ": ["post  /production/cutting", CLAIM]})
    assert problems == []
    assert groups == {"work-order updates": (CUT, CLAIM)}
    assert parse_groups(None) == ({}, [])


@pytest.mark.parametrize(
    ("raw", "where", "message", "fix"),
    [
        (
            ["POST /x"],
            "groups",
            "must map group names to lists of requests (got ['POST /x'])",
            "e.g. groups:",
        ),
        ({}, "groups", "must map group names to lists of requests (got {})", "e.g. groups:"),
        ({"g": []}, "groups.g", 'must list at least one request "METHOD PATH" (got [])', "e.g. groups:"),
        ({"g": "POST /x"}, "groups.g", "must list at least one request", "e.g. groups:"),
        ({"g": None}, "groups.g", "must list at least one request", "e.g. groups:"),
        ({"g": ["POST x"]}, "groups.g[0]", "not a request \"METHOD PATH\" (got 'POST x')", "Write e.g."),
        ({"g": ["FETCH /x"]}, "groups.g[0]", "not a request", "METHOD one of GET, POST"),
        ({"g": [42]}, "groups.g[0]", 'not a request "METHOD PATH" (got 42)', "Write e.g."),
        (
            {"g": ["POST /production/work-orders/{id}/claim"]},
            "groups.g[0]",
            "path placeholders are written [name] in stats names",
            "Write 'POST /production/work-orders/[id]/claim'",
        ),
        ({"g": [CUT, "post /production/cutting"]}, "groups.g[1]", f"lists '{CUT}' twice", "List each"),
        ({'a "b"': [CUT]}, 'groups.a "b"', "bad group name 'a \"b\"'", "no quotes"),
        ({"a<b": [CUT]}, "groups.a<b", "bad group name 'a<b'", "none of < > = !"),
        ({" ": [CUT]}, "groups.' '", "bad group name ' '", "1-100 characters"),
        ({"x" * 101: [CUT]}, "groups." + "x" * 101, "bad group name", "1-100 characters"),
        ({"a  b": [CUT], "a b": [CUT]}, "groups.a b", "group 'a b' is defined twice", "one entry"),
    ],
)
def test_every_groups_problem_says_where_what_and_how_to_fix(raw, where, message, fix) -> None:
    groups, problems = parse_groups(raw)
    assert [p.where for p in problems] == [where], problems
    assert message in problems[0].message and fix in problems[0].fix
    if "defined twice" not in message:  # (the first definition stands)
        assert all(not members for members in groups.values())  # a group with a problem has no requests


# -- grammar ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'rps of group "work-order updates" >= 100',
        "rps of group 'work-order updates' >= 100",
        "rps of group work-order updates >= 100",
        "rps of group:  work-order   updates >= 100/s",
        {"metric": "rps", "op": ">=", "threshold": 100, "group": "work-order updates"},
        {"metric": "rps", "op": ">=", "threshold": "100/s", "scope": 'group "work-order updates"'},
        {"rule": 'rps of group "work-order updates" >= 100', "window": "stage:one"},
    ],
)
def test_a_group_scope_in_every_form_carries_its_requests(text) -> None:
    got = rule(text)
    assert (got.metric, got.op, got.threshold) == ("rps", ">=", 100.0)
    assert (got.scope, got.scope_value, got.members) == ("group", "work-order updates", (CUT, CLAIM))
    assert got.scope_text == 'group "work-order updates"'


def test_long_form_text_names_the_group() -> None:
    got = rule({"metric": "p95", "op": "<", "threshold": 300, "group": "work-order updates"})
    assert got.text == 'p95 of group "work-order updates" < 300ms'


@pytest.mark.parametrize(
    ("item", "groups", "where", "message", "fix"),
    [
        (
            'rps of group "work-order update" >= 1',
            GROUPS,
            "sla[0]",
            "unknown group 'work-order update'",
            "Did you mean 'work-order updates'? Known groups: reads, work-order updates",
        ),
        (
            'rps of group "writes" >= 1',
            None,
            "sla[0]",
            "unknown group 'writes'",
            "This profile has no groups",
        ),
        ('rps of group "g" >= 1', {"g": ()}, "sla[0]", "group 'g' has no valid requests", "Fix groups.g"),
        ('rps of group "" >= 1', GROUPS, "sla[0]", "bad group name ''", 'group "writes"'),
        (
            {"metric": "rps", "op": ">", "threshold": 1, "group": "nope"},
            GROUPS,
            "sla[0].group",
            "unknown group 'nope'",
            "Known groups: reads, work-order updates",
        ),
        (
            {"rule": 'rps of group "nope" > 1'},
            GROUPS,
            "sla[0].rule",
            "unknown group 'nope'",
            "Known groups",
        ),
        (
            {"rule": "rps > 1", "group": "reads"},
            GROUPS,
            "sla[0]",
            "'rule' already says the metric, op, threshold and scope (also got: group)",
            "Use either",
        ),
        (
            {"metric": "rps", "op": ">", "threshold": 1, "group": "reads", "request": CUT},
            GROUPS,
            "sla[0].group",
            "give one of scope, request, role, group (got request, group)",
            "",
        ),
        (
            'target_cpu_max of group "reads" < 80%',
            GROUPS,
            "sla[0]",
            "target_cpu_max is measured for the whole run and takes no scope",
            "Remove the 'of ...' part",
        ),
    ],
)
def test_every_group_rule_problem(item, groups, where, message, fix) -> None:
    got, problems = parse_rule(item, "sla[0]", groups)
    assert got is None
    assert problems[0].where == where, problems
    assert message in problems[0].message and fix in problems[0].fix, problems


def test_parse_rules_passes_the_groups_to_every_rule() -> None:
    rules, problems = parse_rules(['count of group "reads" > 0', "p95 < 1s"], "sla", GROUPS)
    assert problems == [] and rules[0].members == ("GET /production/work-orders",)
    assert rules[1].members == ()


# -- evaluation: sums and merged percentiles, by hand ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "observed"),
    [
        ('count of group "work-order updates" == 6', 6.0),  # 4 + 2
        ('failures of group "work-order updates" == 2', 2.0),  # 1 + 1
        ('error_rate of group "work-order updates" < 34%', 2 / 6),
        ('rps of group "work-order updates" >= 2', 2.0),  # 6 requests / 3 s
        ('avg of group "work-order updates" < 67', 400 / 6),  # (10+20+30+40+100+200) / 6
        ('min of group "work-order updates" == 10', 10.0),
        ('max of group "work-order updates" == 200', 200.0),
        ('median of group "work-order updates" == 40', 40.0),  # rank floor(6*.5)+1 = 4 of 10 20 30 40 100 200
        ('p75 of group "work-order updates" == 100', 100.0),  # rank floor(4.5)+1 = 5
        ('p95 of group "work-order updates" == 200', 200.0),  # rank floor(5.7)+1 = 6
        ('p50 of group "reads" == 6000', 6000.0),
    ],
)
def test_group_metrics_sum_counts_and_merge_histograms(text: str, observed: float) -> None:
    result = evaluate_rule(rule(text), RUN)
    assert result.passed, result.detail
    assert result.observed == pytest.approx(observed)


def test_group_percentile_is_the_merged_histograms_not_a_mean_of_members() -> None:
    merged = RUN.requests[("POST", "/production/cutting")].histogram.merge(
        RUN.requests[("POST", "/production/work-orders/[id]/claim")].histogram
    )
    assert merged == Histogram.from_samples([10, 20, 30, 40, 100, 200])
    result = evaluate_rule(rule('p99 of group "work-order updates" < 150ms'), RUN)
    assert not result.passed and result.observed == 200.0  # either member's own p99 would mislead
    assert result.samples == 6
    assert "observed 200ms" in result.detail and "threshold < 150ms" in result.detail


def _cumulative(cut: list[float], claim: list[float], duration_s: float) -> Snapshot:
    entries = [stats(CUT, cut)] + ([stats(CLAIM, claim)] if claim else [])
    return snapshot(*entries, duration_s=duration_s)


def test_group_in_every_window_counts_only_that_windows_requests() -> None:
    """Stage one: 3 cuts, no claim yet; stage two: 2 more cuts and 4 claims (cumulative snapshots)."""
    start = Snapshot()
    mid = _cumulative([10, 20, 30], [], 10.0)
    end = _cumulative([10, 20, 30, 40, 50], [100, 110, 120, 130], 30.0)
    windows = stage_windows([("one", start), ("two", mid)], end, steady={"two"})
    expect = {"all": 9 / 30, "stage:one": 3 / 10, "stage:two": 6 / 20, "steady": 6 / 20}
    for window, rps in expect.items():
        got = rule({"rule": 'rps of group "work-order updates" > 0', "window": window})
        result = evaluate_rule(got, end, windows)
        assert result.passed and result.observed == pytest.approx(rps), (window, result.detail)
    # stage two alone: 2 cuts + 4 claims, merged: 40 50 100 110 120 130 -> p50 rank 4 = 110
    p50 = evaluate_rule(
        rule({"rule": 'p50 of group "work-order updates" == 110', "window": "stage:two"}), end, windows
    )
    assert p50.passed and p50.observed == 110.0, p50.detail
    # windows lose exact min/max; the group must not borrow a member's (stage two's cuts lost theirs)
    low = evaluate_rule(
        rule({"rule": 'min of group "work-order updates" > 0', "window": "stage:two"}), end, windows
    )
    assert not low.passed and low.observed is None and "observed no min" in low.detail


def test_a_window_without_any_group_request_fails_and_says_so() -> None:
    start, mid = Snapshot(), snapshot(stats("GET /production/work-orders", [5]), duration_s=10.0)
    end = snapshot(
        stats("GET /production/work-orders", [5]), stats(CUT, [10]), stats(CLAIM, [20]), duration_s=20.0
    )
    windows = stage_windows([("one", start), ("two", mid)], end)
    got = rule({"rule": 'rps of group "work-order updates" >= 0', "window": "stage:one"})
    result = evaluate_rule(got, end, windows)
    assert not result.passed and result.observed is None
    assert (
        result.detail
        == f'observed no samples for group "work-order updates" ({CUT}, {CLAIM}) in window stage:one'
    )


def test_a_member_never_requested_fails_the_rule_with_did_you_mean() -> None:
    """A typo in one member must not pass on the other members' counts."""
    typo = {"work-order updates": (CUT, "POST /production/work-orders/[id]/claims")}
    result = evaluate_rule(rule('rps of group "work-order updates" >= 0', typo), RUN)
    assert not result.passed and result.observed is None
    assert result.detail.startswith(
        'observed no samples for "POST /production/work-orders/[id]/claims" of group "work-order updates"; '
        "known requests: GET /production/work-orders, POST /production/cutting, "
    )
    assert result.detail.endswith(f'; did you mean "{CLAIM}"?')
    both = {"g": ("POST /production/cuting", "POST /nowhere/at/all")}
    detail = evaluate_rule(rule('count of group "g" > 0', both), RUN).detail
    assert 'for "POST /production/cuting"' in detail and '"POST /nowhere/at/all"' in detail
    assert evaluate_rule(rule('count of group "g" > 0', both), Snapshot()).detail.endswith(
        "known requests: none"
    )


def test_intended_latency_of_a_group_reads_the_intended_view() -> None:
    view = snapshot(stats(CUT, [50, 60]), stats(CLAIM, [500]))
    run = snapshot(stats(CUT, [10, 20]), stats(CLAIM, [100]))
    run.views["intended"] = view
    result = evaluate_rule(rule('max_intended of group "work-order updates" <= 500'), run)
    assert result.passed and result.observed == 500.0
    assert evaluate_rule(rule('p50_intended of group "work-order updates" == 60'), run).passed
    closed = evaluate_rule(rule('p99_intended of group "work-order updates" < 1s'), RUN)
    assert not closed.passed and closed.detail.startswith("not measured: p99_intended")


def test_verdict_lines_name_the_group() -> None:
    results = evaluate([rule('rps of group "work-order updates" >= 100')], RUN)
    lines = verdict_lines(results)
    assert lines[0].startswith('SLA FAIL  rps of group "work-order updates" >= 100')
    assert "observed 2" in lines[0] and lines[-1].endswith(f"-> exit {int(ExitCode.SLA_BREACHED)}")


# -- profiles: validation, schema, exit 2 ----------------------------------------------------------


def doc(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(BASE)
    out.update(changes)
    return {k: v for k, v in out.items() if v is not None}


def test_a_profile_with_groups_loads_them_into_its_rules_and_passes_the_schema() -> None:
    data = doc(sla=[{"rule": 'rps of group "work-order updates" >= 1', "window": "stage:two"}])
    profile, problems = parse_profile(data)
    assert problems == [] and profile is not None
    assert profile.groups == {"work-order updates": (CUT, CLAIM)}
    assert profile.sla[0].members == (CUT, CLAIM) and profile.sla[0].window == "stage:two"
    assert list(SCHEMA.iter_errors(data)) == []


@pytest.mark.parametrize(
    ("changes", "where", "message"),
    [
        ({"sla": ['rps of group "writes" > 1']}, "sla[0]", "unknown group 'writes'"),
        ({"groups": None, "sla": ['rps of group "work-order updates" > 1']}, "sla[0]", "unknown group"),
        ({"groups": {"w": []}}, "groups.w", "must list at least one request"),
        ({"groups": {"w": ["POST /a/{id}"]}}, "groups.w[0]", "path placeholders are written [name]"),
        ({"groups": {"w": ["cutting"]}}, "groups.w[0]", 'not a request "METHOD PATH"'),
        ({"groups": []}, "groups", "must map group names to lists of requests"),
    ],
)
def test_bad_groups_make_the_profile_invalid_and_the_schema_agrees(changes, where, message) -> None:
    data = doc(**changes)
    profile, problems = parse_profile(data)
    assert profile is None
    assert any(p.where == where and message in p.message for p in problems), problems
    assert list(SCHEMA.iter_errors(data)) or where.startswith("sla"), "the JSON Schema accepted it"


def test_an_empty_group_used_by_a_rule_is_reported_at_both_places() -> None:
    _, problems = parse_profile(doc(groups={"w": []}, sla=['rps of group "w" > 1']))
    assert [(p.where, p.message) for p in problems] == [
        ("groups.w", 'must list at least one request "METHOD PATH" (got [])'),
        ("sla[0]", "group 'w' has no valid requests"),
    ]


def test_erpload_validate_is_exit_2_with_where_what_and_fix(tmp_path: Path, capsys) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "name: t\ndescription: d\nroles: {CuttingOperator: 1}\nstages: [{duration: 5s, users: 1}]\n"
        "groups: {work-order updates: ['POST /production/cutting']}\n"
        "sla: ['rps of group \"work-order update\" >= 100']\n"
    )
    with pytest.raises(ConfigError) as e:
        load_profile(path)
    assert e.value.exit_code == ExitCode.CONFIG_INVALID == 2
    assert cli.main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert "sla[0]: unknown group 'work-order update'. Did you mean 'work-order updates'?" in out


def test_the_shipped_throughput_profile_judges_work_order_updates_as_a_group() -> None:
    profile = load_profile(Path(__file__).resolve().parents[2] / "profiles" / "throughput.yaml")
    updates = next(r for r in profile.sla if r.scope == "group")
    assert updates.text == 'rps of group "work-order updates" >= 100'
    assert updates.members == (CUT, CLAIM)
