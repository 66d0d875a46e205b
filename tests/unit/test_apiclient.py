"""erpload.locust.apiclient against a loopback stub ERP: the map's login and calls, caps, deadlines, redaction."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from erpload.api import ApiMap, reference_map
from erpload.locust.apiclient import ApiCallError, ApiClient, Misfit, Unanswered

from helpers import JsonHandler, stub_server

SECRET = "s3cr3t-Pa55"
TOKEN = "opaque-token-0123456789abcdef"
DIALECT = ApiMap.from_dict(
    {
        "version": 1,
        "name": "stub",
        "base_path": "/api/v9",
        "login": {
            "path": "/auth/token",
            "encoding": "form",
            "fields": {"username": "user", "password": "pass"},
            "token": "auth.token",
            "expires_in": "ttl",
            "scheme": "Token",
        },
        "lists": {"items": "data", "total": "meta.total", "params": {"page_size": "per_page"}},
        "operations": {"list_orders": "GET /orders", "get_stock": {"method": "GET", "path": "/items/{sku}"}},
    },
    "stub.yaml",
    reference=reference_map(),
)


class _Stub(JsonHandler):
    """Answers as the `mode` class attribute says; records what it was sent."""

    mode = "ok"
    seen: list[tuple[str, str, dict, str]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        _Stub.seen.append(("POST", self.path, dict(self.headers), body))
        if self.mode == "echo":  # a login answer without the token where the map says, echoing secrets
            self.send_json(200, {"access_token": TOKEN, "you_sent": body})
        else:
            self.send_json(200, {"auth": {"token": TOKEN}, "ttl": 60})

    def do_GET(self) -> None:  # noqa: N802
        _Stub.seen.append(("GET", self.path, dict(self.headers), ""))
        if self.mode == "huge":
            self.send_json(200, {"data": ["x" * 1000] * 100})
        elif self.mode == "trickle":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        elif self.mode == "wrong-envelope":
            self.send_json(200, {"items": [], "total": 0})
        else:
            self.send_json(200, {"data": [{"id": 1}], "meta": {"total": 5}})


@pytest.fixture
def stub() -> Iterator[str]:
    _Stub.mode, _Stub.seen = "ok", []
    with stub_server(_Stub) as url:
        yield url


def test_login_and_a_list_call_speak_the_maps_dialect(stub: str) -> None:
    client = ApiClient(stub, DIALECT, timeout_s=5)
    assert client.login("ppic01", SECRET) == (TOKEN, 60.0)
    status, body = client.call("list_orders", params={"page_size": 1})
    assert (status, body) == (200, {"items": [{"id": 1}], "total": 5})
    (m1, login_path, _, form), (m2, list_path, headers, _) = _Stub.seen
    assert (m1, login_path) == ("POST", "/api/v9/auth/token") and parse_qs(form) == {
        "user": ["ppic01"],
        "pass": [SECRET],
    }
    assert m2 == "GET" and urlsplit(list_path).path == "/api/v9/orders"
    assert parse_qs(urlsplit(list_path).query) == {"per_page": ["1"]}
    assert headers["Authorization"] == f"Token {TOKEN}"


def test_an_answer_that_does_not_fit_names_the_map_key_with_redacted_evidence(stub: str) -> None:
    _Stub.mode = "echo"
    client = ApiClient(stub, DIALECT, timeout_s=5)
    with pytest.raises(Misfit) as info:
        client.login("ppic01", SECRET)
    e = info.value
    assert e.key == "login.token" and e.exchange.status == 200 and "/api/v9/auth/token" in e.exchange.url
    assert "access_token" in str(e) and "you_sent" in str(e)  # the keys the answer does have
    assert SECRET not in str(e) and "s3cr3t" not in str(e), str(e)
    _Stub.mode = "wrong-envelope"
    client.auth = DIALECT.auth_headers(TOKEN)
    with pytest.raises(Misfit) as info:
        client.call("list_orders", params={"page_size": 1})
    assert (
        info.value.key == "lists.items" and "'data'" in info.value.what and "items, total" in info.value.what
    )


def test_a_body_over_the_cap_and_a_trickle_are_unanswered_not_misfits(stub: str) -> None:
    _Stub.mode = "huge"
    with pytest.raises(Unanswered, match="byte cap"):
        ApiClient(stub, DIALECT, timeout_s=5, max_body=10_000).call("list_orders")
    _Stub.mode = "trickle"
    started = time.monotonic()
    with pytest.raises(Unanswered, match="no complete answer within 1 s"):
        ApiClient(stub, DIALECT, timeout_s=1).call("get_stock", {"sku": "A/B"})
    assert time.monotonic() - started < 3  # the total deadline, not 10 s of 0.1 s reads
    assert urlsplit(_Stub.seen[-1][1]).path == "/api/v9/items/A%2FB"  # placeholders URL-quoted


def test_nothing_listening_is_unanswered() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ApiCallError) as info:
        ApiClient(f"http://127.0.0.1:{port}", DIALECT, timeout_s=2).login("u", SECRET)
    assert isinstance(info.value, Unanswered) and info.value.exchange.status == 0
