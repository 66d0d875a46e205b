"""docker-compose.yml and Dockerfile: checked statically, and each service's command run as a local process
(hostnames -> 127.0.0.1, fixed ports -> free ports, volumes -> tmp dirs) so the file cannot drift from what works."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import FAST_THINK, PY, ROOT, Proc, free_port, load_summary

pytestmark = pytest.mark.e2e

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
VAR_RX = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_shape(compose: dict[str, Any]):
    assert "version" not in compose, "the top-level `version:` key is obsolete"
    services = compose["services"]
    assert set(services) == {"target", "master", "worker"}
    target, master, worker = services["target"], services["master"], services["worker"]
    assert target["command"][:4] == ["erpload", "target", "--host", "0.0.0.0"]
    check = " ".join(target["healthcheck"]["test"])
    assert target["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL") and "/health" in check
    assert master["depends_on"]["target"]["condition"] == "service_healthy"
    assert "./reports:/reports" in master["volumes"]
    assert "--report-dir" in master["command"] and "/reports" in master["command"]
    assert "--headless" in master["command"] and "--master" in master["command"]
    assert worker["restart"] == "on-failure" and "--worker" in worker["command"]
    assert "ports" not in worker and "container_name" not in worker, (
        "workers must be scalable (--scale worker=N)"
    )
    for name, svc in services.items():
        assert svc.get("build") == "." and svc.get("image"), name
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_dockerfile_runs_as_non_root():
    lines = [
        line.strip()
        for line in DOCKERFILE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0"), users
    assert any("pip install ." in line for line in lines)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "reports", "tests"} <= set(ignored)


def test_docker_compose_config_validates(tmp_path: Path):
    exe = shutil.which("docker-compose")
    assert exe is not None, (
        "docker-compose (v1) is missing: `make test` installs it "
        "(apt-get install --no-install-recommends docker-compose)"
    )
    r = subprocess.run(
        [exe, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert r.returncode == 0, r.stderr
    scaled = subprocess.run(
        [exe, "-f", str(COMPOSE), "config", "--services"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert scaled.stdout.split() == ["target", "master", "worker"], scaled.stdout


class Local:
    """Turns a compose service's command into the same command on this host."""

    def __init__(self, tmp: Path, variables: dict[str, str]):
        self.vars = variables
        self.target_port, self.master_port = free_port(), free_port()
        self.reports = tmp / "reports"
        self.text = {
            "http://target:8000": f"http://127.0.0.1:{self.target_port}",
            "127.0.0.1:8000": f"127.0.0.1:{self.target_port}",
            "/app/": f"{ROOT}/",
            "/tmp/erp.db": str(tmp / "erp.db"),
        }
        self.exact = {
            "0.0.0.0": "127.0.0.1",
            "master": "127.0.0.1",
            "8000": str(self.target_port),
            "5557": str(self.master_port),
            "/reports": str(self.reports),
        }

    def arg(self, a: str) -> str:
        a = VAR_RX.sub(lambda m: self.vars.get(m.group(1), m.group(2) or ""), str(a))
        if a in self.exact:
            return self.exact[a]
        if a.startswith("/reports/"):
            return str(self.reports / a.removeprefix("/reports/"))
        for old, new in self.text.items():
            a = a.replace(old, new)
        return a

    def argv(self, command: list[str]) -> list[str]:
        head = {"erpload": [PY, "-m", "erpload.cli"], "locust": [PY, "-m", "locust"], "python": [PY]}
        return head[command[0]] + [self.arg(a) for a in command[1:]]


def test_each_service_command_runs_locally(compose: dict[str, Any], tmp_path: Path):
    services = compose["services"]
    local = Local(tmp_path, {"WORKERS": "1", "PROFILE": "../tests/e2e/profiles/short"})
    host_dir, mount = services["master"]["volumes"][0].split(":")[:2]
    assert (host_dir, mount) == ("./reports", "/reports")

    target = Proc(local.argv(services["target"]["command"]), name="target", log_dir=tmp_path)
    check = services["target"]["healthcheck"]
    probe = local.argv(check["test"][1:])
    deadline = (
        time.monotonic() + int(check["retries"]) * 2 + 30
    )  # retries x interval, + start_period and slack
    while True:
        if subprocess.run(probe, capture_output=True, timeout=30).returncode == 0:
            break
        assert time.monotonic() < deadline and target.popen.poll() is None, (
            f"target never healthy:\n{target.tail()}"
        )
        time.sleep(0.5)  # healthcheck interval of a wait bounded by `deadline`
    master = Proc(local.argv(services["master"]["command"]), env=FAST_THINK, name="master", log_dir=tmp_path)
    worker = Proc(local.argv(services["worker"]["command"]), env=FAST_THINK, name="worker", log_dir=tmp_path)
    try:
        rc = master.wait(120)
        assert rc == 0, master.tail()  # the master's exit code is the verdict (`--exit-code-from master`)
        assert worker.wait(30) == 0, worker.tail()  # exit 0: `restart: on-failure` leaves it stopped
    finally:
        target.stop()
    s = load_summary(local.reports)
    assert s["workers"] == 1 and s["verdict"] == "pass"
    assert (local.reports / "locust.html").is_file()
    for p in (master, worker, target):
        assert "Traceback" not in p.output, p.name
