"""A team's own locustfile whose users raise: honest reports (Locust, target and reports as real processes).

- users that die in on_start (a login refused) count toward under-delivery: 6 of 8 planned users
  dead -> INVALID (exit 4), the detail names them;
- exceptions in user code carry message, count and one traceback in summary.json, summary.md and
  report.html, with the credential pool's password redacted from the message and the source lines;
- no RBAC, Recovery or Stock part for a locustfile that has no probes, fault plan or hot SKUs;
- the console verdict block says all of it, with the think times in effect.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import PY, Proc, Target, load_summary

pytestmark = pytest.mark.e2e
SECRET = "Seed-Pw-7f3a9c"  # the credential pool's password (ERP_SEED_PASSWORD): known to the redactor

LOCUSTFILE = f"""
import random

from locust import HttpUser, constant, task

from erpload.plugin import ProfileShape  # noqa: F401


class Refused(HttpUser):
    wait_time = constant(0.5)

    def on_start(self):
        self.client.get("/health")
        raise PermissionError("login refused for qc01 with password {SECRET}")

    @task
    def work(self):
        self.client.get("/health")


class Flaky(HttpUser):
    wait_time = constant(0.2)

    @task
    def work(self):
        self.client.get("/health")
        if random.random() < 0.5:
            raise ValueError("bad row in the work-order list")
"""
PROFILE = """name: dying-users
description: Six of eight users die in on_start; two raise now and then in a task.
roles: {Refused: 6, Flaky: 2}
stages:
  - {name: ramp, duration: 2s, users: 8, spawn_rate: 8}
  - {name: hold, duration: 10s, users: 8}
sla:
  - p95 of "GET /health" < 2s
"""


def test_dying_users_are_under_delivery_and_exceptions_are_reported(target: Target, tmp_path: Path):
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    (tmp_path / "profile.yaml").write_text(PROFILE)
    rep = tmp_path / "reports"
    args = ["-f", str(tmp_path / "locustfile.py"), "--headless", "--only-summary"]
    args += ["--load-profile", str(tmp_path / "profile.yaml"), "-H", target.url, "--report-dir", str(rep)]
    proc = Proc(
        [PY, "-m", "locust", *args], env={"ERP_SEED_PASSWORD": SECRET}, name="dying", log_dir=tmp_path
    )
    assert proc.wait(90) == 4, proc.tail()
    s = load_summary(rep)
    assert s["verdict"] == "invalid"
    died = s["load"]["died_on_start"]
    assert died["users"] == 6 and died["by_role"] == {"Refused": 6} and died["user_minutes_owed"] > 0.8
    under = [i for i in s["invalid"] if i["reason"] == "load under-delivered"]
    assert under and "6 of 8 planned users died in on_start (Refused 6)" in under[0]["detail"], s["invalid"]

    by_msg = {e["message"]: e for e in s["exceptions"]}
    refused = by_msg["login refused for qc01 with password [REDACTED]"]
    assert refused["count"] == 6 and "in on_start" in refused["traceback"], refused
    assert "raise PermissionError" in refused["traceback"] and "[REDACTED]" in refused["traceback"]
    flaky = by_msg["bad row in the work-order list"]
    assert flaky["count"] >= 3 and "in work" in flaky["traceback"], flaky
    assert refused["nodes"] == ["local"]

    md, html = (rep / "summary.md").read_text(), (rep / "report.html").read_text()
    for text in (json.dumps(s), md, html):  # the reports (gevent's own dead-greenlet print is not ours)
        assert SECRET not in text
    assert 'id="exceptions-table"' in html and '<pre class="traceback">' in html
    assert "## Exceptions in user code (2 distinct" in md
    for part in ("RBAC", "Recovery", "Stock updates"):
        assert part not in md and part not in html, part
    assert not {"rbac_violations", "rbac_probes", "recovery", "stock"} & set(s["correctness"])

    out = proc.output
    think = "think time per role: 0.2 s (Flaky); 0.5 s (Refused)"
    assert f"== erpload verdict: INVALID (exit 4) · profile dying-users · {think} ==" in out
    assert (
        "INVALID run: load under-delivered" in out and "USERS 6 user(s) died in on_start (Refused 6)" in out
    )
    assert "EXCEPTIONS 2 distinct unhandled exception(s) in user code" in out
