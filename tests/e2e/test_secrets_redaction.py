"""A target that echoes secrets back cannot get them into any artifact, log or web UI endpoint.

The hostile server echoes the login body (the password JSON-escaped, URL-encoded, as HTTP Basic) and
JWTs in 401s, 500s and a malformed login body; the canary password holds quotes, backslashes and
other characters every encoding changes. Every file the run leaves and every stats endpoint of the
web UI is grepped for each encoding of the canary and for every JWT the server issued.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import requests

from helpers import FAST_THINK, PY, ROOT, Proc, free_port, load_summary

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
LOCUSTFILES = str(ROOT / "locustfiles")
# a JWT's header and payload, also with its digits masked ('#'): the old bypass masked digits only
JWT_RX = re.compile(rb"eyJ[A-Za-z0-9_#-]{8,}\.eyJ[A-Za-z0-9_#-]{8,}")
DIGITS = re.compile(rb"\d+")
SEEDED = {"admin": ("admin", 2), "cutting": ("cutting", 3), "qc": ("qc", 2)}
ENDPOINTS = ("/stats/requests", "/stats/report", "/stats/failures/csv")


def canary_forms(canary: str, tag: str, usernames: list[str]) -> dict[str, bytes]:
    once = json.dumps(canary)
    forms = {
        "raw": canary,
        "json": once[1:-1],
        "json-in-json": json.dumps(once)[3:-3],
        "quote": quote(canary, safe=""),
        "quote_plus": quote_plus(canary),
        "unique part": tag,
    }
    for user in usernames:
        forms[f"basic {user}"] = base64.b64encode(f"{user}:{canary}".encode()).decode()
    out = {k: v.encode() for k, v in forms.items()}
    return {**out, **{f"{k}, digits masked": DIGITS.sub(b"#", v) for k, v in out.items()}}


def test_echoed_canary_password_and_jwts_reach_no_artifact_log_or_web_endpoint(tmp_path: Path):
    # the unique part is letters only: no digit masking can hide a leak of it from the grep
    tag = uuid.uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))[:12]
    canary = f"Ca\"n\\ary/{tag}'+%x 7"
    accounts = {r: [f"{p}{i:0{d}d}" for i in range(1, 3)] for r, (p, d) in SEEDED.items()}
    creds = tmp_path / "secrets" / "credentials.json"
    creds.parent.mkdir()
    creds.write_text(
        json.dumps({r: [{"username": u, "password": canary} for u in us] for r, us in accounts.items()})
    )
    server = Proc(
        [PY, str(HERE / "hostile_server.py"), "echo", "--lifetime", "120"], name="echo", log_dir=tmp_path
    )
    url = server.expect(r"listening on (http://\S+)", timeout=30).group(1)
    profile = tmp_path / "echo.yaml"
    profile.write_text(
        "name: echo\ndescription: secrets echoed.\nroles: {CuttingOperator: 1, QcInspector: 1, Admin: 1}\n"
        "stages:\n  - {name: ramp, duration: 1s, users: 3, spawn_rate: 3}\n  - {name: hold, duration: 8s, users: 3}\n"
        "sla:\n  - error_rate < 1%\n"
    )
    out, rep, web = tmp_path / "out", tmp_path / "reports", tmp_path / "web"
    web.mkdir()
    port = free_port()
    proc = None
    try:
        proc = Proc(
            [PY, "-m", "locust", "-f", LOCUSTFILES, "--autostart", "--autoquit", "30", "--web-host", "127.0.0.1",
             "--web-port", str(port), "--load-profile", str(profile), "-H", url, "--report-dir", str(rep),
             "--csv", str(out / "run"), "--html", str(out / "locust.html"), "--loglevel", "DEBUG"],
            env={**FAST_THINK, "ERPLOAD_CREDENTIALS": str(creds)},
            name="locust",
            log_dir=tmp_path,
        )  # fmt: skip
        proc.expect(r"Shape test completed", timeout=90)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while requests.get(base + "/stats/requests", timeout=10).json()["state"] != "stopped":
            assert time.monotonic() < deadline, "the web UI never reported the run stopped"
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=0.5)  # poll interval of a bounded wait
        for path in ENDPOINTS:
            r = requests.get(base + path, timeout=30)
            assert r.status_code == 200, (path, r.status_code)
            (web / path.strip("/").replace("/", "_")).write_bytes(r.content)
        rc = proc.wait(90)
    finally:
        if proc is not None:
            proc.stop()  # no-op once it exited; bounded otherwise
        server.stop()
    assert rc == 3, proc.tail()  # error_rate breached, reports written
    s = load_summary(rep)
    assert (out / "locust.html").is_file() and (out / "run_failures.csv").is_file()
    issued = re.findall(r"issued (\S+)", server.output)
    assert len(issued) >= 5 and any(t.startswith("opq_") for t in issued), server.tail()
    forms = canary_forms(canary, tag, [u for us in accounts.values() for u in us])
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p not in (creds, tmp_path / "echo.log")]
    assert {p.name for p in files} >= {
        "summary.json", "summary.md", "report.html", "junit.xml", "locust.html", "run_stats.csv",
        "run_failures.csv", "run_exceptions.csv", "locust.log", "stats_requests", "stats_report", "stats_failures_csv",
    }, files  # fmt: skip
    for p in files:
        data = p.read_bytes()
        for what, form in forms.items():
            assert form not in data, f"the canary password ({what}) leaked into {p}"
        for token in issued:
            for part in (token, token.rsplit(".", 1)[-1], token[4:]):
                for form in (part.encode(), DIGITS.sub(b"#", part.encode())):
                    assert form not in data, f"an issued token leaked into {p}"
        assert not JWT_RX.search(data), f"a JWT leaked into {p}: {JWT_RX.search(data)}"
    errors = json.dumps(s["errors"])
    for proof in ("HTTP 401", "HTTP 500", "missing access_token", "you_sent", "basic", "form", '"seen'):
        assert proof in errors, f"the echo path {proof!r} was not exercised: {errors}"
    assert "[REDACTED]" in errors
    assert "Traceback" not in proc.output
