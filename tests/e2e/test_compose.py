"""docker-compose.yml and Dockerfile: checked statically, validated by `docker-compose config` in every variant,
and each service's command run as a local process (hostnames -> 127.0.0.1, fixed ports -> free ports, volumes and
secrets -> the host paths they mount) so the file cannot drift from what works."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from erpload.users.credentials import load_file

from helpers import PY, ROOT, Proc, free_port, load_summary

pytestmark = pytest.mark.e2e

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
VAR_RX = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")
CORE = {"target", "master", "worker"}
PASSTHROUGH = {
    "ERPLOAD_THINK_TIME",
    "ERPLOAD_REQUEST_TIMEOUT",
    "ERPLOAD_INSECURE_TLS",
    "ERPLOAD_MAX_BODY",
    "ERPLOAD_API_MAP",
}
SECRET = "/run/secrets/erp_credentials"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def interpolate(value: str, variables: dict[str, str]) -> str:
    return VAR_RX.sub(lambda m: variables.get(m.group(1), m.group(2) or ""), str(value))


def test_compose_file_shape(compose: dict[str, Any]):
    assert "version" not in compose, "the top-level `version:` key is obsolete"
    services = compose["services"]
    assert CORE <= set(services), set(services)
    for name in set(services) - CORE:  # e.g. prometheus/grafana: only with their own compose profile
        assert services[name].get("profiles"), f"{name} would start with every `docker compose up`"
    target, master, worker = (services[n] for n in ("target", "master", "worker"))
    assert target["profiles"] == ["reference"], "the reference ERP starts only with --profile reference"
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        assert "target" not in deps, f"{name} depends on target: `up` would start it whatever TARGET_URL says"
    # the master waits for TARGET_URL itself, then execs locust (signals and the exit code are locust's)
    cut = master["command"].index("--")
    assert master["command"][:cut] == [
        "python",
        "/app/bin/wait_for_target.py",
        "${TARGET_URL:-http://target:8000}",
        "--timeout",
        "120",
    ]
    assert master["command"][cut + 1] == "locust" and master.get("init") is True
    assert "depends_on" not in master
    assert target["command"][:4] == ["erpload", "target", "--host", "0.0.0.0"]
    check = " ".join(target["healthcheck"]["test"])
    assert target["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL") and "/health" in check
    assert "./reports:/reports" in master["volumes"]
    assert "${ERPLOAD_PROFILES_DIR:-./profiles}:/app/profiles:ro" in master["volumes"]
    assert "--report-dir" in master["command"] and "/reports" in master["command"]
    assert "--headless" in master["command"] and "--master" in master["command"]
    assert worker["restart"] == "on-failure" and "--worker" in worker["command"]
    assert "ports" not in worker and "container_name" not in worker, (
        "workers must be scalable (--scale worker=N)"
    )
    for name in ("master", "worker"):
        env = services[name]["environment"]
        assert PASSTHROUGH | {"ERPLOAD_CREDENTIALS"} <= set(env), name
        for key in PASSTHROUGH:
            assert env[key] == f"${{{key}:-}}", f"{name}: {key} is not passed through"
        assert env["ERPLOAD_CREDENTIALS"] == SECRET and services[name]["secrets"] == ["erp_credentials"]
        assert not any("PASSWORD" in k for k in env), "passwords never go in the environment"
        assert "${ERPLOAD_API_MAPS_DIR:-./examples/api-maps}:/app/api-maps:ro" in services[name]["volumes"]
    for name in ("master", "worker"):
        assert services[name]["extra_hosts"] == ["host.docker.internal:host-gateway"], name
    secret_file = interpolate(compose["secrets"]["erp_credentials"]["file"], {})
    assert load_file(ROOT / secret_file), "the default credentials secret must be a valid file"
    for name, svc in services.items():
        assert name not in CORE or (svc.get("build") == "." and svc.get("image")), name
        for port in svc.get("ports", []):
            assert interpolate(port, {}).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    assert master["ports"] == ["${ERPLOAD_MASTER_BIND:-127.0.0.1}:5557:5557"]
    text = COMPOSE.read_text()
    port_line = text.index('"${ERPLOAD_MASTER_BIND:-127.0.0.1}:5557:5557"')
    assert "NO authentication" in text[port_line - 600 : port_line], "the security note sits beside the port"


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
    assert "COPY deploy/wait_for_target.py ./bin/wait_for_target.py" in lines
    assert "COPY examples/api-maps ./api-maps" in lines
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "reports", "tests", "deploy/compose", "deploy/k8s"} <= set(ignored)


def docker_compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("docker-compose")
    assert exe is not None, (
        "docker-compose (v1) is missing: `make test` installs it "
        "(apt-get install --no-install-recommends docker-compose)"
    )
    clean = {
        k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ
    }  # no stray TARGET_URL etc.
    return subprocess.run(
        [exe, "-f", str(COMPOSE), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**clean, **(env or {})},
    )


VARIANTS = {
    "default": ([], {}),
    "reference": (["--profile", "reference"], {}),
    "own-erp": (
        [],
        {
            "TARGET_URL": "http://host.docker.internal:8080",
            "ERPLOAD_CREDENTIALS_FILE": "./my-credentials.yaml",
            "ERPLOAD_THINK_TIME": "1,3",
            "ERPLOAD_INSECURE_TLS": "1",
            "ERPLOAD_API_MAP": "/app/api-maps/v1.yaml",
        },
    ),
    "cross-host": ([], {"ERPLOAD_MASTER_BIND": "10.0.0.10", "WORKERS": "4"}),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_docker_compose_config_validates(variant: str):
    flags, env = VARIANTS[variant]
    r = docker_compose(*flags, "config", env=env)
    assert r.returncode == 0, r.stderr
    cfg = yaml.safe_load(r.stdout)
    services = cfg["services"]
    master, worker = services["master"], services["worker"]
    url = env.get("TARGET_URL", "http://target:8000")
    assert master["command"][master["command"].index("-H") + 1] == url
    assert master["command"][2] == url, "the master waits for the URL it tests"
    assert master["ports"] == [f"{env.get('ERPLOAD_MASTER_BIND', '127.0.0.1')}:5557:5557/tcp"]
    assert master["command"][master["command"].index("--expect-workers") + 1] == env.get("WORKERS", "2")
    secret = Path(cfg["secrets"]["erp_credentials"]["file"])
    assert secret == (ROOT / env.get("ERPLOAD_CREDENTIALS_FILE", "deploy/compose/credentials.reference.yaml"))
    for svc in (master, worker):
        assert svc["environment"]["ERPLOAD_CREDENTIALS"] == SECRET
        assert {s["source"] for s in svc["secrets"]} == {"erp_credentials"}
        for key in PASSTHROUGH:
            assert (svc["environment"].get(key) or "") == env.get(key, ""), key
    assert services["target"]["profiles"] == ["reference"]


def test_wait_for_target_fails_closed_or_becomes_the_command(tmp_path: Path):
    """Nothing on TARGET_URL: exit 2 with the URL, the last error and the fix (the command never starts).
    A listening URL: the command runs in its place and its exit code comes through."""
    port = free_port()
    marker = tmp_path / "ran"
    r = subprocess.run(
        [PY, str(ROOT / "deploy" / "wait_for_target.py"), f"http://127.0.0.1:{port}", "--timeout", "2"]
        + ["--", PY, "-c", f"open({str(marker)!r}, 'w')"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.returncode == 2 and not marker.exists(), r.stderr
    assert f"http://127.0.0.1:{port}" in r.stderr and "--profile reference" in r.stderr
    assert "host.docker.internal" in r.stderr
    bad = subprocess.run(
        [PY, str(ROOT / "deploy" / "wait_for_target.py"), "localhost:8000"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "not an http(s) URL" in bad.stderr, bad.stderr
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        ok = subprocess.run(
            [PY, str(ROOT / "deploy" / "wait_for_target.py"), url, "--", PY, "-c", "import sys; sys.exit(3)"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert ok.returncode == 3 and "accepts connections" in ok.stdout, (ok.stdout, ok.stderr)


class Local:
    """Turns a compose service's command and environment into the same on this host."""

    def __init__(self, tmp: Path, compose: dict[str, Any], variables: dict[str, str]):
        self.vars = variables
        self.target_port, self.master_port = free_port(), free_port()
        self.reports = tmp / "reports"
        secret = ROOT / interpolate(compose["secrets"]["erp_credentials"]["file"], variables)
        self.mounts = {  # container path -> host path: secrets, volumes, then what the Dockerfile copies
            SECRET: secret,
            "/reports": self.reports,
            "/app/bin/wait_for_target.py": ROOT / "deploy" / "wait_for_target.py",
            "locust": Path(PY).parent / "locust",  # what wait_for_target.py execs (on the image's PATH)
            "/app/locustfiles": ROOT / "locustfiles",
        }
        for name in ("master", "worker"):
            for volume in compose["services"][name].get("volumes", []):
                host, container = interpolate(volume, variables).split(":")[:2]
                self.mounts.setdefault(container, (ROOT / host) if host.startswith(".") else Path(host))
        self.exact = {
            "0.0.0.0": "127.0.0.1",
            "master": "127.0.0.1",
            "8000": str(self.target_port),
            "5557": str(self.master_port),
            "/tmp/erp.db": str(tmp / "erp.db"),
        }

    def arg(self, a: str) -> str:
        a = interpolate(a, self.vars)
        if a in self.exact:
            return self.exact[a]
        a = a.replace("http://target:8000", f"http://127.0.0.1:{self.target_port}")
        a = a.replace("127.0.0.1:8000", f"127.0.0.1:{self.target_port}")
        for container in sorted(self.mounts, key=len, reverse=True):
            if a == container or a.startswith(container + "/"):
                return str(self.mounts[container]) + a[len(container) :]
        return a

    def argv(self, command: list[str]) -> list[str]:
        head = {"erpload": [PY, "-m", "erpload.cli"], "locust": [PY, "-m", "locust"], "python": [PY]}
        return head[command[0]] + [self.arg(a) for a in command[1:]]

    def env(self, service: dict[str, Any]) -> dict[str, str]:
        env = {k: self.arg(v) for k, v in service.get("environment", {}).items()}
        return {k: str(free_port()) if k.endswith("_PORT") else v for k, v in env.items()}  # fixed -> free


def test_each_service_command_runs_locally(compose: dict[str, Any], tmp_path: Path):
    """The reference profile's path with a team's knobs: the v1 API map from the mounted dir, profiles from
    ERPLOAD_PROFILES_DIR, the think time passed through, the credentials from the secret file."""
    services = compose["services"]
    variables = {
        "WORKERS": "1",
        "PROFILE": "short",
        "ERPLOAD_PROFILES_DIR": str(ROOT / "tests" / "e2e" / "profiles"),
        "ERPLOAD_API_MAP": "/app/api-maps/v1.yaml",
        "ERPLOAD_THINK_TIME": "0.1,0.5",
    }
    local = Local(tmp_path, compose, variables)
    # the ERP under test speaks the v1 dialect, so only the mounted map makes the run pass
    target = Proc(
        local.argv(services["target"]["command"]), env={"ERP_DIALECT": "v1"}, name="target", log_dir=tmp_path
    )
    try:
        check = services["target"]["healthcheck"]
        probe = local.argv(check["test"][1:])
        deadline = time.monotonic() + int(check["retries"]) * 2 + 30  # retries x interval + slack
        while subprocess.run(probe, capture_output=True, timeout=30).returncode != 0:
            assert time.monotonic() < deadline and target.popen.poll() is None, (
                f"target never healthy:\n{target.tail()}"
            )
            time.sleep(0.5)  # healthcheck interval of a wait bounded by `deadline`
        master_env, worker_env = local.env(services["master"]), local.env(services["worker"])
        assert master_env["ERPLOAD_CREDENTIALS"] == str(ROOT / "deploy/compose/credentials.reference.yaml")
        assert master_env["ERPLOAD_API_MAP"] == str(ROOT / "examples/api-maps/v1.yaml")
        master = Proc(
            local.argv(services["master"]["command"]), env=master_env, name="master", log_dir=tmp_path
        )
        worker = Proc(
            local.argv(services["worker"]["command"]), env=worker_env, name="worker", log_dir=tmp_path
        )
        rc = master.wait(250)  # up to 120 s waiting for the target, then the run
        assert rc == 0, master.tail()  # the master's exit code is the verdict (`--exit-code-from master`)
        assert "accepts connections" in master.output, "the master waited for the target"
        assert worker.wait(30) == 0, worker.tail()  # exit 0: `restart: on-failure` leaves it stopped
    finally:
        target.stop()
    s = load_summary(local.reports)
    assert s["workers"] == 1 and s["verdict"] == "pass" and s["profile"]["name"] == "e2e-short"
    assert s["total"]["count"] > 0 and s["total"]["failures"] == 0 and not s["errors"], s["errors"]
    assert (local.reports / "locust.html").is_file()
    for p in (master, worker, target):
        assert "Traceback" not in p.output, p.name
        assert "erpload-demo" not in p.output, f"{p.name} logged a password"
