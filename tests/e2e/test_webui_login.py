"""The web UI login (ERPLOAD_WEB_USER / ERPLOAD_WEB_PASSWORD): `--web-login`, and required beyond loopback."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import requests

from helpers import PY, ROOT, Proc, free_port, wait_http

pytestmark = pytest.mark.e2e


def _quit(proc: Proc) -> int:
    """SIGTERM: Locust's clean shutdown (a SIGINT lands in whichever greenlet runs, traceback and all)."""
    proc.signal(signal.SIGTERM)
    return proc.wait(90)


def test_web_login_requires_the_configured_credentials(tmp_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = "pw-not-in-any-log-7f3a"
    locust = Proc(
        [
            PY,
            "-m",
            "locust",
            "-f",
            str(ROOT / "locustfiles"),
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(port),
            "-H",
            "http://127.0.0.1:1",
            "--web-login",
        ],
        env={"ERPLOAD_WEB_USER": "lead", "ERPLOAD_WEB_PASSWORD": secret},
        name="locust-login",
        log_dir=tmp_path,
    )
    try:
        locust.expect(r"Starting web interface", timeout=60)
        wait_http(base + "/login", timeout=30)
        anon = requests.Session()
        r = anon.get(base + "/stats/requests", timeout=10, allow_redirects=False)
        assert r.status_code in (302, 401), r.status_code
        r = anon.post(base + "/erpload/login", data={"username": "lead", "password": "wrong"}, timeout=10)
        assert "/login" in r.url
        assert anon.get(base + "/stats/requests", timeout=10, allow_redirects=False).status_code in (302, 401)

        user = requests.Session()
        r = user.post(base + "/erpload/login", data={"username": "lead", "password": secret}, timeout=10)
        assert r.status_code == 200 and "/login" not in r.url
        stats = user.get(base + "/stats/requests", timeout=10)
        assert stats.status_code == 200 and stats.json()["extended_stats"][0]["key"] == "sla"
        assert _quit(locust) == 0
    finally:
        locust.stop()
    assert secret not in locust.output and "Traceback" not in locust.output, locust.tail()


@pytest.mark.parametrize("web_host", ["0.0.0.0", "*"])
def test_ui_beyond_loopback_without_credentials_refuses_to_start(tmp_path: Path, web_host: str):
    port = free_port()
    locust = Proc(
        [PY, "-m", "locust", "-f", str(ROOT / "locustfiles"), "--web-host", web_host, "--web-port", str(port),
         "-H", "http://127.0.0.1:1"],
        env={"ERPLOAD_WEB_USER": "", "ERPLOAD_WEB_PASSWORD": ""},
        name="locust-exposed",
        log_dir=tmp_path,
    )  # fmt: skip
    rc = locust.wait(90)
    assert rc == 2, locust.tail()
    assert "ERPLOAD_WEB_USER" in locust.output and "ERPLOAD_WEB_PASSWORD" in locust.output, locust.tail()
    assert f"--web-host {web_host}" in locust.output, locust.tail()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=5)  # nothing ever listened
    assert "Traceback" not in locust.output, locust.tail()


def test_ui_beyond_loopback_with_credentials_requires_the_login(tmp_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = "pw-exposed-ui-91c2"
    locust = Proc(
        [PY, "-m", "locust", "-f", str(ROOT / "locustfiles"), "--web-host", "0.0.0.0", "--web-port", str(port),
         "-H", "http://127.0.0.1:1"],  # no --web-login: the credentials turn it on
        env={"ERPLOAD_WEB_USER": "lead", "ERPLOAD_WEB_PASSWORD": secret},
        name="locust-exposed-login",
        log_dir=tmp_path,
    )  # fmt: skip
    try:
        locust.expect(r"login required", timeout=60)
        wait_http(base + "/login", timeout=30)
        anon = requests.Session()
        for path in ("/", "/stats/requests"):
            r = anon.get(base + path, timeout=10, allow_redirects=False)
            assert r.status_code in (302, 401), (path, r.status_code)
        assert anon.post(base + "/swarm", data={}, timeout=10, allow_redirects=False).status_code in (
            302,
            401,
        )
        user = requests.Session()
        r = user.post(base + "/erpload/login", data={"username": "lead", "password": secret}, timeout=10)
        assert r.status_code == 200 and "/login" not in r.url
        assert user.get(base + "/stats/requests", timeout=10).status_code == 200
        assert _quit(locust) == 0
    finally:
        locust.stop()
    assert secret not in locust.output and "Traceback" not in locust.output, locust.tail()
