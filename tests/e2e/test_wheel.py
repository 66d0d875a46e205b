"""The product as a user gets it: the wheel, built from this tree, installed into a fresh venv outside
the repository, and every `erpload` command run from an empty temporary directory.

The wheel must carry the role users, the profiles and the reference ERP (package data found with
importlib.resources). Runs are bounded: a short profile with fast think times against the wheel's own
reference ERP on a free loopback port. Dependencies come from the package index through a pip cache
kept in the system's temp directory, so later sessions install without downloading.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from helpers import FAST_THINK, PY, ROOT, Proc, copy_db, free_port, wait_http, write_profile

pytestmark = pytest.mark.e2e

PIP_CACHE = Path(tempfile.gettempdir()) / "erpload-test-pip-cache"  # reused across sessions
# What the installed commands must not inherit from the test process: the repo on sys.path, or an
# ERPLOAD_/LOCUST_ setting pointing back into the repo. Proc merges os.environ, so these are blanked.
BLANK = {
    k: "" for k in os.environ if k.startswith(("ERPLOAD_", "LOCUST_")) or k in ("PYTHONPATH", "VIRTUAL_ENV")
}

OWN_LOCUSTFILE = '''"""A team's own users: plain Locust, no erpload import (erpload run -f adds its harness)."""
from locust import FastHttpUser, between, task


class HealthWatcher(FastHttpUser):
    wait_time = between(0.05, 0.2)

    @task
    def health(self):
        self.client.get("/health")


class MetricsScraper(FastHttpUser):
    wait_time = between(0.2, 0.5)

    @task
    def metrics(self):
        self.client.get("/metrics")
'''
OWN_PROFILE = """name: own
description: erpload's profile machinery on a team's own user classes.
roles: {%s: 2, MetricsScraper: 1}
stages:
  - {name: ramp, duration: 2s, users: 3, spawn_rate: 3}
  - {name: hold, duration: 4s, users: 3}
sla:
  - p95 of "GET /health" < 1s
  - count of "GET /metrics" > 0
"""


@dataclass(frozen=True)
class Product:
    """The wheel, the tree it was built from, its venv and an empty working directory outside the repo."""

    wheel: Path
    tree: frozenset[str]  # the files under lib/ the wheel was built from (package-relative paths)
    venv: Path
    work: Path

    @property
    def erpload(self) -> str:
        return str(self.venv / "bin" / "erpload")

    def start(self, *args: str, name: str, env: dict[str, str] | None = None) -> Proc:
        return Proc(
            [self.erpload, *args], env={**BLANK, **(env or {})}, cwd=self.work, name=name, log_dir=self.work
        )

    def run(
        self, *args: str, name: str, timeout: float = 120, env: dict[str, str] | None = None
    ) -> tuple[int, str]:
        proc = self.start(*args, name=name, env=env)
        return proc.wait(timeout), proc.output


def _pip(python: str | Path, *args: str, timeout: float = 600) -> None:
    out = subprocess.run(
        [str(python), "-m", "pip", *args, "--cache-dir", str(PIP_CACHE), "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tempfile.gettempdir(),
        check=False,
    )
    assert out.returncode == 0, f"pip {' '.join(args)}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Product:
    """Build the wheel from a copy of this tree, install it into a fresh venv."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "lib", src / "lib", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    lib = src / "lib"
    tree = frozenset(p.relative_to(lib).as_posix() for p in lib.rglob("*") if p.is_file())
    _pip(PY, "wheel", "--no-deps", "-w", str(tmp / "dist"), str(src))
    (wheel,) = (tmp / "dist").glob("erpload-*.whl")
    venv = tmp / "venv"
    subprocess.run([PY, "-m", "venv", str(venv)], check=True, timeout=120, capture_output=True)
    _pip(venv / "bin" / "python", "install", str(wheel))
    work = tmp / "work"
    work.mkdir()
    return Product(wheel, tree, venv, work)


@pytest.fixture(scope="module")
def erp(product: Product, seeded_erp_db: Path):
    """The wheel's reference ERP (`erpload target`) on a free loopback port, on a copy of the seeded db."""
    proc = product.start(
        "target", "--port", "0", "--db", str(copy_db(seeded_erp_db, product.work)), name="erp"
    )
    url = proc.expect(r"listening on (http://127\.0\.0\.1:\d+)", timeout=90).group(1)
    wait_http(url + "/health", timeout=30)
    yield url
    proc.stop()


def test_the_wheel_ships_every_file_of_the_packages(product: Product) -> None:
    """Role users, profiles, API maps, schemas, templates and the reference ERP: all of lib/ is in it."""
    with zipfile.ZipFile(product.wheel) as wheel:
        shipped = set(wheel.namelist())
    assert {
        "erpload/roles/harness.py",
        "erpload/profiles/smoke.yaml",
        "erp_target/__main__.py",
    } <= product.tree
    assert sorted(product.tree - shipped) == []


def test_the_installed_package_is_not_the_repository(product: Product) -> None:
    out = subprocess.run(
        [
            str(product.venv / "bin" / "python"),
            "-c",
            "import erpload, erp_target; print(erpload.__file__, erp_target.__file__)",
        ],
        capture_output=True,
        text=True,
        cwd=product.work,
        env={**os.environ, **BLANK},
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert all(p.startswith(str(product.venv)) for p in out.stdout.split()), out.stdout


def test_help_lists_erpload_options(product: Product) -> None:
    rc, out = product.run("run", "--help", name="run-help")
    assert rc == 0, out
    assert "erpload options:" in out and "--target-pid" in out and "[env: ERPLOAD_TARGET_PID]" in out
    rc, out = product.run("--help", name="help")
    assert rc == 0 and "report" not in out.split("{")[1].split("}")[0], out


def test_validate_shipped_and_missing_profiles(product: Product) -> None:
    rc, out = product.run("validate", "smoke", "peak-200", name="validate")
    assert rc == 0, out
    assert f"OK {product.venv}" in out and "erpload/profiles/smoke.yaml" in out
    rc, out = product.run("validate", "smok", name="validate-typo")
    assert rc == 2, out
    assert "profile 'smok': no profile of that name in" in out and "Did you mean 'smoke'?" in out


def test_missing_locustfile_or_profile_is_exit_2_with_the_fix(product: Product, erp: str) -> None:
    rc, out = product.run("run", "nothere", "-H", erp, "-f", "mine.py", name="run-missing")
    assert rc == 2, out
    assert f"-f mine.py: no such file or directory (looked in {product.work})" in out
    assert "leave -f out to run the shipped role users" in out and "profile 'nothere'" in out
    assert "Traceback" not in out


def test_demo_watches_the_target_it_started(product: Product) -> None:
    profile = write_profile(product.work, "demo-short", 8)
    rep = product.work / "demo-reports"
    rc, out = product.run(
        "demo", "--profile", str(profile), "--report-dir", str(rep), name="demo", timeout=240, env=FAST_THINK
    )
    assert rc == 0, out[-3000:]
    summary = json.loads((rep / "summary.json").read_text())
    assert summary["verdict"] == "pass"
    assert "== verdict: PASS == (think time 0.1,0.5 s for every role, ERPLOAD_THINK_TIME)" in out
    procs = {p["key"]: p for p in summary["resources"]["processes"]}
    target = procs["target"]
    assert target.get("available", True) and target["samples"] >= 5, target
    assert target["rss_peak_mb"] > 10 and target["cpu_max_percent"] > 0, target
    leaks = {leak["key"]: leak for leak in summary["resources"]["leaks"]}
    assert leaks["target"]["verdict"].startswith(("no leak", "leak", "inconclusive")), leaks  # a verdict
    assert "target (" in (rep / "report.html").read_text()
    assert "Traceback" not in out


def test_run_a_profile_and_the_shipped_smoke(product: Product, erp: str) -> None:
    profile = write_profile(product.work, "run-short", 6)
    rep = product.work / "run-reports"
    rc, out = product.run(
        "run", str(profile), "-H", erp, "--report-dir", str(rep), name="run", env=FAST_THINK
    )
    assert rc == 0, out[-3000:]
    assert json.loads((rep / "summary.json").read_text())["verdict"] == "pass"

    # the shipped smoke by name: started, then interrupted once its first stage runs (it lasts 1 min)
    smoke = product.work / "smoke-reports"
    proc = product.start(
        "run", "smoke", "-H", erp, "--report-dir", str(smoke), name="run-smoke", env=FAST_THINK
    )
    proc.expect(r"stage 1/2 'ramp-up'", timeout=90)
    proc.signal(signal.SIGINT)
    assert proc.wait(90) == 5, proc.tail()
    summary = json.loads((smoke / "summary.json").read_text())
    assert (summary["profile"]["name"], summary["verdict"]) == ("smoke", "aborted")


def _own_files(work: Path) -> tuple[Path, Path, Path]:
    locustfile = work / "my_locustfile.py"
    locustfile.write_text(OWN_LOCUSTFILE)
    good, typo = work / "own.yaml", work / "own-typo.yaml"
    good.write_text(OWN_PROFILE % "HealthWatcher")
    typo.write_text(OWN_PROFILE % "HealthWatchr")
    return locustfile, good, typo


def test_own_locustfile_validates_and_runs(product: Product, erp: str) -> None:
    _own_files(product.work)
    rc, out = product.run("validate", "-f", "my_locustfile.py", "own.yaml", name="validate-own")
    assert rc == 0 and "OK own.yaml" in out, out
    rc, out = product.run("validate", "-f", "my_locustfile.py", "own-typo.yaml", name="validate-own-typo")
    assert rc == 2, out
    assert "unknown role 'HealthWatchr'. Did you mean 'HealthWatcher'?" in out
    rc, out = product.run(
        "run", "own.yaml", "-f", "my_locustfile.py", "-H", erp, "--report-dir", "own-reports", name="run-own"
    )
    assert rc == 0, out[-3000:]
    summary = json.loads((product.work / "own-reports" / "summary.json").read_text())
    assert summary["verdict"] == "pass" and summary["profile"]["name"] == "own"
    assert {r["name"] for r in summary["roles"]} == {"HealthWatcher", "MetricsScraper"}


@pytest.mark.parametrize(
    ("profile", "own"), [("smoke", False), ("own.yaml", True)], ids=["shipped", "own-locustfile"]
)
def test_ui_serves_and_stops(product: Product, erp: str, profile: str, own: bool) -> None:
    _own_files(product.work)
    port = free_port()
    extra = ["-f", "my_locustfile.py"] if own else []
    proc = product.start("ui", profile, "-H", erp, "--web-port", str(port), *extra, name=f"ui-{profile}")
    page = wait_http(f"http://127.0.0.1:{port}/", timeout=90).text
    assert "load_profile" in page, page[:2000]  # erpload's option in the start form
    assert f"{profile}" in page
    report = requests.get(f"http://127.0.0.1:{port}/erpload/report.html", timeout=10)
    assert report.status_code == 200, report.text[:500]
    # SIGTERM, as a service manager stops it. (Ctrl+C on a web UI is Locust's own handling: its
    # KeyboardInterrupt can land in a greenlet still writing a response and print a gevent traceback.)
    proc.signal(signal.SIGTERM)
    assert proc.wait(60) == 0, proc.tail()  # nothing ran: nothing to abort
    assert "Traceback" not in proc.output
