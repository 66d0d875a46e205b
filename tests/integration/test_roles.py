"""Role users against the real reference ERP: each workflow advances, names are templates, faults are failures."""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import socket
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import pytest
import requests
from locust import task
from locust.env import Environment

from erpload.api import load_api_map, reference_map
from erpload.core.tallies import Tallies, tallies_for
from erpload.users import api as users_api
from erpload.users import credentials, settings
from erpload.users import ws as WS
from erpload.users.answers import CONFLICT_SUFFIX
from erpload.users.base import ErpUser
from erpload.users.checks import PROBE_SUFFIX, Probe
from erpload.users.settings import Settings
from erpload.users.shopfloor import ShopFloorUser

from helpers import ROOT, SEED_PASSWORD, Target


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"_roles_test_{name}", ROOT / "locustfiles" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


OPS, QC, PLAN, WH, ADM, SUP, STK = (
    _load(n) for n in ("operators", "quality", "planning", "warehouse", "admins", "supervisors", "stocktake")
)
ALL = [
    OPS.CuttingOperator,
    OPS.SewingOperator,
    OPS.FinishingOperator,
    QC.QcInspector,
    PLAN.PpicPlanner,
    WH.WarehouseClerk,
    ADM.Admin,
]
ID_IN_NAME = re.compile(r"/\d+(/|$)|(FAB|TRM|ACC|FG)-\d")
COMMON = {("POST", "/auth/login"), ("GET", "/auth/me"), ("GET", "/dashboard")}


class Run:
    """One in-process Locust run: its environment, runner and any user_error raised."""

    def __init__(
        self,
        classes: list[type],
        host: str,
        users: int,
        *,
        until: Callable[[Run], bool] | None = None,
        min_s: float = 3.0,
        max_s: float = 30.0,
        during: Callable[[Run], None] | None = None,
        setup: Callable[[Environment], None] | None = None,
        need_probe: bool = True,
    ) -> None:
        self.env = Environment(user_classes=classes, host=host)
        self.user_errors: list[BaseException] = []
        self.env.events.user_error.add_listener(lambda exception, **_: self.user_errors.append(exception))
        self.roles: set[str | None] = set()  # the role each request was attributed to (per-role stats)
        self.env.events.request.add_listener(lambda context, **_: self.roles.add((context or {}).get("role")))
        self.runner = self.env.create_local_runner()
        if setup is not None:
            setup(self.env)
        self.runner.start(users, spawn_rate=users)
        probing = need_probe and any(getattr(c, "rbac_probes", None) for c in classes)
        started = time.monotonic()
        while True:  # bounded: stop as soon as the workflow has visibly advanced, fail later if it never does
            gevent.sleep(0.25)
            elapsed = time.monotonic() - started
            if during is not None and elapsed >= min_s / 2:
                during(self)
                during = None
            # A role with RBAC probes (1 task in ~25) must have run one before the run may end early:
            # assert_clean checks that it did, and a run that stopped at its `until` first would flake.
            probed = not probing or any(n.endswith(PROBE_SUFFIX) for _, n in self.names)
            if elapsed >= max_s or (elapsed >= min_s and probed and (until is None or until(self))):
                break
        self.alive = self.runner.user_count
        self.runner.quit()
        self.elapsed = time.monotonic() - started

    @property
    def names(self) -> set[tuple[str, str]]:
        return {(method, name) for name, method in self.env.stats.entries}

    @property
    def tallies(self) -> Tallies:
        """This run's correctness counters (its Environment's)."""
        return tallies_for(self.env)

    @property
    def failures(self) -> list[str]:
        return sorted(
            f"{e.method} {e.name}: {e.error} x{e.occurrences}" for e in self.env.stats.errors.values()
        )

    def assert_clean(self, probes: bool = True) -> None:
        assert self.runner.exceptions == {} and self.user_errors == []
        assert self.failures == [], "\n".join(self.failures)
        assert not [n for _, n in self.names if ID_IN_NAME.search(n)], self.names
        assert not probes or any(n.endswith(PROBE_SUFFIX) for _, n in self.names), "no RBAC probe ran"
        assert self.tallies.violations == {}
        assert self.tallies.sessions.get("task_errors", 0) == 0


class Api:
    """Plain `requests` view of the target, logged in as one seeded account, to check what the users did."""

    def __init__(self, target: Target, username: str = "admin01") -> None:
        self.url = target.url
        self.headers = {"Authorization": "Bearer " + target.login(username)}

    def get(self, path: str, **params: Any) -> Any:
        r = requests.get(self.url + path, params=params, headers=self.headers, timeout=10)
        r.raise_for_status()
        return r.json()

    def total(self, path: str, **params: Any) -> int:
        return self.get(path, page_size=1, **params)["total"]


@pytest.fixture(autouse=True)
def _fresh() -> Any:
    """Short think time and a fresh credential pool for every test (each Run has its own tallies)."""
    settings.configure(Settings(think_time=(0.02, 0.1)))
    credentials.reset_pool()
    yield
    settings.configure(None)
    credentials.reset_pool()
    users_api.configure_api(None)


@pytest.fixture(scope="module")
def api(target: Target) -> Api:
    return Api(target)


@pytest.mark.parametrize(
    "cls, step, after",
    [
        (OPS.CuttingOperator, "cutting", ("sewing", "open")),
        (OPS.SewingOperator, "sewing", ("finishing", "open")),
        (OPS.FinishingOperator, "finishing", None),
    ],
    ids=["cutting", "sewing", "finishing"],
)
def test_operators_claim_and_finish_work_orders(
    target: Target, api: Api, cls: type, step: str, after: tuple[str, str] | None
) -> None:
    wo = "/production/work-orders"
    done0 = api.total(wo, department=step, status="done")
    next0 = api.total(wo, department=after[0], status=after[1]) if after else api.total("/qc/tests")
    run = Run(
        [cls],
        target.url,
        5,
        until=lambda r: (
            ("POST", f"{wo}/[id]/claim") in r.names  # after own WOs
            and api.total(wo, department=step, status="done") >= done0 + 5
        ),
    )
    run.assert_clean()
    assert {
        ("GET", wo),
        ("POST", f"{wo}/[id]/claim"),
        ("POST", f"/production/{step}"),
        ("PATCH", f"{wo}/[id]"),
    } | COMMON <= run.names
    assert api.total(wo, department=step, status="done") >= done0 + 5
    assert (api.total(wo, department=after[0], status=after[1]) if after else api.total("/qc/tests")) > next0


def test_qc_inspectors_pass_and_fail_lots(target: Target, api: Api) -> None:
    passed0, failed0 = api.total("/qc/tests", status="passed"), api.total("/qc/tests", status="failed")
    run = Run(
        [QC.QcInspector],
        target.url,
        4,
        until=lambda r: api.total("/qc/tests", status="passed") >= passed0 + 10,
    )
    run.assert_clean()
    assert {("GET", "/qc/tests"), ("POST", "/qc/tests/[id]/result")} | COMMON <= run.names
    assert api.total("/qc/tests", status="passed") >= passed0 + 10
    assert api.total("/qc/tests", status="failed") >= failed0  # ~10 % fail: not guaranteed in a short run


def test_planners_create_and_browse_orders(target: Target, api: Api) -> None:
    mos0 = api.total("/ppic/manufacturing-orders")
    run = Run(
        [PLAN.PpicPlanner], target.url, 3, until=lambda r: api.total("/ppic/manufacturing-orders") >= mos0 + 5
    )
    run.assert_clean()
    assert {
        ("GET", "/ppic/manufacturing-orders"),
        ("POST", "/ppic/manufacturing-orders"),
        ("GET", "/ppic/manufacturing-orders/[id]"),
        ("POST", "/reports/production"),
    } | COMMON <= run.names


def test_warehouse_receives_and_adjusts_stock_matching_the_ledger(
    target: Target, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    received0 = api.total("/warehouse/receipts", status="received")
    pending = api.get("/warehouse/receipts", status="pending", page_size=200)["items"]  # oldest first
    fixed = [s["sku"] for s in api.get("/warehouse/stock", q="TRM-00010", page_size=50)["items"]]
    skus = {r["sku"] for r in pending} | set(fixed)
    before = {sku: api.get(f"/warehouse/stock/{sku}")["quantity"] for sku in skus}
    monkeypatch.setattr(WH, "SEARCHES", ("TRM-00010",))  # clerks only search (and so adjust) known items

    class Clerk(WH.WarehouseClerk):
        """A clerk who only knows the TRM-00010x items, so every touched SKU has a known start quantity."""

        def on_start(self) -> None:
            super().on_start()
            self.stock = {sku: before[sku] for sku in fixed}

    run = Run([Clerk], target.url, 3, until=lambda r: len(r.tallies.stock_ledger()) >= 12, min_s=4)
    run.assert_clean()
    assert {
        ("GET", "/warehouse/receipts"),
        ("POST", "/warehouse/receipts/[id]/receive"),
        ("GET", "/warehouse/stock"),
        ("GET", "/warehouse/stock/[sku]"),
        ("POST", "/warehouse/stock/[sku]/adjust"),
    } | COMMON <= run.names
    ledger = run.tallies.stock_ledger()
    assert api.total("/warehouse/receipts", status="received") >= received0 + 3
    assert sum(e["count"] for e in ledger.values()) >= 3 and sum(e["receipts"] for e in ledger.values()) >= 3
    assert set(ledger) <= skus, set(ledger) - skus
    for (
        sku,
        entry,
    ) in ledger.items():  # a healthy target loses nothing: final = start + adjustments + receipts
        assert (
            api.get(f"/warehouse/stock/{sku}")["quantity"] == before[sku] + entry["delta"] + entry["received"]
        ), sku


def test_admins_browse_users_audit_log_and_rbac(target: Target) -> None:
    run = Run([ADM.Admin], target.url, 3, min_s=4)
    run.assert_clean()
    assert {
        ("GET", "/admin/users"),
        ("GET", "/admin/audit-log"),
        ("GET", "/admin/rbac"),
        ("POST", "/reports/production"),
        ("GET", "/ppic/manufacturing-orders"),
    } | COMMON <= run.names


def test_token_renewed_before_expiry(tmp_path: Path) -> None:
    short = Target(tmp_path, "--token-ttl", "3", name="short-ttl")
    try:
        run = Run([QC.QcInspector, ADM.Admin], short.url, 2, min_s=7, max_s=7)
    finally:
        short.stop()
    run.assert_clean()  # no 401 ever: renewal happens before the token runs out
    counts = run.tallies.sessions
    assert counts["login"] == 2 and counts.get("renew", 0) >= 4, counts


def test_relogin_after_a_rejected_token(target: Target) -> None:
    def corrupt(run: Run) -> None:
        for g in run.runner.user_greenlets:
            g.args[0]._auth = {"Authorization": "Bearer not-a-jwt"}

    run = Run([OPS.CuttingOperator], target.url, 3, min_s=4, max_s=4, during=corrupt)
    counts = run.tallies.sessions
    assert counts.get("relogin_401", 0) == 3, counts
    assert all(": HTTP 401 (" in f for f in run.failures), run.failures
    assert (
        1 <= sum(e.occurrences for e in run.env.stats.errors.values()) <= 3
    )  # one rejected request per user
    assert run.runner.exceptions == {} and run.user_errors == [] and run.alive == 3


def test_passwords_never_logged(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    good, bad = "Pw-for-the-log-test-81", "Wrong-pw-for-the-log-test-27"
    t = Target(tmp_path, "--seed-password", good, name="pw-target")
    accounts = {
        role: [{"username": u.username, "password": good} for u in us[:2]]
        for role, us in credentials.seeded_accounts("x").items()
    }
    accounts["qc"] = [{"username": "qc01", "password": bad}]  # a wrong one: its login fails, visibly
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps(accounts))
    monkeypatch.setenv("ERPLOAD_CREDENTIALS", str(creds))
    caplog.set_level(logging.DEBUG)
    try:
        run = Run(ALL, t.url, 7, min_s=4, max_s=4)
    finally:
        t.stop()
    assert run.failures and all(f.startswith("POST /auth/login: HTTP 401") for f in run.failures), (
        run.failures
    )
    out, err = capfd.readouterr()
    seen = "\n".join([caplog.text, out, err, *run.failures, repr(credentials.pool().next("admin"))])
    assert good not in seen and bad not in seen and "Pw-for" not in seen
    assert good not in t.proc.output and bad not in t.proc.output
    assert run.runner.exceptions == {} and run.user_errors == []


@pytest.mark.parametrize(
    "flags, kinds",
    [
        (("--error-rate", "0.3", "--malformed-rate", "0.2"), ("HTTP 500", "body is not JSON")),
        (("--reset-rate", "0.15", "--hang-rate", "0.03"), ("no valid response",)),
    ],
    ids=["errors-malformed", "resets-hangs"],
)
def test_faults_become_counted_failures_not_tracebacks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, flags: tuple[str, ...], kinds: tuple[str, ...]
) -> None:
    faulty = Target(tmp_path, *flags, name="faulty")
    quick = [type(c.__name__, (c,), {"network_timeout": 1.0, "connection_timeout": 1.0}) for c in ALL]
    try:
        run = Run(quick, faulty.url, 14, min_s=8, max_s=8)
    finally:
        faulty.stop()
    failures = "\n".join(run.failures)
    assert run.runner.exceptions == {} and run.user_errors == [], run.runner.exceptions
    assert "Traceback" not in caplog.text and run.tallies.sessions.get("task_errors", 0) == 0, failures
    assert all(k in failures for k in kinds), failures
    assert run.alive == 14 and run.env.stats.total.num_requests > 300
    assert run.env.stats.total.num_failures < run.env.stats.total.num_requests  # users kept working
    assert not [n for _, n in run.names if ID_IN_NAME.search(n)]
    assert (
        run.tallies.violations == {}
    )  # a fault (500, truncated 200) on a probe is a failure, not a violation
    assert run.roles == {c.__name__ for c in ALL}  # every request, failed or not, is attributed to its role


class LeakyProbe(ErpUser):
    """Probes an endpoint admins may call, so the 'server' lets the forbidden call through."""

    role_key = "admin"
    rbac_probes = (Probe("rbac_matrix"),)

    @task
    def probe(self) -> None:
        self.rbac_probe()


class DoubleClaimer(ErpUser):
    """Claims one open work order twice: the first claim updates it, the second is an allowed 409."""

    role_key = "cutting"
    done = False

    @task
    def claim_twice(self) -> None:
        if DoubleClaimer.done:
            return
        DoubleClaimer.done = True
        queue = self.call("list_work_orders", params={"department": "cutting", "status": "open"})
        wo_id = queue["items"][0]["id"]
        for _ in range(2):
            self.call("claim_work_order", path={"id": wo_id}, ok_conflict=True)


def test_allowed_conflict_is_its_own_row_so_the_operation_counts_only_real_updates(target: Target) -> None:
    DoubleClaimer.done = False
    run = Run(
        [DoubleClaimer], target.url, 1, min_s=1.0, max_s=30, until=lambda r: len(r.tallies.conflicts) > 0
    )
    run.assert_clean(probes=False)
    claim = "/production/work-orders/[id]/claim"
    assert run.env.stats.get(claim, "POST").num_requests == 1  # the claim that changed the work order
    taken = run.env.stats.get(claim + CONFLICT_SUFFIX, "POST")
    assert taken.num_requests == 1 and taken.num_failures == 0  # the 409: a success on its own row
    assert run.tallies.conflicts == {"POST " + claim: 1}


def test_rbac_violation_is_a_named_failure_counted_per_role(target: Target) -> None:
    run = Run([LeakyProbe], target.url, 2, min_s=1.5, max_s=1.5)
    probes = run.env.stats.get("/admin/rbac" + PROBE_SUFFIX, "GET")
    assert probes.num_requests > 3 and probes.num_failures == probes.num_requests
    assert run.failures == [
        f"GET /admin/rbac [rbac-probe]: RBAC violation: role admin got HTTP 200 for GET "
        f"/admin/rbac (expected 403) x{probes.num_requests}"
    ]
    assert run.tallies.violations == {"admin": probes.num_requests}


def test_tallies_are_per_environment(target: Target) -> None:
    """Two Environments in one process at once (as master and workers in tests): each counts its own."""
    other = Environment(user_classes=[LeakyProbe], host=target.url)
    other_runner = other.create_local_runner()
    other_runner.start(3, spawn_rate=3)
    try:
        run = Run([LeakyProbe], target.url, 1, min_s=1.5, max_s=1.5)
    finally:
        other_runner.quit()
    mine = run.env.stats.get("/admin/rbac" + PROBE_SUFFIX, "GET").num_requests
    theirs = other.stats.get("/admin/rbac" + PROBE_SUFFIX, "GET").num_requests
    assert mine > 3 and theirs > 3
    assert run.tallies.violations == {"admin": mine} and run.tallies.sessions["login"] == 1
    assert tallies_for(other).violations == {"admin": theirs} and tallies_for(other).sessions["login"] == 3


def test_role_without_accounts_is_a_counted_failure(target: Target) -> None:
    no_qc = {role: accounts for role, accounts in credentials.seeded_accounts("x").items() if role != "qc"}
    credentials.reset_pool(credentials.CredentialPool(no_qc, "test pool"))
    run = Run([QC.QcInspector], target.url, 2, min_s=1.5, max_s=1.5)
    assert len(run.failures) == 1 and run.failures[0].startswith("LOGIN /auth/login: ")
    assert "no accounts for role 'qc'" in run.failures[0] and run.failures[0].endswith(" x2")
    assert run.runner.exceptions == {} and run.user_errors == [] and run.alive == 2


def test_open_model_tokens_replace_think_time(target: Target) -> None:
    from erpload.locust import arrival

    assert "wait_time" in vars(ADM.Admin) and ADM.Admin.wait_time.erpload_paced  # wrapped, not deleted
    settings.configure(Settings(think_time=(30.0, 30.0)))  # closed model: one task per user in this run

    # Tasks, counted by the think-time waits after them (a task makes 0-2 requests: an export turn may
    # download nothing, a list may open a detail). Bounded wait for the 4 first tasks (a loaded CI
    # host may need more than 3 s to spawn, log in and run them), and 6 s at least, in which a 30 s
    # think time must not let any user run a second one.
    paced_wait = vars(ADM.Admin)["wait_time"]
    waits: list[int] = []

    def counted_wait(user: Any) -> float:
        waits.append(1)
        return paced_wait(user)

    ADM.Admin.wait_time = counted_wait  # type: ignore[method-assign]
    try:
        Run([ADM.Admin], target.url, 4, min_s=6, max_s=30, until=lambda r: len(waits) >= 4, need_probe=False)
    finally:
        ADM.Admin.wait_time = paced_wait  # type: ignore[method-assign]
    assert len(waits) == 4

    def open_model(env: Environment) -> None:
        arrival.install_arrival(env, None)  # a local runner: no worker reports to carry
        arrival.configure(env, lambda: 10.0)  # 10 workflow iterations/s in total, whatever the think time

    run = Run([ADM.Admin], target.url, 4, min_s=3, max_s=3, setup=open_model)
    run.assert_clean(probes=False)  # ~30 iterations: a probe (~5 %) is likely, not certain
    tasks = sum(
        e.num_requests for (n, m), e in run.env.stats.entries.items() if n not in ("/auth/login", "/auth/me")
    )
    assert 20 <= tasks <= 45, tasks  # ~4 first iterations + ~30 paced ones


def test_request_timeout_and_tls_come_from_settings_when_users_start() -> None:
    """Not baked in at import: a user built after `configure` uses its timeout; a class value still wins."""
    assert ErpUser.network_timeout is None and ErpUser.insecure is None  # nothing read at import
    silent = socket.socket()  # accepts connections (kernel backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    settings.configure(Settings(think_time=(0.02, 0.1), request_timeout=0.5, insecure_tls=True))
    seen: list[ErpUser] = []

    class Quick(ErpUser):
        role_key = "admin"

        @task
        def nothing(self) -> None:
            seen.append(self)

    class OwnTimeout(Quick):
        network_timeout = connection_timeout = 5.0
        insecure = False

    try:
        run = Run([Quick], url, 2, min_s=2, max_s=2)
        built = OwnTimeout(run.env)
    finally:
        silent.close()
    login = run.env.stats.get("/auth/login", "POST")
    assert login.num_requests >= 2 and login.num_failures == login.num_requests
    assert all("no valid response" in f for f in run.failures), run.failures
    assert 400 <= login.max_response_time < 1500, login.max_response_time  # the 0.5 s timeout, not 10 s
    assert seen and all(
        (u.network_timeout, u.connection_timeout, u.insecure) == (0.5, 0.5, True) for u in seen
    )
    assert (built.network_timeout, built.connection_timeout, built.insecure) == (5.0, 5.0, False)


EXPECTED_MIX = {  # task -> weight per shipped role, as before the dashboard/probe moved to ShopFloorUser
    "CuttingOperator": {"view_queue": 6, "record_bundle": 18, "add_note": 2, "dashboard": 2, "probe": 1},
    "QcInspector": {"review_pending": 5, "inspect_lot": 10, "review_history": 2, "dashboard": 2, "probe": 1},
    "PpicPlanner": {
        "list_orders": 8,
        "search_orders": 5,
        "open_order": 3,
        "plan_order": 3,
        "production_report": 1,
        "import_plan": 1,
        "dashboard": 2,
        "probe": 1,
    },
    "WarehouseClerk": {
        "pending_receipts": 4,
        "receive_lot": 6,
        "search_stock": 4,
        "open_item": 3,
        "adjust_item": 3,
        "export_or_bulk": 1,
        "dashboard": 2,
        "probe": 1,
    },
    "Admin": {
        "browse_users": 6,
        "audit_log": 6,
        "rbac_matrix": 2,
        "production_report": 2,
        "orders_in_progress": 2,
        "exports": 1,
        "dashboard": 2,
        "probe": 1,
    },
}
EXPECTED_MIX["SewingOperator"] = EXPECTED_MIX["FinishingOperator"] = EXPECTED_MIX["CuttingOperator"]


def test_shop_floor_roles_inherit_dashboard_and_probe_with_the_same_request_mix() -> None:
    shared = {t.__name__ for t in ShopFloorUser.tasks}
    assert ShopFloorUser.abstract and Counter(t.__name__ for t in ShopFloorUser.tasks) == {
        "dashboard": 2,
        "probe": 1,
    }
    for cls in ALL:
        assert issubclass(cls, ShopFloorUser) and not cls.abstract, cls
        assert dict(Counter(t.__name__ for t in cls.tasks)) == EXPECTED_MIX[cls.__name__], cls.__name__
        inherited = [t.__wrapped__ for t in cls.tasks if t.__name__ in shared]  # the guard wraps each
        assert inherited and all(f is vars(ShopFloorUser)[f.__name__] for f in inherited), cls
        assert not {"dashboard", "probe"} & set(vars(cls)), cls  # no copy left in the role's own class
        assert all(getattr(t, "_erp_guarded", False) for t in cls.tasks), cls  # every task still guarded


V1_MAP = ROOT / "examples" / "api-maps" / "v1.yaml"


def test_every_role_works_against_the_v1_dialect_with_only_a_map(tmp_path: Path) -> None:
    """Base path, form login, {data, meta} lists, renamed paths and fields: the map alone bridges them.

    Stats names stay the reference templates (SLA rules read as before); the WebSocket takes its
    token as ?access_token=; the stock ledger matches what the target holds.
    """
    users_api.configure_api(load_api_map(V1_MAP))
    v1 = Target(tmp_path, "--dialect", "v1", name="v1")
    classes = [*ALL, SUP.Supervisor, STK.StockTaker]
    wanted = {
        ("POST", "/auth/login"),
        ("GET", "/auth/me"),
        ("GET", "/production/work-orders"),
        ("POST", "/production/work-orders/[id]/claim"),
        ("POST", "/production/cutting"),
        ("GET", "/qc/tests"),
        ("POST", "/qc/tests/[id]/result"),
        ("GET", "/ppic/manufacturing-orders"),
        ("POST", "/ppic/manufacturing-orders"),
        ("GET", "/warehouse/stock"),
        ("POST", "/warehouse/receipts/[id]/receive"),
        ("POST", "/warehouse/stock/[sku]/adjust"),
        ("WS", WS.CONNECT),
    }
    try:
        session = requests.Session()
        login = session.post(
            v1.url + "/api/v1/auth/token", data={"user": "admin01", "pass": SEED_PASSWORD}, timeout=10
        )
        login.raise_for_status()
        session.headers["Authorization"] = "Token " + login.json()["token"]

        def on_hand(sku: str) -> int:
            r = session.get(f"{v1.url}/api/v1/inventory/items/{sku}", timeout=10)
            r.raise_for_status()
            return r.json()["on_hand"]

        before = {sku: on_hand(sku) for sku in STK.FALLBACK_SKUS}  # the stock taker's items (no hot_skus)
        run = Run(classes, v1.url, len(classes), min_s=6, max_s=40, until=lambda r: wanted <= r.names)
        ledger = run.tallies.stock_ledger()
        after = {sku: on_hand(sku) for sku in before}
    finally:
        v1.stop()
    run.assert_clean()
    assert wanted <= run.names, wanted - run.names
    known = {op.stats_name for op in reference_map().operations.values()}
    known |= {reference_map().login.name, WS.CONNECT, WS.EVENT, WS.BROADCAST}
    assert {n for _, n in run.names if not n.endswith(PROBE_SUFFIX)} <= known, run.names
    assert run.tallies.sessions["login"] == len(classes) and run.tallies.sessions.get("login_failed", 0) == 0
    assert set(before) & set(ledger), (
        ledger
    )  # the stock taker adjusted them (with `quantity` read from on_hand)
    for sku in before:  # nothing lost: final = start + adjustments + receipts, as the ledger says
        entry = ledger.get(sku, {"delta": 0, "received": 0})
        assert after[sku] == before[sku] + entry["delta"] + entry["received"], (sku, before, after, entry)


@pytest.mark.parametrize(
    "doc, failure",
    [
        (
            "lists: {items: data, total: meta.total}",
            "GET /qc/tests: does not fit the API map: no list at 'data' (the API map's lists.items) (HTTP 200): ",
        ),
        (
            "login: {token: token}",
            "POST /auth/login: missing token (the API map's login.token) (HTTP 200): ",
        ),
        (
            "login: {expires_in: ttl}",
            "POST /auth/login: does not fit the API map: no positive number of seconds at 'ttl' ",
        ),
    ],
    ids=["list-envelope", "login-token", "login-lifetime"],
)
def test_an_answer_that_does_not_fit_the_map_is_a_failure_with_evidence(
    target: Target, tmp_path: Path, doc: str, failure: str
) -> None:
    path = tmp_path / "wrong.yaml"
    path.write_text(f"version: 1\nname: wrong\n{doc}\n")
    users_api.configure_api(load_api_map(path))
    run = Run([QC.QcInspector], target.url, 2, min_s=1.5, max_s=1.5)
    assert run.runner.exceptions == {} and run.user_errors == [] and run.alive == 2
    assert any(f.startswith(failure) for f in run.failures), run.failures
    if "login" in doc:  # the evidence shows the login answer, its token redacted
        text = "\n".join(run.failures)
        assert "eyJ" not in text and "[REDACTED]" in text, text


def test_renew_by_refresh_when_the_map_says_so(tmp_path: Path) -> None:
    """`renew: refresh`: before expiry the token is renewed at refresh_path with the current token, no new login."""
    from gevent.pywsgi import WSGIServer

    seen: Counter[str] = Counter()
    valid: set[str] = set()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        path, auth = environ["PATH_INFO"], environ.get("HTTP_AUTHORIZATION", "")
        seen[path] += 1
        token = auth.removeprefix("Bearer ")
        if path == "/auth/login" or (path == "/auth/refresh" and token in valid):
            new = f"opaque-token-{sum(seen.values()):06d}"
            valid.add(new)
            status, body = "200 OK", {"access_token": new, "expires_in": 2}
        elif path == "/auth/me" and token in valid:
            status, body = "200 OK", {"username": "admin01", "role": "admin"}
        else:
            status, body = "401 Unauthorized", {"error": "unauthorized", "detail": "bad token"}
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    map_file = tmp_path / "refresh.yaml"
    map_file.write_text("version: 1\nname: refresh\nlogin: {renew: refresh, refresh_path: /auth/refresh}\n")
    users_api.configure_api(load_api_map(map_file))

    class Renewer(ErpUser):
        role_key = "admin"

        @task
        def me(self) -> None:
            self.call("me", required=("username", "role"))

    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    try:
        run = Run([Renewer], f"http://127.0.0.1:{server.server_port}", 1, min_s=4.5, max_s=4.5)
    finally:
        server.stop(timeout=1)
    run.assert_clean(probes=False)
    assert seen["/auth/login"] == 1 and seen["/auth/refresh"] >= 3, (
        seen
    )  # renewed ~every second, never relogged
    assert run.tallies.sessions["login"] == 1 and run.tallies.sessions["renew"] == seen["/auth/refresh"]
    assert {("POST", "/auth/login"), ("POST", "/auth/refresh"), ("GET", "/auth/me")} == run.names
