"""Load profiles: parsing, every validation message (where, value got, fix), stage maths, shipped files."""

from __future__ import annotations

import ast
import random
import subprocess
import sys
import types
from pathlib import Path

import pytest

from erpload.core.domain import REPORTING_CLASSES
from erpload.core.domain import USER_CLASSES as ROLES
from erpload.core.errors import ConfigError, Problem
from erpload.core.units import QuantityError, parse_duration, parse_rate, parse_ratio
from erpload.profile import (
    allocate,
    load_profile,
    parse_profile,
    stage_plan,
    target_at,
    validate_profile_file,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "profiles").glob("*.yaml"))
BASE = {
    "name": "t",
    "description": "d",
    "roles": {"CuttingOperator": 3, "QcInspector": 1},
    "stages": [{"duration": "10s", "users": 8}],
}


def problems(**changes: object) -> list[Problem]:
    """Problems of BASE with top-level keys replaced (None deletes the key)."""
    doc = {k: v for k, v in {**BASE, **changes}.items() if v is not None}
    profile, found = parse_profile(doc)
    assert (profile is None) == bool(found)
    return found


def one(found: list[Problem], where: str) -> Problem:
    """The single problem at `where` (fails listing all problems otherwise)."""
    hits = [p for p in found if p.where == where]
    assert len(hits) == 1, f"expected one problem at {where!r}, got: {[str(p) for p in found]}"
    return hits[0]


def profile(stages: list[dict], roles: dict | None = None):
    p, found = parse_profile({**BASE, "stages": stages, "roles": roles or BASE["roles"]})
    assert p is not None, [str(x) for x in found]
    return p


# -- durations, rates, ratios --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, seconds",
    [
        ("90", 90),
        (90, 90),
        (1.5, 1.5),
        ("90s", 90),
        ("5m", 300),
        ("1h30m", 5400),
        ("2h5m10s", 7510),
        (" 7h40m ", 27600),
        ("0s", 0),
    ],
)
def test_parse_duration_accepts_locust_run_time_syntax(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["5 minutes", "1.5m", "", "m", "30s5m", "1d", -1, True, None, [5]])
def test_parse_duration_rejects_garbage_with_the_syntax_in_the_message(bad: object) -> None:
    with pytest.raises(QuantityError, match=r"not a duration (\(got |between)") as err:
        parse_duration(bad)
    assert "90, 90s, 5m, 1h30m" in err.value.fix


@pytest.mark.parametrize(
    "text, per_s",
    [(20, 20), ("20", 20), ("20/s", 20), ("1200/m", 20), ("72000/h", 20), ("2.5 / s", 2.5), (0, 0)],
)
def test_parse_rate(text: object, per_s: float) -> None:
    assert parse_rate(text) == per_s


@pytest.mark.parametrize("bad", ["fast", "20/d", -1, "-3/s", True, None])
def test_parse_rate_rejects_garbage(bad: object) -> None:
    with pytest.raises(
        QuantityError, match="not a rate|must be a number >= 0|expected a number|unknown unit"
    ):
        parse_rate(bad)


def test_parse_ratio() -> None:
    assert parse_ratio("1%") == 0.01 and parse_ratio(0.25) == 0.25
    for bad in ("1.5", "x%", 2, True):
        with pytest.raises(ValueError):
            parse_ratio(bad)


# -- allocate ------------------------------------------------------------------------------------------------
def test_allocate_invariants_over_many_mixes() -> None:
    rng = random.Random(2270)
    for _ in range(400):
        weights = {r: rng.choice([0, 0.5, 1, 2, 3, 7, 50]) for r in rng.sample(ROLES, rng.randint(1, 7))}
        if not any(weights.values()):
            weights[next(iter(weights))] = 1
        users = rng.randint(0, 500)
        got = allocate(users, weights)
        assert got == allocate(users, dict(reversed(weights.items())))  # deterministic, order-independent
        assert sum(got.values()) == users
        total = sum(weights.values())
        for role, n in got.items():
            assert abs(n - users * weights[role] / total) < 1, (users, weights, got)
            assert weights[role] or n == 0


def test_allocate_exact_weights_and_edge_cases() -> None:
    peak = {
        "CuttingOperator": 50,
        "SewingOperator": 60,
        "FinishingOperator": 30,
        "QcInspector": 30,
        "PpicPlanner": 15,
        "WarehouseClerk": 10,
        "Admin": 5,
    }
    assert allocate(200, peak) == peak
    assert allocate(3, {"A": 1, "B": 1}) == {"A": 2, "B": 1}  # ties: larger weight, then name
    assert allocate(0, {"A": 0}) == {"A": 0}
    with pytest.raises(ValueError, match="all weights are 0"):
        allocate(2, {"A": 0})
    with pytest.raises(ValueError):
        allocate(-1, {"A": 1})


# -- stage maths ---------------------------------------------------------------------------------------------
def test_linear_ramp_by_default_then_hold_then_ramp_down() -> None:
    p = profile(
        [{"duration": "10s", "users": 8}, {"duration": "10s", "users": 8}, {"duration": "4s", "users": 0}]
    )
    assert [target_at(p, t).users_total for t in (0, 2.5, 5, 9.99)] == [0, 2, 4, 8]
    assert target_at(p, 5).per_role == {"CuttingOperator": 3, "QcInspector": 1}
    hold = target_at(p, 15)
    assert (hold.stage_index, hold.users_total, hold.spawn_rate) == (1, 8, 0.0)
    assert target_at(p, 22).users_total == 4 and target_at(p, 22).spawn_rate == 2.0
    assert target_at(p, 24) is None and target_at(p, 1e9) is None
    assert target_at(p, -5).users_total == 0
    assert [sp.steady for sp in stage_plan(p)] == [False, True, False]


def test_spawn_rate_ramps_at_that_rate_then_holds() -> None:
    p = profile([{"duration": "30s", "users": 20, "spawn_rate": 4}])
    assert [target_at(p, t).users_total for t in (0, 1, 2.5, 5, 6, 29)] == [0, 4, 10, 20, 20, 20]
    assert stage_plan(p)[0].ramp_s == 5.0


def test_mix_change_moves_every_role_linearly_to_the_new_mix() -> None:
    p = profile(
        [
            {"duration": "10s", "users": 8},
            {"duration": "10s", "users": 8, "roles": {"QcInspector": 1, "Admin": 1}},
        ]
    )
    sp = stage_plan(p)[1]
    assert sp.start_roles == {"Admin": 0, "CuttingOperator": 6, "QcInspector": 2}
    assert sp.end_roles == {"Admin": 4, "CuttingOperator": 0, "QcInspector": 4}
    assert sp.moves == 12 and sp.rate == 1.2
    mid = target_at(p, 15)
    assert mid.users_total == 8 and mid.per_role == {"Admin": 2, "CuttingOperator": 3, "QcInspector": 3}
    assert mid.stage_per_role == sp.end_roles and mid.stage_users == 8


def test_arrival_rate_ramps_from_the_previous_stage_and_from_zero_first() -> None:
    p = profile(
        [
            {"duration": "10s", "arrival_rate": "10/s", "users": 20},
            {"duration": "10s", "arrival_rate": 10, "users": 20},
            {"duration": "10s", "arrival_rate": "1800/m", "users": 20},
        ]
    )
    assert p.is_open
    assert [target_at(p, t).arrival_rate for t in (0, 5, 12, 25)] == [0.0, 5.0, 10.0, 20.0]
    assert [sp.steady for sp in stage_plan(p)] == [False, True, False]
    assert target_at(profile([{"duration": 5, "users": 2}]), 1).arrival_rate is None


# -- validation messages -------------------------------------------------------------------------------------
def test_unknown_top_key_with_did_you_mean() -> None:
    p = one(problems(descripton="x"), "descripton")
    assert "unknown key 'descripton'" in p.message and "Did you mean 'description'?" in p.fix
    assert "Known keys: name, description" in p.fix


def test_missing_required_keys_name_the_keys_got() -> None:
    found = problems(name=None, description=None, stages=None)
    for key in ("name", "description", "stages"):
        assert "required (got keys: roles)" in one(found, key).message


@pytest.mark.parametrize(
    "key, value, text",
    [
        ("name", 5, "non-empty string (got 5)"),
        ("description", "", "non-empty string (got '')"),
        ("host", "erp.local", "base URL (got 'erp.local')"),
        ("stages", "fast", "list of stages (got str: 'fast')"),
        ("stages", [], "at least one stage (got [])"),
        ("roles", ["CuttingOperator"], "map user classes to weights"),
    ],
)
def test_wrong_types_say_what_was_got(key: str, value: object, text: str) -> None:
    assert text in one(problems(**{key: value}), key).message


def test_stage_field_problems_have_where_value_and_fix() -> None:
    found = problems(
        stages=[
            {"duration": "5 minutes", "users": -5},
            {"users": 5, "spawn_rate": 10},
            {"duration": 0, "users": "ten", "spawn_rate": -1},
            {"duration": "1m", "user": 3},
            "30s",
            {"duration": "1m", "users": 1.5, "name": ""},
        ]
    )
    assert "(got '5 minutes')" in one(found, "stages[0].duration").message
    assert "1h30m" in one(found, "stages[0].duration").fix
    assert one(found, "stages[0].users").message == "must be a whole number >= 0 (got -5)"
    assert one(found, "stages[1].duration").message == "required (got keys: users, spawn_rate)"
    assert one(found, "stages[2].duration").message == "must be > 0 (got 0)"
    assert "(got 'ten')" in one(found, "stages[2].users").message
    assert "(got -1)" in one(found, "stages[2].spawn_rate").message
    assert "Did you mean 'users'?" in one(found, "stages[3].user").fix
    assert "required" in one(found, "stages[3].users").message
    assert "must be a mapping (got '30s')" in one(found, "stages[4]").message
    assert "(got 1.5)" in one(found, "stages[5].users").message
    assert "(got '')" in one(found, "stages[5].name").message


def test_unknown_role_did_you_mean_and_the_list_of_roles() -> None:
    p = one(problems(roles={"CuttingOperater": 1}), "roles.CuttingOperater")
    assert p.message == "unknown role 'CuttingOperater'"
    assert p.fix.startswith(
        "Did you mean 'CuttingOperator'? Known roles: Admin, AuditReviewer, CuttingOperator,"
    )


def test_roles_are_checked_against_the_loaded_user_classes_when_given() -> None:
    _, found = parse_profile(BASE, known_roles=["CuttingOperator", "Night"])
    p = one(found, "roles.QcInspector")
    assert p.fix == "Known roles: CuttingOperator, Night"


def test_weight_problems() -> None:
    assert "(got -1)" in one(problems(roles={"CuttingOperator": -1}), "roles.CuttingOperator").message
    assert "(got 'x')" in one(problems(roles={"CuttingOperator": "x"}), "roles.CuttingOperator").message
    zero = one(problems(roles={"CuttingOperator": 0, "QcInspector": 0}), "roles")
    assert zero.message.startswith("all weights are 0") and "weight > 0" in zero.fix
    assert "(got {})" in one(problems(roles={}), "roles").message


def test_no_role_mix_anywhere() -> None:
    p = one(problems(roles=None), "stages[0].roles")
    assert "neither the profile nor this stage has roles" in p.message
    assert problems(roles=None, stages=[{"duration": 5, "users": 2, "roles": {"Admin": 1}}]) == []


def test_ramp_that_cannot_finish_within_its_stage() -> None:
    p = one(problems(stages=[{"duration": "30s", "users": 10, "spawn_rate": 0.1}]), "stages[0].spawn_rate")
    assert p.message == (
        "going from 0 to 10 users takes 10 user starts/stops: 100s at 0.1/s, longer than the stage (30s)"
    )
    assert "Raise spawn_rate to >= 0.34, lengthen duration to >= 100s" in p.fix
    mix = one(
        problems(
            stages=[
                {"duration": 10, "users": 8, "spawn_rate": 8},
                {"duration": 2, "users": 8, "spawn_rate": 1, "roles": {"Admin": 1}},
            ]
        ),
        "stages[1].spawn_rate",
    )
    assert "8 to 8 users and a new mix takes 16 user starts/stops" in mix.message


def test_arrival_stage_problems() -> None:
    found = problems(
        stages=[
            {"duration": 5, "arrival_rate": "20/s"},
            {"duration": 5, "arrival_rate": "lots", "users": 3},
            {"duration": 5, "arrival_rate": 5, "users": 0},
            {"duration": 5, "arrival_rate": 5, "max_users": 9, "users": 9},
        ]
    )
    p = one(found, "stages[0].users")
    assert (
        "required in an arrival-rate stage" in p.message and "(got keys: duration, arrival_rate)" in p.message
    )
    assert "(got 'lots')" in one(found, "stages[1].arrival_rate").message
    assert "must be >= 1" in one(found, "stages[2].users").message
    assert "Use users: N" in one(found, "stages[3].max_users").fix


def test_closed_and_open_stages_cannot_mix() -> None:
    p = one(
        problems(stages=[{"duration": 5, "users": 2}, {"duration": 5, "arrival_rate": 1, "users": 2}]),
        "stages[1]",
    )
    assert "mixes closed-model stages" in p.message


def test_options_and_allow() -> None:
    found = problems(options={"stoptimeout": "3s", "arrival_backlog": -1}, allow={"dropped_iterations": "x%"})
    assert "Did you mean 'stop_timeout'?" in one(found, "options.stoptimeout").fix
    assert "(got -1)" in one(found, "options.arrival_backlog").message
    assert "(got 'x%')" in one(found, "allow.dropped_iterations").message
    p, _ = parse_profile({**BASE, "options": {"stop_timeout": "30s"}, "allow": {"dropped_iterations": "2%"}})
    assert (
        p.options.stop_timeout_s == 30
        and p.options.arrival_backlog == 2
        and p.allow.dropped_iterations == 0.02
    )


def test_sla_rules_are_parsed_and_checked_against_stages_and_roles() -> None:
    found = problems(
        sla=[
            "p95 < 300ms",
            "p59x < 1s",
            {"rule": "p95 < 1s", "window": "stage:warmup"},
            "p99 of role Admin < 1s",
        ],
        stages=[{"duration": 5, "users": 2, "name": "warm-up"}],
    )
    assert "'p59x'" in one(found, "sla[1]").message
    window = one(found, "sla[2].window")
    assert "(got 'stage:warmup')" in window.message and "Did you mean 'warm-up'?" in window.fix
    assert "role 'Admin' has no users in this profile" in one(found, "sla[3]").message
    good, _ = parse_profile({**BASE, "sla": ["error_rate < 1%"]})
    assert good.sla[0].threshold == 0.01 and good.sla_raw == ("error_rate < 1%",)


def test_every_problem_is_collected_in_one_pass() -> None:
    found = problems(name=3, descripton="x", roles={"Cutter": 1}, stages=[{"users": -1}], options=[1])
    assert {p.where for p in found} >= {
        "name",
        "descripton",
        "roles.Cutter",
        "stages[0].duration",
        "stages[0].users",
        "options",
    }


# -- files ---------------------------------------------------------------------------------------------------
def test_file_problems(tmp_path: Path) -> None:
    assert validate_profile_file(tmp_path / "nope.yaml")[0].message == "file not found"
    assert "directory" in validate_profile_file(tmp_path)[0].message
    (tmp_path / "syntax.yaml").write_text("name: x\nstages:\n  - duration: 1m\n   users: 3\n")
    p = validate_profile_file(tmp_path / "syntax.yaml")[0]
    assert p.where == "line 4, column 4" and p.message.startswith("YAML syntax error:")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    assert "top level must be a mapping" in validate_profile_file(tmp_path / "list.yaml")[0].message
    (tmp_path / "empty.yaml").write_text("")
    assert validate_profile_file(tmp_path / "empty.yaml")[0].message == "the file is empty"
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00bad")
    assert "not a text file" in validate_profile_file(tmp_path / "bin.yaml")[0].message


def test_load_profile_raises_config_error_listing_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(
        "name: broken\ndescription: d\nroles: {CuttingOperater: 1}\n"
        "stages:\n  - {duration: 1m, users: -5}\n  - {users: 5}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    assert err.value.exit_code == 2
    assert err.value.render().splitlines() == [
        f"Error: {path} is not valid:",
        "  roles.CuttingOperater: unknown role 'CuttingOperater'. Did you mean 'CuttingOperator'? Known roles: "
        "Admin, AuditReviewer, CuttingOperator, FinishingOperator, PlanImporter, PpicPlanner, QcInspector, "
        "SewingOperator, StockController, StockTaker, Supervisor, WarehouseClerk",
        "  stages[0].users: must be a whole number >= 0 (got -5)",
        "  stages[1].duration: required (got keys: users)",
    ]


def test_profile_package_lists_its_public_names() -> None:
    import erpload.profile as profile_pkg
    from erpload.profile import capacity, load, model, plan

    assert profile_pkg.load_profile is load.load_profile and profile_pkg.Profile is model.Profile
    assert profile_pkg.stage_plan is plan.stage_plan and profile_pkg.check_memory is capacity.check_memory
    public = {
        n
        for n, v in vars(profile_pkg).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert sorted(profile_pkg.__all__) == sorted(public)
    assert {"Profile", "Stage", "StagePlan", "StageTarget", "allocate", "target_at"} <= public
    with pytest.raises(AttributeError):
        _ = profile_pkg.no_such_name


def test_profile_and_sla_import_at_the_top_only() -> None:
    """No import inside a function: it would hide a cycle, or (caught) make a broken install pass."""
    local = [
        f"{path.name}:{node.lineno}"
        for pkg in ("profile", "sla")
        for path in sorted((ROOT / "lib" / "erpload" / pkg).glob("*.py"))
        for fn in ast.walk(ast.parse(path.read_text()))
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(fn)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert local == []


def test_profiles_module_is_pure() -> None:
    code = "import sys, erpload.profile; assert 'locust' not in sys.modules and 'gevent' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# -- shipped profiles ----------------------------------------------------------------------------------------
def test_the_required_profiles_are_shipped() -> None:
    names = {p.stem for p in SHIPPED}
    assert names >= {
        "smoke",
        "ramp-0-100-5m",
        "cutting-50",
        "sewing-qc-30",
        "peak-200",
        "spike",
        "breakpoint",
        "endurance-8h",
        "soak-24h",
        "open-model",
        "mix-change",
    }


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_every_shipped_profile_validates(path: Path) -> None:
    p = load_profile(path)
    assert p.name == path.stem and p.description and p.sla
    assert all(sum(sp.end_roles.values()) == sp.stage.users for sp in stage_plan(p))


def test_shipped_profiles_say_what_their_names_promise() -> None:
    smoke = load_profile(ROOT / "profiles" / "smoke.yaml")
    assert 50 <= smoke.duration_s <= 70 and set(stage_plan(smoke)[-1].end_roles) == set(ROLES) - set(
        REPORTING_CLASSES
    )
    assert all(n >= 1 for n in stage_plan(smoke)[-1].end_roles.values())
    assert (
        stage_plan(load_profile(ROOT / "profiles" / "cutting-50.yaml"))[1].end_roles["CuttingOperator"] == 50
    )
    ramp = load_profile(ROOT / "profiles" / "ramp-0-100-5m.yaml")
    assert target_at(ramp, 150).users_total == 50 and target_at(ramp, 299.9).users_total == 100
    assert sum(load_profile(ROOT / "profiles" / "peak-200.yaml").roles.values()) == 200
    assert load_profile(ROOT / "profiles" / "endurance-8h.yaml").duration_s == 8 * 3600
    assert load_profile(ROOT / "profiles" / "soak-24h.yaml").duration_s == 24 * 3600
    assert load_profile(ROOT / "profiles" / "open-model.yaml").is_open
    mix = stage_plan(load_profile(ROOT / "profiles" / "mix-change.yaml"))
    assert mix[0].end_roles != mix[1].end_roles and mix[0].stage.users == mix[1].stage.users
    breakpoint_ = load_profile(ROOT / "profiles" / "breakpoint.yaml")
    if breakpoint_.sla:
        assert any(rule.abort for rule in breakpoint_.sla)
    assert [s.users for s in breakpoint_.stages] == list(range(25, 401, 25))
