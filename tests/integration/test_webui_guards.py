"""The web UI's guards and form labels, in-process: a Flask app wrapped like Locust's (CORS(app)).

The e2e tests (tests/e2e/test_webui_security.py, test_webui_login.py) prove the same against a real
Locust; these cover the header and label edge cases cheaply.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask import Flask, jsonify
from flask_cors import CORS

from erpload.web.form import FORM_HELP, short_help
from erpload.web.security import install_origin_check

HOST = "127.0.0.1:8089"


def _app(**web_ui: str):
    app = Flask(__name__)
    CORS(app)  # what Locust 2.47 does: reflect any Origin

    @app.route("/swarm", methods=["POST"])
    def swarm():
        return jsonify({"success": True})

    @app.route("/stats/requests")
    def stats():
        return jsonify({"state": "ready"})

    install_origin_check(SimpleNamespace(app=app, **web_ui))
    return app.test_client()


@pytest.fixture
def client():
    return _app(host="")  # listening on every interface: any Host name may reach it


def _post(client, headers: dict[str, str], host: str = HOST):
    return client.post("/swarm", headers={"Host": host, **headers})


@pytest.mark.parametrize(
    "headers",
    [
        {},  # a script: no browser, nothing to forge
        {"Origin": "http://127.0.0.1:8089"},
        {"Origin": "http://127.0.0.1:8089", "Sec-Fetch-Site": "same-origin"},
        {"Referer": "http://127.0.0.1:8089/?tab=sla"},
        {"Sec-Fetch-Site": "none"},  # typed in the address bar
        {"Origin": "https://locust.example", "X-Forwarded-Host": "locust.example"},  # behind a proxy
    ],
)
def test_same_origin_and_scripts_may_post(client, headers):
    r = _post(client, headers)
    assert r.status_code == 200 and r.json == {"success": True}


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1:8090"},
        {"Origin": "http://127.0.0.1.evil.example:8089"},
        {"Referer": "http://evil.example/page"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:8089"},
    ],
)
def test_other_sites_get_403_with_a_message(client, headers):
    r = _post(client, headers)
    assert r.status_code == 403
    assert r.json["success"] is False and "another site" in r.json["message"] and HOST in r.json["message"]


def test_default_ports_and_ipv6_hosts_compare_as_the_browser_sends_them(client):
    assert _post(client, {"Origin": "http://ui.example"}, host="ui.example:80").status_code == 200
    assert _post(client, {"Origin": "https://ui.example"}, host="ui.example").status_code == 200
    assert _post(client, {"Origin": "http://[::1]:8089"}, host="[::1]:8089").status_code == 200
    assert _post(client, {"Origin": "http://[::1]:8090"}, host="[::1]:8089").status_code == 403


def test_cross_origin_reads_get_no_cors_grant(client):
    evil = client.get("/stats/requests", headers={"Host": HOST, "Origin": "http://evil.example"})
    assert evil.status_code == 200 and "Access-Control-Allow-Origin" not in evil.headers
    own = client.get("/stats/requests", headers={"Host": HOST, "Origin": f"http://{HOST}"})
    assert own.status_code == 200


def test_form_labels_are_short_and_unescaped():
    assert short_help("relative tolerance (default 0.10 = 10%%)") == "relative tolerance"
    assert short_help("a generator above this CPU %% for 10 s is INVALID (default 90)") == (
        "a generator above this CPU % for 10 s is INVALID"
    )
    assert short_help("PID to monitor (CPU, RSS; children included). More text") == "PID to monitor"
    assert short_help("worker: exit after N s. Locust waits 60") == "worker: exit after N s"
    assert len(short_help("x " * 100)) <= 70 and short_help(None) == ""
    for text in FORM_HELP.values():
        assert "%%" not in text and len(text) <= 80, text


def test_a_loopback_ui_refuses_other_host_names_dns_rebinding():
    client = _app(host="127.0.0.1")
    for host in ("127.0.0.1:8089", "localhost:8089", "[::1]:8089"):
        assert client.get("/stats/requests", headers={"Host": host}).status_code == 200, host
    rebound = client.get("/stats/requests", headers={"Host": "evil.example:8089"})
    assert rebound.status_code == 403 and "not this web UI's address" in rebound.json["message"]
    same_origin = {"Host": "evil.example:8089", "Origin": "http://evil.example:8089"}
    assert client.post("/swarm", headers=same_origin).status_code == 403
