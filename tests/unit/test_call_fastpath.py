"""The per-request shortcuts of `ErpUser.call` decide exactly what the slow, obvious code decides.

- `OpSpec.query`: the query string is encoded once per distinct parameter set and handed to
  geventhttpclient as a string; the bytes on the wire are the ones `params=dict` sends (checked on
  a real socket), values of different types (`1`, `1.0`, `True`) stay apart.
- `missing_fields`: the required-field check, planned once per `required` tuple, names the same
  missing fields as `has_field` field by field.
- `ApiMap.reader` / `renamer`: the translation prepared once per operation equals `response` /
  `rename_fields` (the v1 map renames fields and the envelope; the reference map renames nothing).
- `guard`: the one-argument wrapper of a task counts an exception like the general one.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import gevent
import pytest
from gevent.server import StreamServer
from locust.contrib.fasthttp import LocustUserAgent
from locust.exception import StopUser

from erpload.api import load_api_map, reference_map
from erpload.api.paths import placeholders, rename_fields, renamer
from erpload.users.checks import guard, has_field, missing_fields
from erpload.users.opspec import spec_of

ROOT = Path(__file__).resolve().parents[2]
MAPS = {"reference": reference_map, "v1": lambda: load_api_map(ROOT / "examples" / "api-maps" / "v1.yaml")}
QUERIES: list[dict[str, Any]] = [
    {"department": "cutting", "status": "open", "page_size": 50},
    {"page": 1, "page_size": 50},
    {"page": True, "page_size": 50},  # same hash and == as page=1: must not share its string
    {"page": 1.0, "page_size": 50},
    {"q": "a b&c=d/é ✓", "status": None},  # quoting; None values are left out
    {"status": ["open", "in_progress"]},  # a list: not hashable, encoded every time
    {},
]


def _wire(*params: Any) -> list[bytes]:
    """The bytes Locust's user agent sends for GET /x with each of `params` (one server on loopback)."""
    got: list[bytes] = []

    def handle(sock: Any, _addr: Any) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        got.append(data)
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        sock.close()

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    try:
        agent = LocustUserAgent(max_retries=0, network_timeout=5, connection_timeout=5)
        for p in params:
            with gevent.Timeout(10):
                resp = agent.urlopen(f"http://127.0.0.1:{server.server_port}/x", params=p, headers={"A": "b"})
                assert resp.status_code == 200
    finally:
        server.stop(timeout=2)
    assert len(got) == len(params)
    return got


@pytest.mark.parametrize("which", sorted(MAPS))
def test_query_strings_are_the_bytes_params_dict_sends(which: str) -> None:
    amap = MAPS[which]()
    spec = spec_of(amap, "list_work_orders")
    for params in QUERIES:
        renamed = spec.params(params)
        first, again = spec.query(params), spec.query(dict(params))
        assert first == again, params
        sent, expected = _wire(first, renamed)
        assert sent == expected, params  # the whole request: request line and headers
        assert sent.startswith(b"GET /x?" if renamed else b"GET /x "), sent
    assert spec.query(None) is None
    assert spec.query({"page": True}) != spec.query({"page": 1}) != spec.query({"page": 1.0})
    if which == "v1":  # the map renames list parameters: the string carries the ERP's names
        assert spec.query({"page_size": 5}) != "page_size=5"


def test_query_cache_stays_bounded() -> None:
    spec = spec_of(reference_map(), "list_stock")
    for i in range(2000):
        assert spec.query({"q": f"FG-{i}"}) == f"q=FG-{i}"
    assert len(spec._queries) <= 512


BODIES: list[Any] = [
    {"work_order": {"status": "done", "quantity": 5, "quantity_done": 5}, "next": None},
    {"work_order": {"status": "done", "quantity": 5}, "next": None},
    {"work_order": "scalar", "next": 1},
    {"next": 1},
    {"id": 1, "status": "open", "assignee": "x", "quantity": 1, "quantity_done": 0},
    {"id": 1, "status": "open"},
    {"a": {"b": {"c": 1}}, "d": 2},
    {"a": {"b": 3}, "d": 2},
    [1, 2],
    None,
    "text",
    {},
]
REQUIRED: list[Any] = [
    ("work_order.status", "work_order.quantity", "work_order.quantity_done", "next"),
    ("id", "status", "assignee", "quantity", "quantity_done"),
    ("a.b.c", "d", "a.b"),
    ("items", "total"),
    ("x",),
    ["id", "status"],  # a list works too (checked field by field)
]


def test_missing_fields_agrees_with_has_field_field_by_field() -> None:
    for required in REQUIRED:
        for body in BODIES:
            expected = [f for f in required if not has_field(body, f)]
            assert missing_fields(body, required) == expected, (required, body)
            assert missing_fields(body, required) == expected  # planned: the same answer again


@pytest.mark.parametrize("which", sorted(MAPS))
def test_prepared_readers_translate_like_the_map(which: str) -> None:
    amap = MAPS[which]()
    item = {"id": 1, "qty": 2, "quantity": 3, "work_order_id": 4, "inventory": {"qty": 5}, "sku": "S"}
    bodies: list[Any] = [
        {"items": [item, 7], "total": 1},
        {"data": [item, {"id": 2}], "meta": {"total": 2}},
        {"data": {"not": "a list"}, "meta": {}},
        {"items": []},
        {"work_order": item, "next": None, **item},
        [1],
        None,
    ]
    for name, op in amap.operations.items():
        read = amap.reader(op)
        for body in bodies:
            kept = copy.deepcopy(body)
            assert read(copy.deepcopy(body)) == amap.response(op, body), (name, body)
            assert body == kept  # the ERP's answer is not modified (renames work on a copy)
        for body in bodies:
            assert renamer(op.response_fields)(body) == rename_fields(body, op.response_fields), name


class _User:
    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def _suite_error(self, where: str, exc: BaseException) -> None:
        self.errors.append((where, repr(exc)))


def test_guard_counts_an_exception_on_the_one_argument_and_the_general_path() -> None:
    def task(user: Any) -> None:
        raise ValueError("boom")

    def with_args(user: Any, n: int, *, k: int = 0) -> int:
        if n < 0:
            raise ValueError("negative")
        return n + k

    def stops(user: Any) -> None:
        raise StopUser()

    one, general, control = guard(task), guard(with_args), guard(stops)
    assert one.__wrapped__ is task and general.__wrapped__ is with_args  # type: ignore[attr-defined]
    assert guard(one) is one and one._erp_guarded  # type: ignore[attr-defined]
    user = _User()
    assert one(user) is None
    assert general(user, 2, k=3) == 5
    assert general(user, -1) is None
    assert user.errors == [("task", "ValueError('boom')"), ("with_args", "ValueError('negative')")]
    with pytest.raises(StopUser):
        control(user)


@pytest.mark.parametrize("which", sorted(MAPS))
def test_prepared_paths_render_like_the_map(which: str) -> None:
    amap = MAPS[which]()
    for name, op in amap.operations.items():
        spec = spec_of(amap, name)
        for value in (7, -3, 2**70, True, 1.5, "SKU 1/é?#", "{id}"):
            params = dict.fromkeys(placeholders(op.path), value)
            assert spec.render(params) == amap.url_path(name, **params), (name, value)
