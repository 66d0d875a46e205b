"""Security defaults end to end: TLS verified unless opted out, no password or token in any log or artifact,
and profiles parsed with safe YAML only."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from helpers import PY, Cluster, Proc, Target, load_summary, locust, write_profile

pytestmark = pytest.mark.e2e

JWT_RX = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
SEEDED = {
    "admin": ("admin", 2),
    "ppic": ("ppic", 2),
    "cutting": ("cutting", 3),
    "sewing": ("sewing", 3),
    "finishing": ("finishing", 3),
    "qc": ("qc", 2),
    "warehouse": ("warehouse", 2),
}

TLS_PROXY = r'''
"""TLS-terminating TCP proxy for one test: 127.0.0.1:0 (self-signed cert) -> the plain reference ERP."""
import socket, ssl, sys, threading

cert, key, upstream_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(64)
print(f"listening on https://127.0.0.1:{srv.getsockname()[1]}", flush=True)

def pipe(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

def serve(raw):
    try:
        tls = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError):
        raw.close()  # the client rejected our certificate: exactly what the verified run must do
        return
    up = socket.create_connection(("127.0.0.1", upstream_port))
    threading.Thread(target=pipe, args=(up, tls), daemon=True).start()
    pipe(tls, up)

while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
'''


@pytest.fixture(scope="module")
def tls_url(target: Target, tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    (tmp / "proxy.py").write_text(TLS_PROXY)
    proxy = Proc(
        [PY, str(tmp / "proxy.py"), str(cert), str(key), str(target.port)], name="tls-proxy", log_dir=tmp
    )
    url = proxy.expect(r"listening on (https://\S+)", timeout=30).group(1)
    yield url
    proxy.stop()


@pytest.mark.parametrize("insecure", [False, True], ids=["verified-by-default", "ERPLOAD_INSECURE_TLS=1"])
def test_tls_to_the_target_is_verified_unless_opted_out(tls_url: str, tmp_path: Path, insecure: bool):
    profile = tmp_path / "tls.yaml"
    profile.write_text(
        "name: tls\ndescription: TLS check.\nroles: {Admin: 1, QcInspector: 1}\n"
        "stages:\n  - {name: run, duration: 5s, users: 2, spawn_rate: 2}\nsla:\n  - error_rate < 1%\n"
    )
    rep = tmp_path / "reports"
    proc = locust(
        "--headless",
        "--only-summary",
        "--load-profile",
        str(profile),
        "-H",
        tls_url,
        "--report-dir",
        str(rep),
        name="locust",
        tmp=tmp_path,
        env={"ERPLOAD_INSECURE_TLS": "1" if insecure else ""},
    )
    rc = proc.wait(90)
    s = load_summary(rep)
    logins = {(r["method"], r["name"]): r for r in s["requests"]}[("POST", "/auth/login")]
    if insecure:
        assert rc == 0, proc.tail()
        assert logins["failures"] == 0 and s["total"]["count"] > logins["count"]
    else:
        assert rc == 3, proc.tail()
        assert logins["failures"] == logins["count"] > 0, logins
        assert "certificate_verify_failed" in json.dumps(s["errors"]).lower(), s["errors"]
    assert "Traceback" not in proc.output


def test_canary_password_and_tokens_appear_in_no_log_or_artifact(tmp_path: Path):
    canary = f'can"ary\\{uuid.uuid4().hex}'  # a quote and a backslash: JSON escapes both
    creds = tmp_path / "secrets" / "credentials.json"
    creds.parent.mkdir()
    creds.write_text(
        json.dumps(
            {
                role: [{"username": f"{prefix}{i:0{digits}d}", "password": canary} for i in range(1, 4)]
                for role, (prefix, digits) in SEEDED.items()
            }
        )
    )
    target = Target(tmp_path, "--seed-password", canary, "--access-log", name="target")
    try:
        token = target.login("admin01", canary)
        env = {"ERPLOAD_CREDENTIALS": str(creds)}
        html, csv = tmp_path / "out" / "locust.html", tmp_path / "out" / "csv" / "run"
        c = Cluster(
            tmp_path,
            target.url,
            write_profile(tmp_path, "canary", 8),
            2,
            "--html",
            str(html),
            "--csv",
            str(csv),
            "--loglevel",
            "DEBUG",
            env=env,
        )
        rc = c.master.wait(120)
        for w in c.workers:
            w.wait(30)
    finally:
        target.stop()
    assert rc == 0, c.master.tail()
    s = load_summary(c.report_dir)
    assert s["workers"] == 2 and s["total"]["count"] > 0 and s["total"]["failures"] == 0
    assert html.is_file() and (csv.parent / "run_stats.csv").is_file()
    files = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and p != creds and p.suffix not in (".db", ".db-wal", ".db-shm")
    ]
    logs = [p for p in files if p.suffix == ".log"]
    assert {p.stem for p in logs} >= {"target", "master", "worker0", "worker1"}, logs
    assert len(files) >= len(logs) + 7, (
        files
    )  # summary.json, junit.xml, summary.md, report.html, html, csv...
    for p in files:
        data = p.read_bytes()
        for form in (canary, json.dumps(canary)[1:-1], canary.split("\\")[1]):
            assert form.encode() not in data, f"the canary password leaked into {p}"
        assert token.encode() not in data, f"an issued token leaked into {p}"
        assert not JWT_RX.search(data), f"a JWT leaked into {p}: {JWT_RX.search(data)}"


def test_profiles_are_loaded_with_safe_yaml_only(tmp_path: Path, target: Target):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.yaml"
    evil.write_text(
        f"name: !!python/object/apply:os.system ['touch {marker}']\ndescription: x\nroles: {{Admin: 1}}\n"
        "stages:\n  - {duration: 2s, users: 1}\n"
    )
    validate = Proc([PY, "-m", "erpload.cli", "validate", str(evil)], name="validate", log_dir=tmp_path)
    assert validate.wait(60) == 2, validate.output
    run = locust("--headless", "--load-profile", str(evil), "-H", target.url, name="locust", tmp=tmp_path)
    assert run.wait(60) == 2, run.output
    assert not marker.exists(), "a YAML tag executed code"
    for p in (validate, run):
        assert "python/object" in p.output and "Traceback" not in p.output, p.output
