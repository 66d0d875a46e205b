"""Multi-host for real: target, master and two workers each in its own network namespace ("host"), joined by
veth pairs to a bridge that lives in a namespace of its own. The 10.231.7.0/24 addresses exist only inside
these namespaces; nothing is added to the host's own network, and every namespace is deleted afterwards."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import FAST_THINK, PROFILES, PY, ROOT, Proc, load_summary

pytestmark = pytest.mark.e2e

NET = "10.231.7"
HOSTS = {"target": 10, "master": 20, "worker0": 31, "worker1": 32}


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


def _why_not() -> str | None:
    if shutil.which("ip") is None:
        return "no `ip` command (apt-get install iproute2)"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (make test runs as root in CI)"
    return None


class Hosts:
    """One namespace per host plus a "switch" namespace holding the bridge."""

    def __init__(self) -> None:
        self.tag = f"el{os.getpid() % 100000}"
        self.switch = f"{self.tag}-sw"
        self.names: dict[str, str] = {}
        self.created: list[str] = []

    def ns(self, name: str) -> str:
        return self.names[name]

    def addr(self, name: str) -> str:
        return f"{NET}.{HOSTS[name]}"

    def build(self) -> None:
        self._add_ns(self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        for i, (host, octet) in enumerate(HOSTS.items()):
            ns = self.names[host] = f"{self.tag}-{host}"
            self._add_ns(ns)
            a, b = f"{self.tag}h{i}", f"{self.tag}s{i}"  # <= 15 chars, unique per test process
            ip("link", "add", a, "type", "veth", "peer", "name", b)
            ip("link", "set", a, "netns", ns)
            ip("link", "set", b, "netns", self.switch)
            ip("-n", ns, "link", "set", a, "name", "eth0")
            ip("-n", ns, "addr", "add", f"{NET}.{octet}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", self.switch, "link", "set", b, "master", "br0")
            ip("-n", self.switch, "link", "set", b, "up")

    def _add_ns(self, ns: str) -> None:
        ip("netns", "add", ns)
        self.created.append(ns)
        ip("-n", ns, "link", "set", "lo", "up")

    def teardown(self) -> None:
        for ns in reversed(self.created):
            ip("netns", "del", ns, check=False)  # deleting a namespace removes its veth ends too
        self.created.clear()

    def run(self, host: str, args: list[str], tmp: Path, name: str) -> Proc:
        return Proc(["ip", "netns", "exec", self.ns(host), *args], env=FAST_THINK, name=name, log_dir=tmp)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    h = Hosts()
    try:
        h.build()
    except subprocess.CalledProcessError as e:
        h.teardown()
        pytest.skip(f"network namespaces cannot be created here: {' '.join(e.cmd)}: {e.stderr.strip()}")
    try:
        yield h
    finally:
        Proc.stop_all()  # processes die before their namespaces do
        h.teardown()
        left = ip("netns", "list").stdout
        assert h.tag not in left, f"namespaces left behind: {left}"


def test_target_master_and_two_workers_on_four_hosts(hosts: Hosts, tmp_path: Path):
    target_url = f"http://{hosts.addr('target')}:8000"
    target = hosts.run(
        "target",
        [
            PY,
            "-m",
            "erp_target",
            "--host",
            hosts.addr("target"),
            "--port",
            "8000",
            "--db",
            str(tmp_path / "erp.db"),
        ],
        tmp_path,
        "target",
    )
    target.expect(r"listening on http://10\.231\.7\.10:8000", timeout=90)
    probe = [
        "ip",
        "netns",
        "exec",
        hosts.ns("master"),
        PY,
        "-c",
        f"import urllib.request; urllib.request.urlopen('{target_url}/health', timeout=2)",
    ]
    deadline = time.monotonic() + 30
    while subprocess.run(probe, capture_output=True, timeout=30).returncode != 0:  # across the bridge
        assert time.monotonic() < deadline, f"{target_url} not reachable from the master's host"
        time.sleep(0.2)  # readiness poll bounded by `deadline`

    rep = tmp_path / "reports"
    master = hosts.run(
        "master",
        [
            PY,
            "-m",
            "locust",
            "-f",
            str(ROOT / "locustfiles"),
            "--headless",
            "--only-summary",
            "--load-profile",
            str(PROFILES / "short.yaml"),
            "-H",
            target_url,
            "--report-dir",
            str(rep),
            "--master",
            "--master-bind-host",
            hosts.addr("master"),
            "--master-bind-port",
            "5557",
            "--expect-workers",
            "2",
            "--expect-workers-max-wait",
            "60",
        ],
        tmp_path,
        "master",
    )
    workers = [
        hosts.run(
            w,
            [
                PY,
                "-m",
                "locust",
                "-f",
                str(ROOT / "locustfiles"),
                "--worker",
                "--master-host",
                hosts.addr("master"),
                "--master-port",
                "5557",
            ],
            tmp_path,
            w,
        )
        for w in ("worker0", "worker1")
    ]
    rc = master.wait(75)
    assert rc == 0, master.tail()
    for w in workers:
        assert w.wait(30) == 0, w.tail()
    s = load_summary(rep)
    assert s["workers"] == 2 and s["verdict"] == "pass" and s["host"] == target_url
    roles = {r["name"]: r for r in s["roles"]}
    assert len(roles) == 7 and sum(r["count"] for r in roles.values()) == s["total"]["count"] > 0
    assert sum(r["count"] for r in s["requests"]) == s["total"]["count"]
    assert "2 workers connected" in master.output
    for p in (master, target, *workers):
        assert "Traceback" not in p.output, p.name
