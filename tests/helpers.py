"""Shared test helpers: real processes, headless Chromium, the ERP contract and its clients, Locust runs.

Test modules import from here (never from each other); conftest.py builds its fixtures from it.
Sections: processes (Proc, Target, free ports), browser (chromium_page), the reference ERP's contract
(docs/erp-api.md's Operations table, Api, AppTarget: the Flask app in-process), Locust runs (e2e).
"""

from __future__ import annotations

import http.server
import io
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

# ---------------------------------------------------------------------------------------------
# Processes: start, wait for a log line or URL, stop by PID, never orphan.

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SEED_PASSWORD = os.environ.get("ERP_SEED_PASSWORD", "erpload-demo")  # the reference ERP's default


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (bind to 0, read, release)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Proc:
    """A child process whose combined output is captured line by line in the background.

    `expect(pattern, timeout)` waits for a line matching the regex and returns the match;
    `stop()` sends SIGINT, then SIGKILL after a bound, and always reaps the process.
    """

    _all: list[Proc] = []

    def __init__(
        self,
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        name: str = "proc",
        log_dir: Path | None = None,
    ):
        self.name = name
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.args = list(args)
        self.popen = subprocess.Popen(
            self.args,
            cwd=cwd or ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._log_path = (log_dir / f"{name}.log") if log_dir else None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        Proc._all.append(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _read(self) -> None:
        assert self.popen.stdout is not None
        log = open(self._log_path, "w") if self._log_path else None  # noqa: SIM115
        try:
            for line in self.popen.stdout:
                with self._cond:
                    self.lines.append(line.rstrip("\n"))
                    self._cond.notify_all()
                if log:
                    log.write(line)
                    log.flush()
        finally:
            if log:
                log.close()
            with self._cond:
                self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def expect(self, pattern: str, timeout: float = 30.0, start: int = 0) -> re.Match[str]:
        """Wait until a line matches `pattern` (regex); fail with the output tail on timeout or exit."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        idx = start
        with self._cond:
            while True:
                while idx < len(self.lines):
                    m = rx.search(self.lines[idx])
                    if m:
                        return m
                    idx += 1
                if self.popen.poll() is not None and not self._reader.is_alive():
                    raise AssertionError(
                        f"{self.name} exited ({self.popen.returncode}) before printing /{pattern}/:\n{self.tail()}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{self.name}: no line matched /{pattern}/ in {timeout}s:\n{self.tail()}"
                    )
                self._cond.wait(min(left, 0.5))

    def tail(self, n: int = 60) -> str:
        with self._cond:
            return "\n".join(self.lines[-n:])

    def wait(self, timeout: float) -> int:
        """Wait for exit (bounded); return the exit code; fail with the output tail on timeout."""
        try:
            rc = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"{self.name} did not exit within {timeout}s:\n{self.tail()}") from None
        self._reader.join(timeout=5)
        return rc

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGINT, then SIGKILL (whole session) after `timeout`; always reaps."""
        if self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGINT)
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._reader.join(timeout=5)
        return self.popen.returncode

    @classmethod
    def stop_all(cls) -> None:
        for p in reversed(cls._all):
            p.stop(timeout=5)
        cls._all.clear()


def wait_http(url: str, timeout: float = 30.0, status: int = 200) -> requests.Response:
    """Poll `url` until it answers `status` (bounded). Polls every 0.1 s; fails with the last error."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            r = requests.get(url, timeout=2)
            if r.status_code == status:
                return r
            last = f"HTTP {r.status_code}: {r.text[:200]}"
        except requests.RequestException as e:
            last = e
        time.sleep(0.1)  # poll interval of a bounded readiness wait, not a fixed delay
    raise AssertionError(f"{url} not ready within {timeout}s (last: {last})")


class Target:
    """The reference ERP as a real subprocess on a free port (`--port 0`, URL read from its output)."""

    def __init__(self, tmp: Path, *extra: str, name: str = "target", db: Path | None = None):
        args = [PY, "-m", "erp_target", "--port", "0", "--db", str(db or tmp / f"{name}.db"), *extra]
        self.proc = Proc(args, name=name, log_dir=tmp)
        m = self.proc.expect(r"listening on (http://127\.0\.0\.1:(\d+))", timeout=90)
        self.url = m.group(1)
        self.port = int(m.group(2))
        wait_http(self.url + "/health", timeout=30)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def session(self) -> requests.Session:
        """A keep-alive HTTP session to this target (what Api uses)."""
        return requests.Session()

    def login(self, username: str, password: str | None = None) -> str:
        r = requests.post(
            self.url + "/auth/login",
            json={"username": username, "password": password or SEED_PASSWORD},
            timeout=10,
        )
        r.raise_for_status()
        return r.json()["access_token"]

    def stop(self) -> int | None:
        return self.proc.stop()


# ---------------------------------------------------------------------------------------------
# Browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, for report and web UI tests.

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google hosts this sandbox refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def chromium_page(width: int = 1280, height: int = 900) -> Iterator:
    """A fresh page in a fresh headless Chromium with an empty profile; always closed."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="erpload-chromium-") as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
        )
        try:
            yield ctx.new_page()
        finally:
            ctx.close()


# ---------------------------------------------------------------------------------------------
# The reference ERP's contract: docs/erp-api.md's Operations table, the seeded users, one client.

CONTRACT = ROOT / "docs" / "erp-api.md"
ROLE_KEYS = ("admin", "ppic", "cutting", "sewing", "finishing", "qc", "warehouse")
OPERATOR_KEYS = ("cutting", "sewing", "finishing")
USERS = {
    "admin": "admin01",
    "ppic": "ppic01",
    "cutting": "cutting001",
    "sewing": "sewing001",
    "finishing": "finishing001",
    "qc": "qc01",
    "warehouse": "warehouse01",
}
ALL = ("admin", "ppic", "operator:*", "qc", "warehouse")  # what the table's "all" means


@dataclass(frozen=True)
class Row:
    """One row of the Operations table."""

    method: str
    path: str
    auth: bool
    roles: tuple[str, ...]
    department: str | None  # "operator:= (cutting)" -> cutting
    success: int

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


def parse_roles(cell: str) -> tuple[bool, tuple[str, ...], str | None]:
    """A roles cell -> (auth required, role tokens, fixed department)."""
    cell = cell.strip()
    if cell == "(no auth)":
        return False, (), None
    if cell == "all":
        return True, ALL, None
    m = re.fullmatch(r"operator:= \((\w+)\)", cell)
    if m:
        return True, ("operator:=",), m.group(1)
    return True, tuple(t.strip() for t in cell.split(",")), None


def parse_operations(text: str) -> list[Row]:
    """Rows of the table under '## Operations' (method | path | roles | success | ...)."""
    section = text.split("\n## Operations", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == "method" or set(cells[0]) <= {"-", " "}:
            continue
        auth, roles, dept = parse_roles(cells[2])
        rows.append(Row(cells[0], cells[1], auth, roles, dept, int(cells[3])))
    return rows


OPERATIONS = parse_operations(CONTRACT.read_text())
AUTH_ROWS = [r for r in OPERATIONS if r.auth]


def allowed(row: Row, role_key: str, request_department: str | None) -> bool:
    """Whether `role_key` gets 2xx on `row` when the request concerns `request_department`."""
    if role_key not in OPERATOR_KEYS:
        return role_key in row.roles
    if "operator:=" in row.roles:
        return (row.department or request_department) == role_key
    return "operator:*" in row.roles


class Api:
    """One keep-alive session, optionally logged in; every call has a timeout.

    `target` is a Target (a real process, over HTTP) or an AppTarget (the app in-process).
    """

    def __init__(self, target: Any, username: str | None = None, token: str | None = None):
        self.url = target.url
        self.session = target.session() if hasattr(target, "session") else requests.Session()
        if username or token:
            self.token = token or target.login(username)
            self.session.headers["Authorization"] = f"Bearer {self.token}"

    def call(self, method: str, path: str, timeout: float = 15, **kw: Any) -> Any:
        return self.session.request(method, self.url + path, timeout=timeout, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.call("POST", path, **kw)

    def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        """Call, assert the status, return the JSON body."""
        r = self.call(method, path, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text[:300]}"
        return r.json()


def seed_db(path: Path) -> Path:
    """Seed a reference ERP database file in-process (the app factory, then close: WAL checkpointed).

    A copy of the file is reused by `python -m erp_target --db COPY` and by AppTarget without
    seeding again, so a test session seeds once.
    """
    from erp_target.app import close_app, create_app
    from erp_target.config import TargetConfig

    close_app(create_app(TargetConfig(db_path=str(path), seed_password=SEED_PASSWORD)))
    return path


def copy_db(seeded: Path, directory: Path, name: str = "erp.db") -> Path:
    """A private copy of a seeded database (tests that change state get their own)."""
    dst = directory / name
    shutil.copyfile(seeded, dst)
    return dst


class ClientResponse:
    """The parts of a `requests.Response` the tests read, over a Flask test-client response."""

    def __init__(self, resp: Any):
        self.status_code: int = resp.status_code
        self.headers = resp.headers
        self.content: bytes = resp.get_data()
        self.text: str = self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)


class ClientSession:
    """A `requests.Session` look-alike that calls the app through `app.test_client()` (no socket)."""

    def __init__(self, app: Any, base_url: str):
        self._client = app.test_client()
        self._base = base_url
        self.headers: dict[str, str] = {}

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float | None = None,  # in-process: nothing to wait on
        params: dict[str, Any] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> ClientResponse:
        kw: dict[str, Any] = {"headers": {**self.headers, **(headers or {})}}
        if params is not None:
            kw["query_string"] = params
        if json is not None:
            kw["json"] = json
        if data is not None:
            kw["data"] = data
        path = url[len(self._base) :] if url.startswith(self._base) else url
        return ClientResponse(self._client.open(path, method=method, **kw))

    def get(self, url: str, **kw: Any) -> ClientResponse:
        return self.request("GET", url, **kw)

    def post(self, url: str, **kw: Any) -> ClientResponse:
        return self.request("POST", url, **kw)


class AppTarget:
    """The reference ERP built by its app factory in this process and called through the test client.

    Stands in for Target where no real server is needed: Api accepts either. What the app logs (its
    handled 500s log a traceback) is captured in `output`, as Target captures the process output.
    """

    url = "http://erp.test"

    def __init__(self, db: Path, **config: Any):
        from erp_target.app import create_app
        from erp_target.config import TargetConfig

        self._log = io.StringIO()
        self._handler = logging.StreamHandler(self._log)
        self._handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logging.getLogger("erp_target").addHandler(self._handler)
        self.app = create_app(TargetConfig(db_path=str(db), seed_password=SEED_PASSWORD, **config))

    @property
    def output(self) -> str:
        return self._log.getvalue()

    def session(self) -> ClientSession:
        return ClientSession(self.app, self.url)

    def login(self, username: str, password: str | None = None) -> str:
        r = self.session().post(
            "/auth/login", json={"username": username, "password": password or SEED_PASSWORD}
        )
        assert r.status_code == 200, f"login {username}: {r.status_code} {r.text[:200]}"
        return r.json()["access_token"]

    def close(self) -> None:
        from erp_target.app import close_app

        close_app(self.app)
        logging.getLogger("erp_target").removeHandler(self._handler)


# ---------------------------------------------------------------------------------------------
# Locust runs (e2e): the repo's locustfiles against a target, as real processes.

PROFILES = ROOT / "tests" / "e2e" / "profiles"
FAST_THINK = {"ERPLOAD_THINK_TIME": "0.1,0.5"}
ROLES = (
    "{CuttingOperator: 1, SewingOperator: 1, FinishingOperator: 1, QcInspector: 1, PpicPlanner: 1, "
    "WarehouseClerk: 1, Admin: 1}"
)


def start_locust(tmp: Path, url: str, profile: Path, *extra: str, name: str = "locust") -> tuple[Proc, Path]:
    """Start `locust -f locustfiles/ --headless --load-profile ...`; return (proc, report dir)."""
    report_dir = tmp / f"{name}-reports"
    args = ["--headless", "--only-summary", "--load-profile", str(profile), "-H", url]
    return locust(*args, "--report-dir", str(report_dir), *extra, name=name, tmp=tmp), report_dir


def run_locust(
    tmp: Path, url: str, profile: Path, *extra: str, name: str = "locust", timeout: float = 120
) -> tuple[int, Proc, Path]:
    """Run `locust -f locustfiles/ --headless --load-profile ...` to completion; return (rc, proc, report dir)."""
    proc, report_dir = start_locust(tmp, url, profile, *extra, name=name)
    return proc.wait(timeout), proc, report_dir


def load_summary(report_dir: Path) -> dict:
    for f in ("summary.json", "junit.xml", "summary.md", "report.html"):
        assert (report_dir / f).is_file(), f"{f} missing in {report_dir}"
    return json.loads((report_dir / "summary.json").read_text())


def sla_by_rule(summary: dict) -> dict[str, dict]:
    return {row["rule"]: row for row in summary["sla"]}


def request_count(url: str) -> float:
    """Requests the target has served (its /metrics), not counting /metrics and /health."""
    text = requests.get(url + "/metrics", timeout=5).text
    total = 0.0
    for fam in text_string_to_metric_families(text):
        for sample in fam.samples:
            if sample.name == "erp_http_requests_total" and sample.labels.get("path") not in (
                "/metrics",
                "/health",
            ):
                total += sample.value
    return total


def write_profile(
    tmp: Path, name: str, steady_s: int, sla: str = '  - p95 of "GET /dashboard" < 2s\n'
) -> Path:
    """A profile with every role once: a 3 s ramp, then `steady_s` seconds steady."""
    path = tmp / f"{name}.yaml"
    path.write_text(
        f"name: {name}\ndescription: e2e distributed faults.\nroles: {ROLES}\nstages:\n"
        f"  - {{name: ramp, duration: 3s, users: 7, spawn_rate: 7}}\n"
        f"  - {{name: hold, duration: {steady_s}s, users: 7}}\nsla:\n{sla}"
    )
    return path


def locust(*args: str, name: str, tmp: Path, env: dict[str, str] | None = None) -> Proc:
    return Proc(
        [PY, "-m", "locust", "-f", str(ROOT / "locustfiles"), *args],
        env={**FAST_THINK, **(env or {})},
        name=name,
        log_dir=tmp,
    )


def start_workers(
    port: int, count: int, tmp: Path, *extra: str, prefix: str = "worker", env: dict[str, str] | None = None
) -> list[Proc]:
    """`count` worker processes joining the master on 127.0.0.1:`port`."""
    args = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port), *extra]
    return [locust(*args, name=f"{prefix}{i}", tmp=tmp, env=env) for i in range(count)]


class Cluster:
    """A headless master and N worker processes on a free master port (loopback only)."""

    def __init__(
        self,
        tmp: Path,
        url: str,
        profile: Path,
        workers: int = 2,
        *master_extra: str,
        expect: int | None = None,
        worker_extra: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ):
        self.port = free_port()
        self.report_dir = tmp / "reports"
        self.master = locust(
            "--headless",
            "--only-summary",
            "--load-profile",
            str(profile),
            "-H",
            url,
            "--report-dir",
            str(self.report_dir),
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(self.port),
            "--expect-workers",
            str(expect or workers),
            "--expect-workers-max-wait",
            "60",
            *master_extra,
            name="master",
            tmp=tmp,
            env=env,
        )
        self.workers = start_workers(self.port, workers, tmp, *worker_extra, env=env)

    def wait_steady(self) -> None:
        self.master.expect(r"stage 2/2 'hold'", timeout=90)

    def outputs(self) -> list[str]:
        return [self.master.output] + [w.output for w in self.workers]


# ---------------------------------------------------------------------------------------------
# Kubernetes: deploy/k8s rendered as `kubectl kustomize` would, for the fields its kustomization uses.

K8S = ROOT / "deploy" / "k8s"
KUSTOMIZE_KEYS = {
    "apiVersion",
    "kind",
    "namespace",
    "resources",
    "configMapGenerator",
    "generatorOptions",
    "images",
}
CLUSTER_SCOPED = {"Namespace"}


def render_kustomization(directory: Path = K8S) -> list[dict[str, Any]]:
    """Every object of `directory`/kustomization.yaml: resources, generated ConfigMaps, namespace, images.

    Fails on any kustomization field it does not apply (it would render something kustomize does not).
    """
    import yaml

    kust = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kust) - KUSTOMIZE_KEYS
    assert not unknown, f"render_kustomization does not apply {sorted(unknown)}: extend it"
    assert kust.get("generatorOptions") == {"disableNameSuffixHash": True}, "names would get a hash suffix"
    objs: list[dict[str, Any]] = []
    for res in kust["resources"]:
        objs += [d for d in yaml.safe_load_all((directory / res).read_text()) if d]
    for gen in kust.get("configMapGenerator", []):
        data: dict[str, str] = {}
        for entry in gen.get("files", []):
            key, _, path = entry.rpartition("=")
            data[key or Path(path).name] = (directory / path).read_text()
        for literal in gen.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        objs.append(
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data}
        )
    images = {i["name"]: f"{i.get('newName', i['name'])}:{i['newTag']}" for i in kust.get("images", [])}
    for obj in objs:
        if kust.get("namespace") and obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = kust["namespace"]
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []) + spec.get("initContainers", []):
            c["image"] = images.get(c["image"], c["image"])
    return objs


def k8s_object(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object of `kind` named `name`."""
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


# A stub ERP in the test process (unit tests of the runtime's plain-HTTP clients).
class JsonHandler(http.server.BaseHTTPRequestHandler):
    """Request handler base for a loopback stub: `send_json(status, body)`, no access log."""

    def send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def stub_server(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve `handler` on a free loopback port in a thread; yield the base URL; shut down after."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
