"""Selecting the API map (--api-map > ERPLOAD_API_MAP > the profile's api: > reference) and failing fast.

A bad map file exits 2 with where/what/fix before anything is sent; a map that does not fit the
target exits 2 after the preflight (login plus one list call) naming the operation, and no user
request reaches the target; a target that does not answer is not a configuration error; the master
ships its map to workers that were given none.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from helpers import (
    FAST_THINK,
    PROFILES,
    ROOT,
    Cluster,
    Target,
    copy_db,
    free_port,
    load_summary,
    locust,
    wait_http,
)

pytestmark = pytest.mark.e2e

V1_MAP = ROOT / "examples" / "api-maps" / "v1.yaml"


@pytest.fixture(scope="module")
def v1_target(tmp_path_factory: pytest.TempPathFactory, seeded_erp_db: Path):
    """The reference ERP speaking its v1 dialect (docs/erp-api.md), on a copy of the seed."""
    tmp = tmp_path_factory.mktemp("v1")
    t = Target(tmp, "--dialect", "v1", db=copy_db(seeded_erp_db, tmp), name="v1")
    yield t
    t.stop()


def served(url: str) -> Counter:
    """(method, path template) -> requests the target has served, from its /metrics."""
    out: Counter = Counter()
    for fam in text_string_to_metric_families(requests.get(url + "/metrics", timeout=5).text):
        for s in fam.samples:
            if s.name == "erp_http_requests_total" and s.labels["path"] not in ("/metrics", "/health"):
                out[(s.labels["method"], s.labels["path"])] += int(s.value)
    return out


def profile(tmp: Path, name: str, hold_s: int = 4, api: Path | None = None, roles: str = "") -> Path:
    """A small profile: every role once by default (3 s ramp, `hold_s` steady), optionally with `api:`."""
    path = tmp / f"{name}.yaml"
    roles = roles or (
        "{CuttingOperator: 1, SewingOperator: 1, FinishingOperator: 1, QcInspector: 1, PpicPlanner: 1, "
        "WarehouseClerk: 1, Admin: 1}"
    )
    users = roles.count(":")
    path.write_text(
        f"name: {name}\ndescription: e2e API map selection.\n"
        + (f"api: {api}\n" if api else "")
        + f"roles: {roles}\nstages:\n"
        f"  - {{name: ramp, duration: 3s, users: {users}, spawn_rate: {users}}}\n"
        f"  - {{name: hold, duration: {hold_s}s, users: {users}}}\n"
        'sla:\n  - error_rate < 1%\n  - p95 of "POST /auth/login" < 2s\n'
    )
    return path


def headless(tmp: Path, url: str, prof: Path, *extra: str, name: str, env: dict | None = None):
    rep = tmp / f"{name}-reports"
    args = ["--headless", "--only-summary", "--load-profile", str(prof), "-H", url, "--report-dir", str(rep)]
    return locust(*args, *extra, name=name, tmp=tmp, env=env), rep


def test_a_bad_map_file_exits_2_with_where_what_and_fix_and_sends_nothing(tmp_path: Path, target: Target):
    bad = tmp_path / "typo-map.yaml"
    bad.write_text("version: 1\nname: typo\nlists: {itemz: data}\nlogin: {encodin: form}\n")
    before = served(target.url)
    cases = {  # how the map is given -> (extra args, env, profile)
        "option": (("--api-map", str(bad)), None, PROFILES / "short.yaml"),
        "env": ((), {"ERPLOAD_API_MAP": str(bad)}, PROFILES / "short.yaml"),
        "profile": ((), None, profile(tmp_path, "with-bad-api", api=bad)),
    }
    for how, (extra, env, prof) in cases.items():
        proc, rep = headless(tmp_path, target.url, prof, *extra, name=f"bad-{how}", env=env)
        rc = proc.wait(60)
        out = proc.output
        assert rc == 2, (how, proc.tail())
        for needle in (
            str(bad),
            "lists.itemz: unknown key 'itemz'",
            "Did you mean 'items'",
            "login.encodin",
            "Did you mean 'encoding'",
        ):
            assert needle in out, (how, needle, out[-3000:])
        origin = "with-bad-api.yaml" if how == "profile" else "--api-map / $ERPLOAD_API_MAP"
        assert origin in out, (how, out[-3000:])
        assert not (rep / "summary.json").exists() and "Traceback" not in out
    assert served(target.url) == before, "a bad map file must send nothing"


@pytest.mark.parametrize(
    ("doc", "key", "operation", "evidence"),
    [
        ("lists: {items: data}", "lists.items", "list_orders", '"items":'),
        ("login: {token: token}", "login.token", "login", "access_token"),
        (
            "operations: {list_orders: GET /planning/orders}",
            "operations.list_orders",
            "list_orders",
            "HTTP 404",
        ),
    ],
)
def test_a_map_that_does_not_fit_exits_2_at_start_before_any_load(
    tmp_path: Path, target: Target, doc: str, key: str, operation: str, evidence: str
):
    m = tmp_path / "misfit.yaml"
    m.write_text(f"version: 1\nname: misfit\n{doc}\n")
    before = served(target.url)
    proc, rep = headless(tmp_path, target.url, PROFILES / "short.yaml", "--api-map", str(m), name="misfit")
    rc = proc.wait(60)
    after = served(target.url)
    out = proc.output
    assert rc == 2, proc.tail()
    line = next((x for x in out.splitlines() if x.strip().startswith(f"{key}:")), "")
    assert f"operation {operation}" in line and target.url in line, out[-3000:]
    assert "HTTP " in line and evidence in line, line  # the status and a piece of the body
    assert str(m) in line or str(m) in out, out[-3000:]  # the file to fix
    assert "eyJ" not in out and "erpload-demo" not in out, "a token or password leaked into the message"
    sent = after - before  # the preflight's login and (unless the login did not fit) its one list call
    assert sent[("POST", "/auth/login")] == 1 and sum(sent.values()) <= 2, sent
    assert not (rep / "summary.json").exists() and "Traceback" not in out


def test_env_var_selects_the_map_and_beats_the_profiles_api(tmp_path: Path, v1_target: Target):
    """ERPLOAD_API_MAP=v1.yaml against the v1 ERP, with a profile whose api: does not fit it: the run passes."""
    misfit = tmp_path / "reference-like.yaml"
    misfit.write_text("version: 1\nname: reference-like\n")  # the reference's paths: 404 on the v1 ERP
    prof = profile(tmp_path, "env-wins", hold_s=3, api=misfit, roles="{PpicPlanner: 1, QcInspector: 1}")
    proc, rep = headless(tmp_path, v1_target.url, prof, name="env", env={"ERPLOAD_API_MAP": str(V1_MAP)})
    rc = proc.wait(90)
    assert rc == 0, proc.tail()
    assert f"API map 'v1' ({V1_MAP}) fits {v1_target.url}" in proc.output
    s = load_summary(rep)
    assert s["total"]["count"] > 0 and s["total"]["failures"] == 0, (s["total"], s["errors"])


def test_a_target_that_does_not_answer_is_not_a_config_error(tmp_path: Path):
    """No preflight verdict without an answer: the run goes on (as before the preflight) and shows failures."""
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc, rep = headless(
        tmp_path, url, profile(tmp_path, "nobody", 2, roles="{PpicPlanner: 1}"), name="nobody"
    )
    rc = proc.wait(90)
    assert rc not in (0, 2), proc.tail()
    assert "preflight of the API map not done" in proc.output and "the run goes on" in proc.output
    s = load_summary(rep)
    assert s["total"]["failures"] > 0, s["total"]
    assert "Traceback" not in proc.output


def test_the_master_ships_the_profiles_map_to_a_worker_started_without_one(tmp_path: Path, v1_target: Target):
    """The map is named only in the master's profile (api:); the worker's users speak it (v1 ERP: 0 failures)."""
    prof = profile(tmp_path, "shipped", hold_s=6, api=V1_MAP)
    env = {**FAST_THINK, "ERPLOAD_API_MAP": ""}
    c = Cluster(tmp_path, v1_target.url, prof, 1, env=env)
    try:
        rc = c.master.wait(120)
        worker_rc = c.workers[0].wait(30)
    finally:
        for p in (c.master, *c.workers):
            p.stop()
    assert rc == 0, c.master.tail()
    assert worker_rc == 0, c.workers[0].tail()
    assert f"API map 'v1' ({V1_MAP}) fits" in c.master.output
    assert "--api-map" not in " ".join(c.workers[0].args) and str(V1_MAP) not in " ".join(c.workers[0].args)
    s = load_summary(c.report_dir)
    assert s["workers"] == 1, s["workers"]
    by_name = {(r["method"], r["name"]): r for r in s["requests"]}
    logins = by_name[("POST", "/auth/login")]
    assert logins["count"] >= 7 and logins["failures"] == 0, (
        logins
    )  # the v1 login: form at /api/v1/auth/token
    assert by_name[("GET", "/production/work-orders")]["count"] > 0  # stats keep the reference names
    assert s["total"]["failures"] == 0, s["errors"]
    assert all("Traceback" not in o for o in c.outputs())


def test_roles_log_in_from_the_maps_pools_checked_before_any_login(tmp_path: Path, target: Target):
    """`roles: {qc: inspectors}`: QcInspector needs pool 'inspectors', which the seeded accounts lack: exit 2."""
    m = tmp_path / "pools.yaml"
    m.write_text("version: 1\nname: pools\nroles: {qc: inspectors}\n")
    before = served(target.url)
    proc, rep = headless(tmp_path, target.url, PROFILES / "short.yaml", "--api-map", str(m), name="pools")
    rc = proc.wait(60)
    assert rc == 2, proc.tail()
    out = proc.output
    assert "no accounts for role key 'inspectors'" in out and "needed by QcInspector" in out, out[-3000:]
    assert "role key 'qc'" in out, out[-3000:]  # which role the map sent there
    assert served(target.url) == before, "nothing may be sent before the accounts are there"
    assert not (rep / "summary.json").exists() and "Traceback" not in out


def test_the_web_ui_start_checks_the_forms_api_map_against_the_target(tmp_path: Path, target: Target):
    """Start with a map that does not fit: the form shows the misfit and nothing starts; the right map starts."""
    m = tmp_path / "form-misfit.yaml"
    m.write_text("version: 1\nname: form-misfit\nlists: {items: data}\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    prof = str(PROFILES / "short.yaml")
    args = ["--web-host", "127.0.0.1", "--web-port", str(port), "-H", target.url, "--load-profile", prof]
    proc = locust(*args, name="form", tmp=tmp_path)
    try:
        proc.expect(r"Starting web interface", timeout=60)
        wait_http(base + "/", timeout=30)
        own = {"Origin": base, "Referer": base + "/"}
        form = {"load_profile": prof, "host": target.url, "user_count": "7", "spawn_rate": "7"}
        r = requests.post(base + "/swarm", data={**form, "api_map": str(m)}, headers=own, timeout=30)
        body = r.json()
        assert r.status_code == 200 and body["success"] is False, body
        assert "lists.items" in body["message"] and "operation list_orders" in body["message"], body
        assert str(m) in body["message"] and "Traceback" not in body["message"], body
        state = requests.get(base + "/stats/requests", timeout=10).json()
        assert state["state"] == "ready" and state["user_count"] == 0, state
        r = requests.post(base + "/swarm", data={**form, "api_map": ""}, headers=own, timeout=30)
        assert r.status_code == 200 and r.json()["success"], r.text
        requests.post(base + "/stop", headers=own, timeout=30)
        deadline = time.monotonic() + 30  # stopped before the process is signalled (no request cut off)
        while requests.get(base + "/stats/requests", timeout=10).json()["state"] != "stopped":
            assert time.monotonic() < deadline, "the web UI never reported the run stopped"
            time.sleep(0.2)  # poll interval of a bounded wait
        proc.signal(signal.SIGTERM)  # quit as an operator would (SIGINT can cut a keep-alive response)
        rc = proc.wait(60)
    finally:
        proc.stop()
    assert rc == 5, proc.tail()  # stopped from the UI before the profile's end: aborted
    assert "Traceback" not in proc.output
