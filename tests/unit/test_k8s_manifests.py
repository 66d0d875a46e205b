"""deploy/k8s: every object, rendered from kustomization.yaml (helpers.render_kustomization: resources,
configMapGenerator, namespace, images), validates offline against the Kubernetes OpenAPI schema of a pinned
version (kubernetes-validate, strict: unknown fields fail), and the objects fit together."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import kubernetes_validate
import pytest
import yaml

from erpload.api import load_api_map
from erpload.profile.load import load_profile
from erpload.users.credentials import parse_accounts

from helpers import K8S, k8s_object, render_kustomization

K8S_VERSION = (
    "1.31.0"  # pinned: the schema the manifests are checked against (kubernetes-validate bundles it)
)
KB_PER_USER = 23.6  # docs/performance.md: memory per logged-in user holding a connection
BASE_MB = 55  # docs/performance.md: a Locust process after erpload's import, before users
USERS_PER_WORKER = 2000  # docs/distributed.md's sizing table


@pytest.fixture(scope="module")
def objs() -> list[dict[str, Any]]:
    return render_kustomization()


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj["spec"]["template"]["spec"] if "template" in obj.get("spec", {}) else obj["spec"]
    return spec["containers"]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"] if "template" in obj.get("spec", {}) else obj["spec"]


def reader() -> dict[str, Any]:
    return yaml.safe_load((K8S / "reports-reader.yaml").read_text())


def test_every_object_validates_against_the_pinned_schema(objs: list[dict[str, Any]]):
    kinds = sorted(o["kind"] for o in objs)
    assert kinds == sorted(
        ["Namespace", "Secret", "PersistentVolumeClaim", "Service", "Job", "Deployment", "NetworkPolicy"]
        + ["ConfigMap", "ConfigMap", "NetworkPolicy"]
    )
    for obj in [*objs, reader()]:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)  # raises ValidationError naming the field
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "erpload", obj["metadata"]["name"]


def test_the_validator_rejects_what_kubernetes_rejects(objs: list[dict[str, Any]]):
    """A wrong type and an unknown field fail: the check above can fail."""
    job = yaml.safe_load(yaml.safe_dump(k8s_object(objs, "Job", "erpload-master")))
    job["spec"]["backoffLimit"] = "zero"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)
    dep = yaml.safe_load(yaml.safe_dump(k8s_object(objs, "Deployment", "erpload-worker")))
    dep["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    dep["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, K8S_VERSION, strict=True)


def test_master_is_a_job_whose_exit_code_is_the_verdict(objs: list[dict[str, Any]]):
    job = k8s_object(objs, "Job", "erpload-master")
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] > 0
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    (c,) = spec["containers"]
    argv = c["command"] + c["args"]
    assert argv[:2] == ["locust", "-f"] and "--headless" in argv and "--master" in argv
    assert argv[argv.index("--report-dir") + 1] == "/reports"
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    claim = volumes[mounts["/reports"]]["persistentVolumeClaim"]["claimName"]
    k8s_object(objs, "PersistentVolumeClaim", claim)
    assert spec["securityContext"]["fsGroup"] == 10001  # the image's uid can write the volume
    probe = c["readinessProbe"]
    assert probe == {"tcpSocket": {"port": 5557}, "periodSeconds": 5}, "headless: no web UI to probe"
    # the reports reader mounts the same claim, with the same image as the Job after `images:`
    r = reader()
    assert r["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim
    assert r["spec"]["containers"][0]["image"] == c["image"] and r["spec"]["restartPolicy"] == "Never"


def test_workers_reach_the_master_service_and_only_they(objs: list[dict[str, Any]]):
    job, dep = k8s_object(objs, "Job", "erpload-master"), k8s_object(objs, "Deployment", "erpload-worker")
    svc = k8s_object(objs, "Service", "erpload-master")
    master_labels = job["spec"]["template"]["metadata"]["labels"]
    worker_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= master_labels.items()
    assert not svc["spec"]["selector"].items() <= worker_labels.items()
    assert [p["port"] for p in svc["spec"]["ports"]] == [5557], "headless master: 5557 only, no 8089"
    (m,) = containers(job)
    (w,) = containers(dep)
    margv, wargv = m["command"] + m["args"], w["command"] + w["args"]
    assert wargv[wargv.index("--master-host") + 1] == svc["metadata"]["name"]
    assert wargv[wargv.index("--master-port") + 1] == margv[margv.index("--master-bind-port") + 1] == "5557"
    assert int(margv[margv.index("--expect-workers") + 1]) == dep["spec"]["replicas"]
    assert "readinessProbe" not in w and "livenessProbe" not in w, "a worker serves nothing to probe"
    assert dep["spec"]["selector"]["matchLabels"].items() <= worker_labels.items()
    pol = k8s_object(objs, "NetworkPolicy", "erpload-master-5557")["spec"]
    assert pol["podSelector"]["matchLabels"].items() <= master_labels.items()
    assert pol["policyTypes"] == ["Ingress"]
    (rule,) = pol["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 5557}]
    (peer,) = rule["from"]
    assert set(peer) == {"podSelector"}, "no namespaceSelector / ipBlock: this namespace's workers only"
    assert peer["podSelector"]["matchLabels"].items() <= worker_labels.items()
    assert not peer["podSelector"]["matchLabels"].items() <= master_labels.items()


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, f"matchExpressions are not evaluated here: {selector}"
    return selector.get("matchLabels", {}).items() <= labels.items()


def admitted(
    objs: list[dict[str, Any]], to: dict[str, str], port: int, pod: dict[str, str], ns: dict[str, str]
) -> bool:
    """NetworkPolicy ingress as Kubernetes decides it: may a pod (`pod` labels, in a namespace with `ns`
    labels) reach port `port` of a pod labelled `to` in namespace erpload? Policies add up; a pod that
    no policy selects takes everything; a peer's namespaceSelector and podSelector must both match."""
    policies = [
        o["spec"] for o in objs if o["kind"] == "NetworkPolicy" and _selects(o["spec"]["podSelector"], to)
    ]
    if not policies:
        return True
    for pol in policies:
        assert "Ingress" in pol["policyTypes"] and set(pol) <= {"podSelector", "policyTypes", "ingress"}
        for rule in pol.get("ingress", []):
            ports = rule.get("ports")
            if ports is not None and not any(
                p.get("protocol", "TCP") == "TCP" and p["port"] == port for p in ports
            ):
                continue
            for peer in rule.get("from", []):
                assert set(peer) <= {"podSelector", "namespaceSelector"}, f"no ipBlock expected: {peer}"
                if "namespaceSelector" in peer:
                    ns_ok = _selects(peer["namespaceSelector"], ns)
                else:
                    ns_ok = ns.get("kubernetes.io/metadata.name") == "erpload"  # the policy's own namespace
                if ns_ok and _selects(peer.get("podSelector", {}), pod):
                    return True
    return False


def test_prometheus_reaches_the_master_metrics_port_per_the_policy_and_nothing_else_does(
    objs: list[dict[str, Any]],
):
    job, dep = k8s_object(objs, "Job", "erpload-master"), k8s_object(objs, "Deployment", "erpload-worker")
    (m,) = containers(job)
    argv = m["command"] + m["args"]
    port = int(argv[argv.index("--metrics-port") + 1])  # the port the master serves /metrics on
    assert argv[argv.index("--metrics-host") + 1] == "0.0.0.0", "reachable from outside the pod"
    assert {"name": "metrics", "containerPort": port} in m["ports"]
    template = job["spec"]["template"]["metadata"]
    assert template["annotations"]["prometheus.io/port"] == str(port)
    master, worker = template["labels"], dep["spec"]["template"]["metadata"]["labels"]
    monitoring = {"kubernetes.io/metadata.name": "monitoring", "erpload.io/scrape-metrics": "true"}
    unlabelled = {"kubernetes.io/metadata.name": "monitoring"}
    own = {"kubernetes.io/metadata.name": "erpload"}
    prometheus = {"app.kubernetes.io/name": "prometheus", "app.kubernetes.io/instance": "kube-prometheus"}
    grafana = {"app.kubernetes.io/name": "grafana"}
    assert admitted(objs, master, port, prometheus, monitoring), "Prometheus in a labelled namespace scrapes"
    assert not admitted(objs, master, 5557, prometheus, monitoring), "...and reaches nothing else"
    assert not admitted(objs, master, port, prometheus, unlabelled), "a namespace must opt in by label"
    assert not admitted(objs, master, port, grafana, monitoring), "only Prometheus pods of that namespace"
    assert not admitted(objs, master, port, prometheus, own), "not a pod merely named prometheus in erpload"
    assert not admitted(objs, master, port, worker, own), "workers need 5557 only"
    assert admitted(objs, master, 5557, worker, own) and not admitted(objs, master, 5557, grafana, own)
    docs = (K8S.parents[1] / "docs" / "observability.md").read_text()
    assert "erpload.io/scrape-metrics=true" in docs and "NetworkPolicy/erpload-master-metrics" in docs


def test_config_and_credentials_are_mounted_files(objs: list[dict[str, Any]]):
    config = k8s_object(objs, "ConfigMap", "erpload-config")["data"]
    settings = k8s_object(objs, "ConfigMap", "erpload-settings")["data"]
    assert set(config) == {"profile.yaml", "api-map.yaml"}
    assert load_profile(K8S / "config" / "profile.yaml").name == "peak-200"
    assert load_api_map(str(K8S / "config" / "api-map.yaml")).name
    assert settings["ERPLOAD_LOAD_PROFILE"] == "/config/profile.yaml"
    assert settings["ERPLOAD_API_MAP"] == "/config/api-map.yaml"
    assert {"LOCUST_HOST", "ERPLOAD_THINK_TIME", "ERPLOAD_INSECURE_TLS", "ERPLOAD_REQUEST_TIMEOUT"} <= set(
        settings
    )
    assert not any("PASSWORD" in k or "CREDENTIAL" in k for k in settings), "no passwords in the environment"
    secret = k8s_object(objs, "Secret", "erpload-credentials")
    accounts = parse_accounts(yaml.safe_load(secret["stringData"]["credentials.yaml"]), "secret example")
    assert all(c.username == "REPLACE-ME" for creds in accounts.values() for c in creds), "placeholders only"
    for obj in (k8s_object(objs, "Job", "erpload-master"), k8s_object(objs, "Deployment", "erpload-worker")):
        spec = pod_spec(obj)
        (c,) = spec["containers"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in c["volumeMounts"]}
        assert mounts["/config"]["configMap"]["name"] == "erpload-config"
        env = {e["name"]: e["value"] for e in c["env"]}
        assert set(env) == {"ERPLOAD_CREDENTIALS"}
        secret_dir, _, key = env["ERPLOAD_CREDENTIALS"].rpartition("/")
        assert (
            mounts[secret_dir]["secret"]["secretName"] == "erpload-credentials" and key == "credentials.yaml"
        )
        assert c["envFrom"] == [{"configMapRef": {"name": "erpload-settings"}}]
        assert (
            spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] == 10001
        )


def test_resources_are_sized_from_the_bench(objs: list[dict[str, Any]]):
    def mib(q: str) -> float:
        return float(q.removesuffix("Mi"))

    for obj in [*objs, reader()]:
        if obj["kind"] in ("Job", "Deployment", "Pod"):
            for c in containers(obj):
                assert {"cpu", "memory"} <= set(c["resources"]["requests"]) <= set(c["resources"]["limits"])
    (w,) = containers(k8s_object(objs, "Deployment", "erpload-worker"))
    need_mib = (BASE_MB * 1e6 + USERS_PER_WORKER * KB_PER_USER * 1e3) / 2**20
    assert mib(w["resources"]["requests"]["memory"]) >= 2 * need_mib, "room for bodies in flight"
    assert w["resources"]["limits"]["cpu"] == "1", "one Locust process uses at most one core"
    docs = (K8S.parents[1] / "docs" / "distributed.md").read_text()
    assert f"{USERS_PER_WORKER:,} users per worker pod" in docs and "23.6 KB" in docs


def test_kustomization_lists_every_manifest():
    kust = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "reports-reader.yaml"}
    assert set(kust["resources"]) == files, "a manifest kubectl apply -k would skip"
    text = (K8S / "reports-reader.yaml").read_text()
    assert "kubectl -n erpload cp erpload-reports-reader:/reports ./reports" in text
    docs = (K8S.parents[1] / "docs" / "distributed.md").read_text()
    assert (
        "kubectl apply -k deploy/k8s" in docs
        and "kubectl -n erpload apply -f deploy/k8s/reports-reader.yaml" in docs
    )


def test_render_matches_kubectl_kustomize(objs: list[dict[str, Any]]):
    """The offline renderer is what `kubectl kustomize` (kustomize v5) produces, object for object."""
    exe = shutil.which("kubectl")
    assert exe, (
        "kubectl is missing: it cross-checks helpers.render_kustomization (google-cloud-sdk or dl.k8s.io)"
    )
    r = subprocess.run([exe, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr

    def key(o: dict[str, Any]) -> tuple[str, str]:
        return o["kind"], o["metadata"]["name"]

    theirs = sorted((d for d in yaml.safe_load_all(r.stdout) if d), key=key)
    assert theirs == sorted(objs, key=key)
