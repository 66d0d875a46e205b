"""`--web-login` with erpload's username/password check (ERPLOAD_WEB_USER / ERPLOAD_WEB_PASSWORD)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from procs import PY, ROOT, Proc, free_port, wait_http

pytestmark = pytest.mark.e2e


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
    finally:
        locust.stop()
    assert secret not in locust.output and "Traceback" not in locust.output, locust.tail()
