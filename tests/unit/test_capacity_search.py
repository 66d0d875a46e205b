"""Capacity search (pure): the level sequence, the confirm hold, fail-closed outcomes, the schema, reports."""

from __future__ import annotations

import pytest

from erpload.core.errors import ConfigError
from erpload.profile import load_profile, parse_profile
from erpload.profile.capacity_search import CONFIRM, RETEST, SEARCH, CapacitySearch, RuleObservation
from erpload.profile.capacity_spec import CapacitySpec
from erpload.report import capacity_report
from erpload.report.markdown import _table


def spec(**kw) -> CapacitySpec:
    base = dict(model="closed", start=10.0, max=100.0, step=10.0, bisect=None, hold_s=30.0, settle_s=10.0,
                confirm_s=60.0)  # fmt: skip
    return CapacitySpec(**{**base, **kw})


def obs(ok: bool, rule: str = "p95 < 300ms") -> list[RuleObservation]:
    return [RuleObservation(rule, ok, 200.0 if ok else 900.0, "observed 200ms" if ok else "observed 900ms")]


def drive(
    search: CapacitySearch,
    capacity: float,
    confirm_flaky: set[float] = frozenset(),
    unstable: set[float] = frozenset(),
    search_flaky: set[float] = frozenset(),
) -> list[tuple]:
    """Run the search against a system that holds every level <= capacity, except: a confirm in
    `confirm_flaky` breaks, every run after the first of a level in `unstable` breaks, and the
    search run of a level in `search_flaky` breaks (a false break)."""
    seen = []
    while (step := search.next_level()) is not None:
        level, phase = step
        seen.append(step)
        ok = level <= capacity and not (
            (phase == CONFIRM and level in confirm_flaky)
            or (phase != SEARCH and level in unstable)
            or (phase == SEARCH and level in search_flaky)
        )
        search.record(obs(ok), stage=f"{phase} {level:g}")
        assert len(seen) < 100, "the search must end"
    return seen


def test_step_search_stops_at_first_break_retests_it_and_confirms_the_last_pass():
    s = CapacitySearch(spec())
    seen = drive(s, capacity=42)
    assert seen == [
        (10.0, SEARCH),
        (20.0, SEARCH),
        (30.0, SEARCH),
        (40.0, SEARCH),
        (50.0, SEARCH),
        (50.0, RETEST),  # the break, run again: it breaks twice
        (40.0, CONFIRM),  # the pass, run again: it passes twice
    ]
    out = s.outcome()
    assert (out.status, out.capacity, out.text) == ("found", 40.0, "40 users")
    assert out.evidence.phase == CONFIRM and out.evidence.level == 40
    assert out.first_break.level == 50 and out.first_break.failed[0].rule == "p95 < 300ms"
    assert out.first_break.phase == RETEST
    assert out.interval() == {
        "last_pass": 40.0,
        "first_break": 50.0,
        "first_break_confirmed": True,
        "gap": 10.0,
    }
    assert s.outcome().to_dict(s.spec)["interval"]["first_break_confirmed"] is True


def test_a_false_break_that_passes_its_retest_lets_the_search_go_on_above_it():
    s = CapacitySearch(spec(step=None, bisect=2.0, start=5, max=200))
    seen = drive(s, capacity=23, search_flaky={10.0})  # 10 users broke once: a burst, not the ERP
    assert (10.0, RETEST) in seen and seen.index((10.0, RETEST)) < seen.index((20.0, SEARCH))
    out = s.outcome()
    assert (out.status, out.capacity, out.first_break.level) == ("found", 23.0, 25.0)
    assert out.interval()["first_break_confirmed"] is True


def test_step_search_tries_max_itself_and_says_at_least_max_when_nothing_breaks():
    s = CapacitySearch(spec(start=10, max=35, step=10))
    assert [lvl for lvl, _ in drive(s, capacity=1000)] == [10, 20, 30, 35, 35]
    out = s.outcome()
    assert (out.status, out.capacity, out.text, out.first_break) == (
        "at_least_max",
        35.0,
        ">= 35 users",
        None,
    )


def test_start_breaking_is_below_start_never_a_number():
    s = CapacitySearch(spec())
    assert drive(s, capacity=5) == [(10.0, SEARCH), (10.0, RETEST)]  # broke twice
    out = s.outcome()
    assert (out.status, out.capacity, out.text) == ("below_start", None, "< 10 users")
    assert out.evidence.level == 10 and not out.evidence.passed


def test_a_confirm_breaking_once_is_outvoted_by_its_retest():
    s = CapacitySearch(spec())
    seen = drive(s, capacity=42, confirm_flaky={40.0})
    assert seen[-3:] == [(50.0, RETEST), (40.0, CONFIRM), (40.0, RETEST)]
    out = s.outcome()
    assert out.capacity == 40 and out.evidence.phase == RETEST and out.first_break.level == 50


def test_a_confirm_breaking_twice_falls_back_to_the_next_lower_pass_in_a_step_search():
    s = CapacitySearch(spec())
    seen = drive(s, capacity=42, unstable={40.0})
    assert seen[-3:] == [(40.0, CONFIRM), (40.0, RETEST), (30.0, CONFIRM)]
    out = s.outcome()
    assert out.capacity == 30 and out.first_break.level == 40 and out.first_break.phase == RETEST


def test_every_confirm_breaking_is_below_start():
    s = CapacitySearch(spec(max=30))
    drive(s, capacity=20, unstable={10.0, 20.0})
    out = s.outcome()
    assert (out.status, out.capacity) == ("below_start", None)


def test_bisect_doubles_then_bisects_to_the_resolution():
    s = CapacitySearch(spec(step=None, bisect=2.0, start=5, max=200))
    seen = drive(s, capacity=23)
    assert [lvl for lvl, p in seen if p == SEARCH] == [5, 10, 20, 40, 30, 25, 22, 23]
    out = s.outcome()
    assert out.capacity == 23 and seen[-1] == (23.0, CONFIRM) and out.first_break.level == 25


def test_bisect_a_broken_confirm_bisects_again_below_it():
    s = CapacitySearch(spec(step=None, bisect=1.0, start=5, max=200))
    drive(s, capacity=23, unstable={23.0})
    out = s.outcome()
    assert out.capacity == 22 and out.status == "found"


@pytest.mark.parametrize("capacity", [7, 23, 64])
def test_every_level_runs_at_most_three_times_and_the_search_ends(capacity):
    s = CapacitySearch(spec(step=None, bisect=1.0, start=4, max=100))
    seen = drive(s, capacity=capacity, confirm_flaky=set(range(1, 101)), search_flaky={capacity - 1.0})
    assert max(seen.count((lvl, p)) for lvl, p in seen) == 1 and len(seen) < 40
    assert all(sum(lvl == x for x, _ in seen) <= 3 for lvl, _ in seen)
    assert s.outcome().status == "found"


@pytest.mark.parametrize("capacity", [7, 13, 31, 64, 99])
def test_bisect_lands_within_the_resolution_of_the_true_capacity(capacity):
    s = CapacitySearch(spec(step=None, bisect=3.0, start=4, max=100))
    drive(s, capacity=capacity)
    out = s.outcome()
    assert capacity - 3 <= out.capacity <= capacity


def test_open_model_levels_are_rates():
    s = CapacitySearch(spec(model="open", start=2.5, max=40.0, step=None, bisect=1.0, users=50))
    drive(s, capacity=11.3)
    out = s.outcome()
    assert 10.3 <= out.capacity <= 11.3 and out.text.endswith("/s")


def test_a_level_without_rules_or_broken_early_never_passes():
    s = CapacitySearch(spec())
    assert not s.record([]).passed  # no rule to judge it: fail closed
    s = CapacitySearch(spec())
    assert not s.record(obs(True), early=True).passed


def test_incomplete_search_has_no_capacity():
    s = CapacitySearch(spec())
    s.record(obs(True))
    out = s.outcome()
    assert (out.status, out.capacity) == ("incomplete", None)
    with pytest.raises(RuntimeError):
        drive(s, capacity=1000) and s.record(obs(True))


PROFILE = {
    "name": "cap",
    "description": "capacity",
    "mode": "capacity",
    "roles": {"CuttingOperator": 1},
    "capacity": {"start": 10, "bisect": 2, "max": 80, "hold": "10s", "confirm": "20s", "required": 30},
    "sla": ["p95 < 250ms", {"rule": "error_rate < 5%", "abort": True, "for": "5s"}],
}


def test_profile_capacity_mode_parses_with_a_worst_case_stage_and_the_required_rule():
    profile, problems = parse_profile(PROFILE)
    assert problems == [] and profile.capacity.bisect == 2 and profile.capacity.confirm_s == 20
    assert profile.peak_users == 80 and profile.stages[0].name == "capacity" and not profile.is_open
    assert profile.capacity.early_break == (1,) and not any(r.abort for r in profile.sla)
    assert profile.sla[-1].metric == "capacity_users" and profile.sla[-1].threshold == 30


@pytest.mark.parametrize(
    "change,where,text",
    [
        ({"capacity": {"start": 10, "max": 80}}, "capacity", "exactly one of step"),
        ({"capacity": {"start": 10, "step": 5, "bisect": 2, "max": 80}}, "capacity", "got both"),
        ({"capacity": {"start": 90, "step": 5, "max": 80}}, "capacity.start", "<= max"),
        ({"capacity": {"start": 10, "step": 5, "max": 80, "hodl": "5s"}}, "capacity.hodl", "hold"),
        ({"capacity": {"model": "open", "start": "2/s", "step": 1, "max": 10}}, "capacity.users", "pool"),
        ({"stages": [{"duration": "1m", "users": 5}]}, "stages", "not used with mode: capacity"),
        ({"sla": ["target_cpu_max < 80%"]}, "sla[0]", "cannot be judged per level"),
        ({"sla": [{"rule": "p95 < 1s", "window": "stage:peak"}]}, "sla[0].window", "no profile stages"),
        ({"mode": "capcity"}, "mode", "stages or capacity"),
    ],
)
def test_capacity_schema_errors_say_where_what_and_how(change, where, text):
    profile, problems = parse_profile({**PROFILE, **change})
    assert profile is None
    hit = [p for p in problems if p.where == where]
    assert hit and text in (hit[0].message + hit[0].fix), problems


def test_shipped_capacity_profile_is_valid():
    from erpload.cli.paths import profile_path

    profile = load_profile(profile_path("capacity"))
    assert profile.capacity is not None


def test_stage_profiles_still_need_stages():
    with pytest.raises(ConfigError, match="stages: required"):
        load_profile_data({k: v for k, v in PROFILE.items() if k not in ("mode", "capacity")})


def load_profile_data(data):
    profile, problems = parse_profile(data)
    if problems:
        raise ConfigError("x", problems)
    return profile


def test_report_sections_show_the_number_and_its_evidence():
    s = CapacitySearch(spec())
    drive(s, capacity=42)
    cap = s.outcome().to_dict(s.spec)

    class Summary:
        resources = {"capacity": cap}

    head = capacity_report.headline(cap)
    assert (
        head.startswith("CAPACITY 40 users (step 10; found")
        and "breaks at 50 users (retest): p95 < 300ms" in head
    )
    md = "\n".join(capacity_report.markdown_lines(Summary(), _table))
    assert "## Capacity" in md and "| 7 | confirm | 40 users | pass |" in md
    html = capacity_report.html_section(Summary())
    assert 'id="capacity-value">40 users<' in html and 'id="capacity-levels"' in html
    assert (
        capacity_report.markdown_lines(object(), _table) == []
        and capacity_report.html_section(object()) == ""
    )


def test_cli_derives_a_capacity_search_from_a_stages_profile(tmp_path):
    from erpload.cli.capacity import capacity_document
    from erpload.cli.paths import profile_path

    doc = capacity_document(profile_path("breakpoint"), {"bisect": "10", "hold": "20s", "step": None})
    assert doc["mode"] == "capacity" and "stages" not in doc
    assert doc["capacity"] == {"model": "closed", "max": 400, "start": 40, "bisect": 10, "hold": "20s"}
    profile, problems = parse_profile(doc)
    assert problems == [] and profile.capacity.bisect == 10 and profile.capacity.early_break == (0, 1)
    opened = capacity_document(profile_path("open-model"), {})["capacity"]
    assert opened == {"model": "open", "max": 20.0, "start": 2.0, "step": 2.0, "users": 60}
    assert parse_profile(capacity_document(profile_path("open-model"), {}))[1] == []
