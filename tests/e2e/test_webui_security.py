"""The web UI refuses state changes from other sites (CSRF through Locust's reflect-any-Origin CORS).

A real target and a real Locust web UI on 127.0.0.1; requests carry the headers a browser would
send for a hostile page's form or fetch. Nothing may start, and the target must see no request.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import requests

from helpers import PROFILES, Target, free_port, locust, request_count, wait_http

pytestmark = pytest.mark.e2e

EVIL = "http://evil.example"


def _stats(base: str) -> dict:
    return requests.get(base + "/stats/requests", timeout=10).json()


def _wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"not {what} within {timeout}s"
        time.sleep(0.2)  # poll interval of a bounded wait


def test_cross_origin_posts_get_403_and_start_nothing_same_origin_still_works(target: Target, tmp_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    profile = str(PROFILES / "short.yaml")
    proc = locust(
        "--web-host", "127.0.0.1", "--web-port", str(port), "-H", target.url, "--load-profile", profile,
        name="locust-origin", tmp=tmp_path,
    )  # fmt: skip
    try:
        proc.expect(r"Starting web interface", timeout=60)
        wait_http(base + "/", timeout=30)
        before = request_count(target.url)
        form = {"load_profile": profile, "user_count": "5", "spawn_rate": "5", "host": target.url}
        hostile = [
            ("/swarm", {"Origin": EVIL}),  # a form or fetch on another site
            ("/swarm", {"Origin": "null"}),  # a sandboxed iframe, a file:// page
            ("/swarm", {"Origin": f"http://127.0.0.1:{port + 1}"}),  # same host, other port: other origin
            ("/swarm", {"Referer": EVIL + "/attack.html"}),  # an old browser without Origin
            ("/swarm", {"Sec-Fetch-Site": "cross-site"}),
            ("/swarm", {"Sec-Fetch-Site": "same-site", "Origin": base}),  # a sibling site claiming ours
            ("/stop", {"Origin": EVIL}),
            ("/stats/reset", {"Origin": EVIL}),
            ("/user", {"Origin": EVIL}),
        ]
        for path, headers in hostile:
            r = requests.post(base + path, data=form, headers=headers, timeout=10)
            assert r.status_code == 403, (path, headers, r.status_code, r.text[:300])
            message = r.json()["message"]
            assert "another site" in message and f"127.0.0.1:{port}" in message, message

        # DNS rebinding: a hostile name pointed at 127.0.0.1 is "same origin" but not our Host
        rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
        for method in ("get", "post"):
            r = requests.request(method, base + "/swarm", data=form, headers=rebound, timeout=10)
            assert r.status_code == 403 and "not this web UI's address" in r.json()["message"], r.text
        # a hostile page cannot read the UI either: no CORS grant for another origin
        r = requests.get(base + "/stats/requests", headers={"Origin": EVIL}, timeout=10)
        assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers, dict(r.headers)

        # nothing started: the shape ticks every second, so watch a few ticks
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            stats = _stats(base)
            assert stats["state"] == "ready" and stats["user_count"] == 0, stats
            time.sleep(0.5)  # poll interval while proving that nothing happens
        assert request_count(target.url) == before, "the target saw requests from a refused /swarm"

        # the UI's own page still starts and stops a test
        own = {"Origin": base, "Referer": base + "/", "Sec-Fetch-Site": "same-origin"}
        r = requests.post(base + "/swarm", data=form, headers=own, timeout=10)
        assert r.status_code == 200 and r.json()["success"], r.text
        _wait_for(lambda: _stats(base)["user_count"] >= 1, 60, "users running")
        _wait_for(lambda: request_count(target.url) > before, 60, "requests at the target")
        r = requests.post(base + "/stop", headers=own, timeout=30)
        assert r.status_code == 200 and r.json()["success"], r.text
        _wait_for(lambda: _stats(base)["state"] == "stopped", 60, "stopped")
        proc.signal(signal.SIGTERM)  # Locust's clean shutdown (SIGINT lands in any greenlet)
        rc = proc.wait(90)
    finally:
        proc.stop()
    assert rc in (0, 3, 5), proc.tail()  # 5: Stop cut the profile short; 0/3: it had already ended
    assert "refused: POST /swarm comes from another site (Origin 'http://evil.example')" in proc.output
    assert "Traceback" not in proc.output, proc.tail()
