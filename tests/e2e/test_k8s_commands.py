"""deploy/k8s as local processes: the master Job's container and the worker Deployment's replicas run with their
own command, args and environment (envFrom the generated ConfigMap, the credentials file from the Secret's
mount) against the reference ERP. Service DNS -> 127.0.0.1, 5557 -> a free port, mounts -> tmp dirs holding
what the ConfigMap and Secret would. The master's exit code (a breached SLA: 3) is what the Job reports."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import (
    PY,
    ROOT,
    Proc,
    Target,
    free_port,
    k8s_object,
    load_summary,
    render_kustomization,
    wait_http,
    write_profile,
)

pytestmark = pytest.mark.e2e

REFERENCE_ACCOUNTS = ROOT / "deploy" / "compose" / "credentials.reference.yaml"


class Pod:
    """One container of a rendered object, as a local process."""

    def __init__(self, obj: dict[str, Any], objs: list[dict[str, Any]], tmp: Path, subst: dict[str, str]):
        spec = obj["spec"]["template"]["spec"]
        (self.c,) = spec["containers"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        self.mounts: dict[str, Path] = {"/app/locustfiles": ROOT / "locustfiles"}  # the image's link
        for m in self.c["volumeMounts"]:
            vol, host = volumes[m["name"]], tmp / m["name"]
            host.mkdir(parents=True, exist_ok=True)  # a volume exists before the container starts
            if "configMap" in vol:  # what the kubelet projects: one file per key
                for key, text in k8s_object(objs, "ConfigMap", vol["configMap"]["name"])["data"].items():
                    (host / key).write_text(text)
            elif "secret" in vol:  # the example Secret holds placeholders: the reference ERP's accounts here
                (host / "credentials.yaml").write_text(REFERENCE_ACCOUNTS.read_text())
            self.mounts[m["mountPath"]] = host
        self.subst = subst
        env: dict[str, str] = {}
        for source in self.c.get("envFrom", []):
            env.update(k8s_object(objs, "ConfigMap", source["configMapRef"]["name"])["data"])
        env.update({e["name"]: e["value"] for e in self.c.get("env", [])})
        self.env = {k: self.arg(v) for k, v in env.items()}

    def arg(self, a: str) -> str:
        if a in self.subst:
            return self.subst[a]
        for container in sorted(self.mounts, key=len, reverse=True):
            if a == container or a.startswith(container + "/"):
                return str(self.mounts[container]) + a[len(container) :]
        return a

    def start(self, name: str, tmp: Path, env: dict[str, str]) -> Proc:
        argv = self.c["command"] + self.c["args"]
        assert argv[0] == "locust", argv
        return Proc(
            [PY, "-m", "locust", *(self.arg(a) for a in argv[1:])],
            env={**self.env, **env},
            name=name,
            log_dir=tmp,
        )


def tcp_ready(port: int, timeout: float) -> None:
    """The master's readinessProbe (tcpSocket 5557), as the kubelet runs it: connect, close, retry."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                return
        except OSError:
            assert time.monotonic() < deadline, f"master port {port} never accepted a connection"
            time.sleep(0.2)  # probe period of a bounded wait


def test_master_job_and_two_workers_run_locally(tmp_path: Path):
    objs = render_kustomization()
    job, dep = k8s_object(objs, "Job", "erpload-master"), k8s_object(objs, "Deployment", "erpload-worker")
    svc = k8s_object(objs, "Service", "erpload-master")
    assert dep["spec"]["replicas"] == 2
    target = Target(tmp_path)
    port, metrics_port = free_port(), free_port()
    subst = {"0.0.0.0": "127.0.0.1", svc["metadata"]["name"]: "127.0.0.1", "5557": str(port)}
    subst["9646"] = str(metrics_port)  # the master's --metrics-port (NetworkPolicy erpload-master-metrics)
    # a short run with a rule the healthy ERP cannot meet: the verdict must come through as exit 3
    profile = write_profile(
        tmp_path, "k8s", 5, sla='  - p95 of "GET /dashboard" < 2s\n  - p50 of "POST /auth/login" < 0.001ms\n'
    )
    knobs = {"LOCUST_HOST": target.url, "ERPLOAD_LOAD_PROFILE": str(profile), "ERPLOAD_THINK_TIME": "0.1,0.5"}
    try:
        master_pod = Pod(job, objs, tmp_path / "master", subst)
        assert master_pod.env["ERPLOAD_API_MAP"] == str(tmp_path / "master" / "config" / "api-map.yaml")
        assert master_pod.env["ERPLOAD_CREDENTIALS"] == str(
            tmp_path / "master" / "credentials" / "credentials.yaml"
        )
        master = master_pod.start("master", tmp_path, knobs)
        tcp_ready(port, 60)  # probes before any worker joined must not disturb the master
        tcp_ready(port, 5)
        scrape = wait_http(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)  # what Prometheus reads
        assert "erpload_run_active" in scrape.text, scrape.text[:500]
        workers = [
            Pod(dep, objs, tmp_path / f"worker{i}", subst).start(f"worker{i}", tmp_path, knobs)
            for i in range(dep["spec"]["replicas"])
        ]
        rc = master.wait(150)
        assert rc == 3, master.tail()  # the Job's pod exit code: CI reads it as the verdict
        for w in workers:
            assert w.wait(30) == 0, w.tail()
    finally:
        target.stop()
    s = load_summary(tmp_path / "master" / "reports")
    assert s["verdict"] == "fail" and s["exit_code"] == 3 and s["workers"] == 2
    assert s["total"]["count"] > 0 and s["total"]["failures"] == 0, s["errors"]
    assert (tmp_path / "master" / "reports" / "locust.html").is_file()
    for p in (master, *workers):
        assert "Traceback" not in p.output, p.name
        assert "erpload-demo" not in p.output, f"{p.name} logged a password"
