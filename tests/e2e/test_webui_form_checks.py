"""The web UI's Start checks what the form says, like a headless start: a typo is an error, never a run.

A real target and a real Locust web UI on 127.0.0.1. Each bad form value gets `success: false` with
where/what/fix, no user starts, and the target sees no request; a good form still starts.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
import requests

from helpers import PROFILES, Target, free_port, locust, request_count, wait_http

pytestmark = pytest.mark.e2e


def test_start_refuses_a_bad_host_baseline_or_report_dir_and_sends_nothing(target: Target, tmp_path: Path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    profile = str(PROFILES / "short.yaml")
    proc = locust(
        "--web-host", "127.0.0.1", "--web-port", str(port), "-H", target.url, "--load-profile", profile,
        name="locust-form", tmp=tmp_path,
    )  # fmt: skip
    try:
        proc.expect(r"Starting web interface", timeout=60)
        wait_http(base + "/", timeout=30)
        before = request_count(target.url)
        corrupt = tmp_path / "corrupt.json"
        corrupt.write_text('{"schema_version": 1, "requests": "abc"}')
        a_file = tmp_path / "a-file"
        a_file.write_text("not a directory")
        form = {"load_profile": profile, "user_count": "5", "spawn_rate": "5", "host": target.url}
        own = {"Origin": base, "Referer": base + "/"}
        bad = {
            "host": ({"host": "ftp://127.0.0.1:1"}, "ftp://"),
            "baseline": ({"baseline": str(tmp_path / "missing.json")}, "missing.json"),
            "corrupt baseline": ({"baseline": str(corrupt)}, "requests"),
            "report dir": ({"report_dir": str(a_file)}, "a-file"),
        }
        for what, (fields, named) in bad.items():
            r = requests.post(base + "/swarm", data={**form, **fields}, headers=own, timeout=30)
            assert r.status_code == 200, (what, r.status_code, r.text[:300])
            body = r.json()
            assert body["success"] is False and named in body["message"], (what, body)
            assert "Traceback" not in body["message"], (what, body)
        deadline = time.monotonic() + 3  # a few shape ticks: a refused start must not have begun anything
        while time.monotonic() < deadline:
            stats = requests.get(base + "/stats/requests", timeout=10).json()
            assert stats["state"] == "ready" and stats["user_count"] == 0, stats
            time.sleep(0.5)  # poll interval while proving that nothing happens
        assert request_count(target.url) == before, "the target saw requests from a refused start"

        r = requests.post(base + "/swarm", data=form, headers=own, timeout=30)
        assert r.status_code == 200 and r.json()["success"], r.text
        requests.post(base + "/stop", headers=own, timeout=30)
        proc.signal(signal.SIGTERM)
        rc = proc.wait(90)
    finally:
        proc.stop()
    assert rc in (0, 3, 5), proc.tail()
    assert "Traceback" not in proc.output, proc.tail()
