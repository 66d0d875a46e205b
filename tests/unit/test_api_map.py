"""API maps: the validating loader (every problem: where, what with the value, fix, did-you-mean), the
shipped reference map, the v1 example's translations, custom operations, and a profile's `api:`."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from erpload.api import (
    LIST_OPERATIONS,
    REFERENCE,
    ApiMap,
    check_api_map,
    load_api_map,
    map_from_shipped,
    reference_map,
)
from erpload.api.model import rename_fields
from erpload.api.schema import check_map
from erpload.core.errors import ConfigError, ExitCode, InternalError, Problem
from erpload.profile import load_profile, validate_profile_file

ROOT = Path(__file__).resolve().parents[2]
V1 = ROOT / "examples" / "api-maps" / "v1.yaml"
REF_DOC = yaml.safe_load(REFERENCE.read_text())


def problems(**top: Any) -> list[Problem]:
    """Problems of a minimal team map with top-level keys set (None deletes a key)."""
    doc = {k: v for k, v in {"version": 1, **top}.items() if v is not None}
    return check_api_map(doc)


def one(found: list[Problem], where: str) -> Problem:
    hits = [p for p in found if p.where == where]
    assert len(hits) == 1, f"expected one problem at {where!r}, got: {[str(p) for p in found]}"
    return hits[0]


# -- the shipped maps -------------------------------------------------------------------------------


def test_reference_map_validates_as_the_reference_and_as_a_team_map():
    assert check_map(REF_DOC, reference=None) == []
    assert check_api_map(REF_DOC) == []
    ref = reference_map()
    assert ref.source == "built-in reference map" and ref.base_path == ""
    assert set(LIST_OPERATIONS) | {"events"} <= set(ref.operations)
    assert all(op.is_list == (name in LIST_OPERATIONS) for name, op in ref.operations.items())


def test_reference_map_without_a_list_operation_is_refused():
    doc = copy.deepcopy(REF_DOC)
    del doc["operations"]["list_stock"]
    p = one(check_map(doc, reference=None), "operations.list_stock")
    assert "required" in p.message


def test_a_broken_shipped_reference_map_is_an_internal_error(monkeypatch, tmp_path):
    from erpload.api import load

    bad = tmp_path / "reference.yaml"
    bad.write_text(REFERENCE.read_text().replace("list_orders:         GET", "list_orders:         FETCH"))
    monkeypatch.setattr(load, "REFERENCE", bad)
    with pytest.raises(InternalError) as e:
        load.reference_map.__wrapped__()  # uncached: the process keeps its one reference map
    assert "operations.list_orders" in str(e.value) and "'FETCH'" in str(e.value)


def test_v1_map_translates_both_ways():
    m = load_api_map(V1)
    assert m.name == "v1" and m.base_path == "/api/v1"
    assert m.url_path("claim_work_order", id=7) == "/api/v1/production/jobs/7/claim"
    assert m.url_path("get_stock", sku="FAB 1/2") == "/api/v1/inventory/items/FAB%201%2F2"
    assert m.url_path("list_receipts") == "/api/v1/warehouse/receipts"  # not in the map: the reference path
    assert m.op("claim_work_order").stats_name == "/production/work-orders/[id]/claim"
    assert m.op("list_receipts").stats_name == "/warehouse/receipts"
    assert m.login.path == "/auth/token" and m.login.encoding == "form"
    assert m.login_payload("u1", "pw") == {"user": "u1", "pass": "pw"}
    assert m.read_login({"token": "abc", "ttl": 60}) == ("abc", 60.0)
    assert "login.token" in m.read_login({"access_token": "abc"})
    assert m.auth_headers("abc") == {"Authorization": "Token abc"}
    step = m.op("record_cutting")
    assert m.request_json(step, {"work_order_id": 3, "quantity": 5}) == {"job_id": 3, "quantity": 5}
    stock = m.op("list_stock")
    assert m.request_params(stock, {"page_size": 1, "q": "FAB"}) == {"per_page": 1, "q": "FAB"}
    body = {"data": [{"sku": "A", "on_hand": 4}], "meta": {"total": 9, "page": 1, "per_page": 1}}
    assert m.response(stock, body) == ({"items": [{"sku": "A", "quantity": 4}], "total": 9}, None)
    assert m.response(stock, {"items": []})[1] == "no list at 'data' (the API map's lists.items)"
    got, _ = m.response(m.op("receive_receipt"), {"receipt": {"id": 1}, "stock": {"sku": "A", "on_hand": 5}})
    assert got == {"receipt": {"id": 1}, "stock": {"sku": "A", "quantity": 5}}
    assert m.error_code({"error": {"code": "forbidden", "message": "no"}}) == "forbidden"
    assert m.op("events").token_param == "access_token"


def test_rename_into_a_parent_the_answer_lacks_keeps_the_value():
    assert rename_fields({"inventory": {"qty": 3}}, {"stock.quantity": "inventory.qty"}) == {
        "inventory": {},
        "stock": {"quantity": 3},
    }


def test_shipped_map_round_trip_and_tampering_is_refused():
    m = load_api_map(V1)
    assert map_from_shipped(m.to_dict()) == m
    assert map_from_shipped(reference_map().to_dict()) is reference_map()
    shipped = m.to_dict()
    shipped["document"] = {**shipped["document"], "base_path": "api/v1"}
    with pytest.raises(ConfigError) as e:
        map_from_shipped(shipped)
    assert "base_path" in str(e.value) and "as shipped by the master" in str(e.value)


# -- files ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "file not found"),
        ("", "the file is empty"),
        ("version: 1\nbase_path: [\n", "YAML syntax error"),
        ("- a\n- b\n", "the top level must be a mapping"),
        ("version: 1\nversion: 1\n", "duplicate key"),
    ],
)
def test_bad_files_exit_2_with_the_path(tmp_path, text, message):
    path = tmp_path / "map.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_api_map(path)
    assert e.value.exit_code == ExitCode.CONFIG_INVALID
    assert str(path) in e.value.render() and message in e.value.render()


def test_no_path_is_the_reference_map():
    assert load_api_map(None) is reference_map() and load_api_map("") is reference_map()


# -- every check --------------------------------------------------------------------------------------

CASES = [  # (top-level keys, where, what the message says, what the fix says)
    ({"colour": 1}, "colour", "unknown key 'colour'", "Known keys: version"),
    ({"base_pth": "/x"}, "base_pth", "unknown key", "Did you mean 'base_path'?"),
    ({"version": None}, "version", "required", "version"),
    ({"version": 2}, "version", "(got 2)", "Write version: 1"),
    ({"version": True}, "version", "(got True)", "Write version: 1"),
    ({"base_path": "api/v1"}, "base_path", "(got 'api/v1')", "e.g. base_path: /api/v1"),
    ({"base_path": "/api/v1/"}, "base_path", "without a trailing '/'", "/api/v1"),
    ({"base_path": "/api/{v}"}, "base_path", "no placeholders", ""),
    ({"login": {"encoding": "xml"}}, "login.encoding", "(got 'xml')", "Known: json, form"),
    ({"login": {"encoding": "frm"}}, "login.encoding", "(got 'frm')", "Did you mean 'form'?"),
    ({"login": {"renew": "refresh"}}, "login.refresh_path", "required with renew: refresh", "refresh_path:"),
    ({"login": {"refresh_path": "/auth/refresh"}}, "login.refresh_path", "only used with renew: refresh", ""),
    ({"login": {"renew": "refrsh"}}, "login.renew", "(got 'refrsh')", "Did you mean 'refresh'?"),
    ({"login": {"default_ttl": 0}}, "login.default_ttl", "above 0 (90, 30s, 15m, 1h) (got 0)", "900s"),
    ({"login": {"default_ttl": "15 minutes"}}, "login.default_ttl", "(got '15 minutes')", "15m"),
    ({"login": {"token": ""}}, "login.token", "(got '')", "meta.total"),
    ({"login": {"token": "data..token"}}, "login.token", "dotted path", ""),
    ({"login": {"expires_in": "meta. ttl"}}, "login.expires_in", "or null", ""),
    ({"login": {"scheme": 5}}, "login.scheme", "must be a string (got 5)", "Quote it"),
    ({"login": {"header": "Auth Header"}}, "login.header", "HTTP header name", "X-Api-Token"),
    ({"login": {"path": "auth/token"}}, "login.path", "starting with '/'", "/auth/token"),
    ({"login": {"fields": {"user": "u"}}}, "login.fields.user", "unknown key", "Did you mean 'username'?"),
    ({"login": {"method": "post"}}, "login.method", "(got 'post')", "Did you mean 'POST'?"),
    ({"login": "/auth/token"}, "login", "must be a mapping", "login: {path"),
    ({"lists": {"itms": "data"}}, "lists.itms", "unknown key", "Did you mean 'items'?"),
    ({"lists": {"params": {"page_size": "per.page"}}}, "lists.params.page_size", "without dots", ""),
    ({"errors": {"code": None}}, "errors.code", "(got None)", ""),
    ({"roles": {"ppic": ""}}, "roles.ppic", "non-empty string (got '')", ""),
    ({"roles": ["ppic"]}, "roles", "must be a mapping", "roles: {ppic: planners}"),
    ({"preflight": {"operation": "get_order"}}, "preflight.operation", "(got 'get_order')", "list_orders"),
    ({"preflight": {"role": 3}}, "preflight.role", "(got 3)", ""),
    (
        {"operations": {"claim_work_ordr": "POST /x/{id}"}},
        "operations.claim_work_ordr",
        "unknown operation",
        "Did you mean 'claim_work_order'? A team's own operations go under custom_operations:",
    ),
    (
        {"operations": {"claim_work_order": "POST /jobs/{sku}"}},
        "operations.claim_work_order",
        "exactly the placeholder(s) {id}",
        "/production/work-orders/{id}/claim",
    ),
    ({"operations": {"claim_work_order": "POST /jobs/{id}/{id}"}}, "operations.claim_work_order", "{id}", ""),
    ({"operations": {"get_stock": {"path": "/inventory/items"}}}, "operations.get_stock.path", "{sku}", ""),
    (
        {"operations": {"list_orders": "GET /orders/{id}"}},
        "operations.list_orders",
        "without placeholders",
        "",
    ),
    (
        {"operations": {"list_orders": "FETCH /orders"}},
        "operations.list_orders",
        "method 'FETCH'",
        "Known: GET",
    ),
    ({"operations": {"list_orders": "get /orders"}}, "operations.list_orders", "method 'get'", "'GET'"),
    ({"operations": {"list_orders": "GET orders"}}, "operations.list_orders", "path 'orders'", ""),
    ({"operations": {"list_orders": "GET /orders?all=1"}}, "operations.list_orders", "path", ""),
    ({"operations": {"list_orders": "/orders"}}, "operations.list_orders", "'METHOD /path'", "GET /ppic"),
    ({"operations": {"list_orders": 5}}, "operations.list_orders", "(got 5)", ""),
    (
        {"operations": {"list_orders": {"methd": "GET"}}},
        "operations.list_orders.methd",
        "unknown key",
        "Did you mean 'method'?",
    ),
    (
        {"operations": {"list_orders": {"token_param": "t"}}},
        "operations.list_orders.token_param",
        "unknown key",
        "",
    ),
    ({"operations": {"events": {"method": "POST"}}}, "operations.events.method", "GET (a WebSocket", ""),
    (
        {"operations": {"record_cutting": {"request": {"work_order_id": "job.id"}}}},
        "operations.record_cutting.request.work_order_id",
        "without dots",
        "top-level",
    ),
    (
        {"operations": {"get_stock": {"response": {"quantity": ""}}}},
        "operations.get_stock.response.quantity",
        "(got '')",
        "",
    ),
    ({"operations": {"get_stock": {"name": ""}}}, "operations.get_stock.name", "non-empty", ""),
    (
        {"custom_operations": {"list_orders": "GET /x"}},
        "custom_operations.list_orders",
        "is a reference operation",
        "under operations:",
    ),
    ({"custom_operations": {"My-Op": "GET /x"}}, "custom_operations.My-Op", "lower_snake_case", ""),
    (
        {"custom_operations": {"list_styles": {"method": "GET"}}},
        "custom_operations.list_styles.path",
        "required",
        "path:",
    ),
    (
        {"custom_operations": {"list_styles": {"path": "/styles", "method": "GET", "list": "yes"}}},
        "custom_operations.list_styles.list",
        "true or false",
        "",
    ),
]


@pytest.mark.parametrize(
    ("top", "where", "what", "fix"), CASES, ids=[c[1] + "-" + str(i) for i, c in enumerate(CASES)]
)
def test_each_problem_says_where_what_and_how(top, where, what, fix):
    p = one(problems(**top), where)
    assert what in p.message, str(p)
    assert fix in p.fix, str(p)


def test_every_problem_is_reported_at_once(tmp_path):
    path = tmp_path / "map.yaml"
    path.write_text(
        "version: 3\nbase_path: x\nlogin: {encoding: xml}\n"
        "operations: {list_ordrs: GET /o, get_order: GET /o}\ncustom_operations: {me: GET /me}\n"
    )
    with pytest.raises(ConfigError) as e:
        load_api_map(path)
    assert [p.where for p in e.value.problems] == [
        "version",
        "base_path",
        "login.encoding",
        "operations.list_ordrs",
        "operations.get_order",
        "custom_operations.me",
    ]
    assert e.value.render().startswith(f"Error: API map {path} is not valid:\n  version: must be 1")


def test_custom_operations_and_inheritance():
    doc = {
        "version": 1,
        "base_path": "/erp",
        "operations": {"record_cutting": {"request": {"work_order_id": "job_id"}}},
        "custom_operations": {
            "list_styles": {"method": "GET", "path": "/styles", "list": True},
            "get_style": "GET /styles/{code}",
        },
    }
    assert check_api_map(doc) == []
    m = ApiMap.from_dict(doc, "t", reference=reference_map())
    assert m.url_path("record_cutting") == "/erp/production/cutting"  # method and path inherited
    assert m.op("record_cutting").request_fields == {"work_order_id": "job_id"}
    assert m.url_path("get_style", code="X1") == "/erp/styles/X1"
    assert m.op("get_style").stats_name == "/styles/[code]" and not m.op("get_style").is_list
    assert m.op("list_styles").is_list and m.op("list_styles").method == "GET"
    assert m.url_path("me") == "/erp/auth/me"


# -- a profile's api: -------------------------------------------------------------------------------

PROFILE = "name: t\ndescription: d\nroles: {Admin: 1}\nstages: [{duration: 1s, users: 1}]\n"


def test_profile_api_is_relative_to_the_profile(tmp_path):
    (tmp_path / "maps").mkdir()
    (tmp_path / "maps" / "ours.yaml").write_text(V1.read_text())
    (tmp_path / "profiles").mkdir()
    path = tmp_path / "profiles" / "p.yaml"
    path.write_text(PROFILE + "api: ../maps/ours.yaml\n")
    assert load_profile(path).api == str((tmp_path / "maps" / "ours.yaml").resolve())
    path.write_text(PROFILE)
    assert load_profile(path).api is None


@pytest.mark.parametrize(
    ("line", "where", "what"),
    [
        ("api: missing.yaml", "api", "file not found"),
        ("api: ''", "api", "must be the path of an API map file"),
        ("api: [a.yaml]", "api", "must be the path of an API map file"),
        ("api: bad.yaml", "api (bad.yaml): operations.get_order", "exactly the placeholder(s) {id}"),
        ("api: broken.yaml", "api (broken.yaml): line 2, column 1", "YAML syntax error"),
        ("apii: bad.yaml", "apii", "unknown key"),
    ],
)
def test_profile_api_problems_are_reported_under_api(tmp_path, line, where, what):
    (tmp_path / "bad.yaml").write_text("version: 1\noperations: {get_order: GET /orders}\n")
    (tmp_path / "broken.yaml").write_text("version: 1\n- x\n")
    path = tmp_path / "p.yaml"
    path.write_text(PROFILE + line + "\n")
    p = one(validate_profile_file(path), where)
    assert what in p.message, str(p)
    if where == "apii":
        assert "Did you mean 'api'?" in p.fix
