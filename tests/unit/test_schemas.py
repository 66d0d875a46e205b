"""The JSON Schemas for profiles and API maps: generated from the validators' tables, shipped fresh, and in
agreement with the validators (the shipped files pass both; every bad case here is refused by both)."""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from erpload.api import REFERENCE, check_api_map
from erpload.api.fields import DURATION
from erpload.api.json_schema import SHIPPED as API_SHIPPED
from erpload.api.json_schema import api_map_schema, render
from erpload.cli.schema import add_parser, cmd_schema
from erpload.core.errors import ConfigError
from erpload.core.units import QuantityError, parse_duration
from erpload.profile import parse_profile
from erpload.profile.json_schema import duration, profile_schema

ROOT = Path(__file__).resolve().parents[2]
PROFILE_SHIPPED = ROOT / "lib" / "erpload" / "profile" / "profile.schema.json"
SHIPPED_PROFILES = sorted((ROOT / "lib" / "erpload" / "profiles").glob("*.yaml"))
MAPS = [REFERENCE, ROOT / "examples" / "api-maps" / "v1.yaml"]
PROFILE_V = jsonschema.Draft7Validator(profile_schema())
MAP_V = jsonschema.Draft7Validator(api_map_schema())


def schema_errors(validator: jsonschema.Draft7Validator, doc: Any) -> list[str]:
    return [f"{e.json_path}: {e.message[:160]}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize(
    ("path", "generated"),
    [(PROFILE_SHIPPED, profile_schema), (API_SHIPPED, api_map_schema)],
    ids=["profile", "api-map"],
)
def test_shipped_schema_is_fresh(path, generated):
    """Regenerates the shipped file; fails when it was stale (so a stale copy never passes unnoticed)."""
    text = render(generated())
    jsonschema.Draft7Validator.check_schema(json.loads(text))
    old = path.read_text() if path.exists() else ""
    if old != text:
        path.write_text(text)
    assert old == text, f"{path.name} was stale and has been regenerated: review and commit it"


@pytest.mark.parametrize("path", SHIPPED_PROFILES, ids=[p.stem for p in SHIPPED_PROFILES])
def test_every_shipped_profile_passes_schema_and_validator(path):
    doc = yaml.safe_load(path.read_text())
    assert schema_errors(PROFILE_V, doc) == []
    assert parse_profile(doc, str(path))[1] == []


@pytest.mark.parametrize("path", MAPS, ids=[p.stem for p in MAPS])
def test_both_maps_pass_schema_and_validator(path):
    doc = yaml.safe_load(path.read_text())
    assert schema_errors(MAP_V, doc) == []
    assert check_api_map(doc) == []


# -- agreement on profiles ------------------------------------------------------------------------

BASE: dict[str, Any] = {
    "name": "t",
    "description": "d",
    "roles": {"CuttingOperator": 3, "QcInspector": 1},
    "stages": [{"duration": "10s", "users": 8}],
}


def profile(**changes: Any) -> dict[str, Any]:
    """BASE with top-level keys replaced (None deletes) and `stage` merged into the first stage."""
    doc = copy.deepcopy(BASE)
    doc["stages"][0].update(changes.pop("stage", {}))
    for key, value in changes.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return doc


GOOD_PROFILES = {
    "base": profile(),
    "stage roles only": profile(roles=None, stage={"roles": {"Admin": 1}}),
    "open model": profile(stage={"arrival_rate": "2/s", "users": 4}),
    "rate with blank": profile(stage={"arrival_rate": "120 / m", "users": 4}),
    "sla both forms": profile(
        sla=[
            'p95 of "GET /dashboard" < 300ms',
            "error_rate < 0.1%",
            "P99.9 < 2s",
            "target_leak == false",
            {"metric": "p99", "op": "<", "threshold": "2s", "abort": True, "after": "1m"},
            {"rule": "rps > 5", "window": "stage:stage-1"},
        ],
    ),
    "faults": profile(
        stage={"duration": "1m"},
        faults=[
            {"at": "20s", "action": "slow_db", "duration": "5s", "ms": 300},
            {"at": 0, "action": "set", "duration": 1, "switches": {"hang_rate": 0.1}},
        ],
    ),
    "options": profile(
        options={"stop_timeout": "30s", "arrival_backlog": 0},
        allow={"dropped_iterations": "2%", "under_delivery": True},
    ),
    "nulls": profile(sla=None, faults=None, hot_skus=None, options=None, allow=None, host=None),
    "host and skus": profile(host="http://127.0.0.1:8000", hot_skus=["FAB-000001", "FAB-000002"]),
}

BAD_PROFILES = {
    "missing name": profile(name=None),
    "empty description": profile(description=" "),
    "unknown top key": profile(stagse=[]),
    "host not a URL": profile(host="ftp://x"),
    "unknown role": profile(roles={"CuttingOperater": 1}),
    "negative weight": profile(roles={"Admin": -1}),
    "all weights 0": profile(roles={"Admin": 0, "QcInspector": 0}),
    "empty roles": profile(roles={}),
    "no stages": profile(stages=[]),
    "stages not a list": profile(stages={"duration": "1m"}),
    "stage without duration": profile(stages=[{"users": 3}]),
    "stage without users": profile(stages=[{"duration": "1m"}]),
    "zero duration": profile(stage={"duration": "0s"}),
    "bad duration": profile(stage={"duration": "10x"}),
    "fractional users": profile(stage={"users": 2.5}),
    "too many users": profile(stage={"users": 2_000_000}),
    "spawn rate 0": profile(stage={"spawn_rate": 0}),
    "unknown stage key": profile(stage={"max_users": 10}),
    "stage without roles anywhere": profile(roles=None),
    "bad arrival rate": profile(stage={"arrival_rate": "5/day", "users": 3}),
    "sla not a list": profile(sla="p95 < 1s"),
    "unknown metric": profile(sla=["p59x < 300ms"]),
    "bad operator": profile(sla=["p95 => 300ms"]),
    "rule without threshold": profile(sla=["p95 <"]),
    "long form missing op": profile(sla=[{"metric": "p95", "threshold": "1s"}]),
    "long form unknown key": profile(sla=[{"metric": "p95", "op": "<", "threshold": "1s", "abrot": True}]),
    "after without abort": profile(sla=[{"rule": "p95 < 1s", "after": "1m"}]),
    "rule and metric": profile(sla=[{"rule": "p95 < 1s", "metric": "p99"}]),
    "two scopes": profile(
        sla=[{"metric": "p95", "op": "<", "threshold": 1, "role": "Admin", "request": "GET /x"}]
    ),
    "bad window": profile(sla=[{"rule": "p95 < 1s", "window": "warmup"}]),
    "unknown option": profile(options={"stop_timout": "30s"}),
    "backlog negative": profile(options={"arrival_backlog": -1}),
    "allow not a flag": profile(allow={"under_delivery": "yes"}),
    "share above 1": profile(allow={"dropped_iterations": 2}),
    "unknown fault action": profile(faults=[{"at": "1s", "action": "explode", "duration": "1s"}]),
    "fault missing at": profile(faults=[{"action": "outage", "duration": "1s"}]),
    "fault param not taken": profile(faults=[{"at": "1s", "action": "outage", "duration": "1s", "ms": 5}]),
    "set without switches": profile(faults=[{"at": "1s", "action": "set", "duration": "1s"}]),
    "fault ms too large": profile(
        faults=[{"at": "1s", "action": "latency", "duration": "1s", "ms": 700_000}]
    ),
    "hot skus empty": profile(hot_skus=[]),
    "hot skus twice": profile(hot_skus=["A", "A"]),
    "api not a string": profile(api=["x.yaml"]),
}


@pytest.mark.parametrize("doc", GOOD_PROFILES.values(), ids=GOOD_PROFILES.keys())
def test_schema_and_validator_accept_good_profiles(doc):
    assert parse_profile(doc)[1] == []
    assert schema_errors(PROFILE_V, doc) == []


@pytest.mark.parametrize("doc", BAD_PROFILES.values(), ids=BAD_PROFILES.keys())
def test_schema_and_validator_refuse_bad_profiles(doc):
    assert parse_profile(doc)[1], "the validator accepted it"
    assert schema_errors(PROFILE_V, doc), "the JSON Schema accepted it"


def test_own_user_classes_with_roles_option(capsys):
    own = profile(roles={"Burner": 1})
    assert schema_errors(PROFILE_V, own) and parse_profile(own)[1]
    assert schema_errors(jsonschema.Draft7Validator(profile_schema(["Burner"])), own) == []
    assert parse_profile(own, known_roles=["Burner"])[1] == []


# -- agreement on API maps --------------------------------------------------------------------------

GOOD_MAPS = {
    "minimal": {"version": 1},
    "refresh": {
        "version": 1,
        "login": {"renew": "refresh", "refresh_path": "/auth/refresh", "expires_in": None},
    },
    "partial operation": {
        "version": 1,
        "operations": {"record_cutting": {"request": {"work_order_id": "job_id"}}},
    },
    "custom": {
        "version": 1,
        "custom_operations": {"get_style": "GET /styles/{code}", "ping": {"method": "HEAD", "path": "/"}},
    },
    "roles": {
        "version": 1,
        "roles": {"cutting": "cutters", "anything-goes": "x"},
        "preflight": {"role": "cutting", "operation": "list_work_orders"},
    },
}

BAD_MAPS = {
    "no version": {"base_path": "/x"},
    "version 2": {"version": 2},
    "unknown key": {"version": 1, "operatons": {}},
    "trailing slash": {"version": 1, "base_path": "/api/"},
    "relative base": {"version": 1, "base_path": "api"},
    "bad encoding": {"version": 1, "login": {"encoding": "xml"}},
    "refresh without path": {"version": 1, "login": {"renew": "refresh"}},
    "refresh path with relogin": {"version": 1, "login": {"refresh_path": "/r"}},
    "ttl zero": {"version": 1, "login": {"default_ttl": "0s"}},
    "empty dotted": {"version": 1, "lists": {"total": "meta..total"}},
    "scheme not string": {"version": 1, "login": {"scheme": 1}},
    "empty role pool": {"version": 1, "roles": {"ppic": ""}},
    "preflight not a list op": {"version": 1, "preflight": {"operation": "get_order"}},
    "unknown operation": {"version": 1, "operations": {"claim": "POST /x/{id}"}},
    "lowercase method": {"version": 1, "operations": {"list_orders": "get /orders"}},
    "missing placeholder": {"version": 1, "operations": {"get_order": {"path": "/orders"}}},
    "wrong placeholder": {"version": 1, "operations": {"adjust_stock": "POST /items/{id}/adjust"}},
    "extra placeholder": {"version": 1, "operations": {"list_orders": "GET /orders/{id}"}},
    "dotted request field": {
        "version": 1,
        "operations": {"record_sewing": {"request": {"work_order_id": "a.b"}}},
    },
    "token_param off websocket": {"version": 1, "operations": {"me": {"token_param": "t"}}},
    "websocket not GET": {"version": 1, "operations": {"events": "POST /ws"}},
    "custom shadows reference": {"version": 1, "custom_operations": {"me": "GET /me"}},
    "custom without path": {"version": 1, "custom_operations": {"ping": {"method": "GET"}}},
}


@pytest.mark.parametrize("doc", GOOD_MAPS.values(), ids=GOOD_MAPS.keys())
def test_schema_and_validator_accept_good_maps(doc):
    assert check_api_map(doc) == []
    assert schema_errors(MAP_V, doc) == []


@pytest.mark.parametrize("doc", BAD_MAPS.values(), ids=BAD_MAPS.keys())
def test_schema_and_validator_refuse_bad_maps(doc):
    assert check_api_map(doc), "the validator accepted it"
    assert schema_errors(MAP_V, doc), "the JSON Schema accepted it"


DURATIONS = [
    0,
    1,
    90,
    1.5,
    "90",
    "30s",
    "5m",
    "1h30m",
    "2h5m10s",
    " 15m ",
    "0s",
    "00",
    "",
    "1.5s",
    "5 m",
    "-5",
    "5x",
    "h",
    True,
    None,
    [1],
    -1,
]


@pytest.mark.parametrize("value", DURATIONS, ids=[repr(v) for v in DURATIONS])
def test_duration_patterns_agree_with_the_parser(value):
    try:
        seconds: float | None = parse_duration(value)
    except QuantityError:
        seconds = None
    any_ok = jsonschema.Draft7Validator(duration()).is_valid(value)
    positive_ok = jsonschema.Draft7Validator(DURATION.json()).is_valid(value)
    assert any_ok == (seconds is not None), seconds
    assert positive_ok == (seconds is not None and seconds > 0), seconds


# -- the command ----------------------------------------------------------------------------------


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="erpload")
    add_parser(parser.add_subparsers(dest="cmd"))
    return cmd_schema(parser.parse_args(argv))


@pytest.mark.parametrize(("kind", "shipped"), [("profile", PROFILE_SHIPPED), ("api-map", API_SHIPPED)])
def test_command_prints_the_shipped_schema(capsys, kind, shipped):
    assert run(["schema", kind]) == 0
    assert capsys.readouterr().out == shipped.read_text()


def test_command_roles(capsys):
    assert run(["schema", "profile", "--roles", "Burner, Admin"]) == 0
    assert json.loads(capsys.readouterr().out)["properties"]["roles"]["propertyNames"]["enum"] == [
        "Admin",
        "Burner",
    ]
    with pytest.raises(ConfigError) as e:
        run(["schema", "api-map", "--roles", "Burner"])
    assert e.value.exit_code == 2 and "--roles" in e.value.render()
