"""ErpSession.request (one pass) against Locust's FastHttpSession.request, side by side on a loopback stub.

The one-pass request must report what Locust's reports (name, URL, context, length, exception,
catch_response), send what Locust sends (headers, JSON body), and keep the defences: the in-flight
registry, the total deadline, the body cap, and a stopped user's request reported as a failure.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest
from geventhttpclient.url import URL
from locust.contrib.fasthttp import FastHttpSession, FastRequest, ResponseContextManager
from locust.event import EventHook

from erpload.users.inflight import GRACE_S, IN_FLIGHT, InFlightAtStop
from erpload.users.transport import (
    ACCEPT_ENCODING,
    ENCODINGS,
    BodyTooLarge,
    DeadlineExceeded,
    ErpSession,
)
from erpload.users.useragent import CachedURLRequest, ParsedURL

from helpers import JsonHandler, stub_server


class _Stub(JsonHandler):
    """Echoes what it was sent; /slow waits, /big answers 4 KiB, /redirect answers 302, /missing 404."""

    seen: list[dict[str, Any]] = []
    in_flight_seen: list[int] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        _Stub.seen.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        _Stub.in_flight_seen.append(len(IN_FLIGHT))
        if self.path.startswith("/slow"):
            time.sleep(float(self.path.rsplit("/", 1)[-1]))  # a greenlet's sleep: locust monkey-patched time
        if self.path == "/big":
            self.send_json(200, {"blob": "x" * 4096})
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/echo")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/set-cookie":  # a session-cookie ERP's login answer
            self.send_response(200)
            self.send_header("Set-Cookie", "sid=s3cr3t; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/missing":
            self.send_json(404, {"error": "not_found"})
        else:
            self.send_json(200, {"path": self.path, "sent_bytes": bool(body)})

    do_GET = do_POST = do_PATCH = _answer  # noqa: N815


class _User:
    """What a session reads of its user: context() and environment.runner.state."""

    def __init__(self, state: str = "running") -> None:
        self.environment = type("Env", (), {"runner": type("Runner", (), {"state": state})()})()

    def context(self) -> dict[str, Any]:
        return {"role": "Stub"}


@pytest.fixture
def url() -> Iterator[str]:
    _Stub.seen.clear()
    _Stub.in_flight_seen.clear()
    with stub_server(_Stub) as base:
        yield base


def _sessions(url: str, **erp: Any) -> tuple[list[dict[str, Any]], FastHttpSession, ErpSession]:
    """Locust's session and ours on one event hook; the events they fire, in order."""
    events: list[dict[str, Any]] = []
    hook = EventHook()
    hook.add_listener(lambda **kw: events.append(kw))
    locust_session = FastHttpSession(url, request_event=hook, user=_User())
    ours = ErpSession(
        url,
        request_event=hook,
        user=_User(),
        total_timeout=erp.get("total_timeout", 5.0),
        max_body=erp.get("max_body", 2**20),
    )
    return events, locust_session, ours


CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", "/echo", {"headers": {"Authorization": "Bearer t", ACCEPT_ENCODING: ENCODINGS}}),
    ("GET", "/echo?page=2", {"name": "/echo [paged]", "params": {"page_size": 50}}),
    ("POST", "/echo", {"json": {"a": 1, "b": [1, 2]}, "context": {"extra": "yes"}}),
    ("POST", "/echo", {"data": b"raw=1", "headers": {"Content-Type": "text/plain"}}),
    ("GET", "/echo", {"auth": ("user", "pass")}),
    ("GET", "/missing", {}),
    ("GET", "/redirect", {"allow_redirects": False}),
    ("GET", "/redirect", {}),
    ("PATCH", "/echo", {"stream": True, "json": {"note": "x"}}),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"), CALLS, ids=[f"{m} {p} {sorted(k)}" for m, p, k in CALLS]
)
def test_one_pass_request_reports_and_sends_what_locusts_does(
    url: str, method: str, path: str, kwargs: dict
) -> None:
    events, theirs, ours = _sessions(url)
    sent = []
    for session in (theirs, ours):
        headers = kwargs.get("headers")
        before = dict(headers) if headers else None
        _Stub.seen.clear()
        session.request(method, path, **kwargs)
        assert headers == before, "the caller's headers must not be changed"
        sent.append(_Stub.seen[0])  # the first request (a redirect is followed by a second)
    assert len(events) == 2
    a, b = events
    for key in ("request_type", "name", "url", "context", "response_length"):
        assert a[key] == b[key], key
    assert type(a["exception"]) is type(b["exception"])
    assert a["response"].status_code == b["response"].status_code
    assert b["response_time"] >= 0 and abs(b["start_time"] - time.time()) < 60
    sent_a, sent_b = sent
    assert (sent_a["method"], sent_a["path"]) == (sent_b["method"], sent_b["path"])
    if "json" in kwargs:  # ours encodes with orjson (compact): the same JSON document
        assert json.loads(sent_a["body"]) == json.loads(sent_b["body"]) == kwargs["json"]
    else:
        assert sent_a["body"] == sent_b["body"]
    strip = {"Accept-Encoding", "Host", "Content-Length"}  # ours: no br (not decodable in bounded steps)
    assert {k: v for k, v in sent_a["headers"].items() if k not in strip} == {
        k: v for k, v in sent_b["headers"].items() if k not in strip
    }
    assert sent_b["headers"]["Accept-Encoding"] == ENCODINGS
    assert len(IN_FLIGHT) == 0


def test_cookies_are_kept_and_sent_as_locusts_jar_does(url: str) -> None:
    """The quiet jar skips only work that would do nothing: a Set-Cookie is stored and sent back."""
    _, theirs, ours = _sessions(url)
    sent = []
    for session in (theirs, ours):
        _Stub.seen.clear()
        session.request("GET", "/echo")  # empty jar: no Cookie header
        session.request("GET", "/set-cookie")
        session.request("GET", "/echo")
        sent.append([seen["headers"].get("Cookie") for seen in _Stub.seen])
    assert sent[0] == sent[1] == [None, None, "sid=s3cr3t"]
    assert [c.name for c in ours.cookiejar] == ["sid"]
    assert ours.client.cookiejar is ours.cookiejar


def test_catch_response_reports_once_on_exit_with_the_manual_verdict(url: str) -> None:
    events, theirs, ours = _sessions(url)
    for n, session in enumerate((theirs, ours)):
        with session.request("GET", "/missing", catch_response=True) as resp:
            assert isinstance(resp, ResponseContextManager)
            assert resp.request_meta["exception"] is not None  # 404: Locust's LocustBadStatusCode
            assert len(events) == n  # nothing fired before the block ends
            resp.success()
    assert [e["exception"] for e in events] == [None, None]
    with ours.request("GET", "/echo", catch_response=True) as resp:
        assert resp.json()["path"] == "/echo"
        resp.failure("body checked: not what I wanted")
    assert "not what I wanted" in str(events[-1]["exception"])


def test_every_request_is_in_flight_while_sent_and_removed_after(url: str) -> None:
    _, _, ours = _sessions(url)
    ours.request("GET", "/echo")
    ours.request("POST", "/echo", json={"x": 1})
    assert _Stub.in_flight_seen == [1, 1]
    assert len(IN_FLIGHT) == 0


def test_total_deadline_and_body_cap_are_failures_with_evidence(url: str) -> None:
    events, _, ours = _sessions(url, total_timeout=0.3, max_body=1024)
    started = time.monotonic()
    ours.request("GET", "/slow/2")
    assert time.monotonic() - started < 1.5
    assert isinstance(events[-1]["exception"], DeadlineExceeded)
    assert "no complete response within 0.3 s" in str(events[-1]["exception"])
    ours.request("GET", "/big")
    assert isinstance(events[-1]["exception"], BodyTooLarge)
    assert "exceeded 1 KiB cap" in str(events[-1]["exception"])
    assert len(IN_FLIGHT) == 0


def test_a_stopped_users_request_is_a_failure_in_flight_at_stop(url: str) -> None:
    events, _, _ = _sessions(url)
    hook = EventHook()
    hook.add_listener(lambda **kw: events.append(kw))
    ours = ErpSession(
        url, request_event=hook, user=_User(state="stopping"), total_timeout=10.0, max_body=2**20
    )
    greenlet = gevent.spawn(ours.request, "GET", "/slow/3", name="slow one")
    gevent.sleep(GRACE_S + 0.3)
    assert len(IN_FLIGHT) == 1
    greenlet.kill(block=True, timeout=5)
    assert len(IN_FLIGHT) == 0
    [event] = events
    assert event["name"] == "slow one" and event["context"] == {"role": "Stub"}
    assert isinstance(event["exception"], InFlightAtStop)
    assert str(event["exception"]).startswith("in flight at stop: no complete response after 1 s")


@pytest.mark.parametrize(
    "raw",
    [
        "http://127.0.0.1:8089/production/work-orders?status=open&page=2",
        "http://[::1]/a b;x?q=1#frag",
        "https://erp.example:8443/api/v1/ppic/orders/MO-1/",
        "http://127.0.0.1",
    ],
)
def test_parsed_url_reads_what_geventhttpclients_url_computes(raw: str) -> None:
    theirs, ours = URL(raw), ParsedURL(raw)
    for part in ("scheme", "netloc", "host", "port", "request_uri", "quoted_uri", "query"):
        assert getattr(ours, part) == getattr(theirs, part), part
    assert str(ours) == str(theirs) and ours == theirs
    cached = CachedURLRequest(raw)
    plain = FastRequest(raw)
    for attr in ("url", "type", "host", "selector"):
        assert getattr(cached, attr) == getattr(plain, attr), attr
    assert CachedURLRequest(raw).url_split is cached.url_split  # parsed once per string
    with_params = CachedURLRequest(raw, params={"page_size": 50})
    assert with_params.url_split.query == FastRequest(raw, params={"page_size": 50}).url_split.query
