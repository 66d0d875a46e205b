"""Run history end to end: real Locust runs against the reference ERP record into --history, `erpload
history` lists them and renders the trend report (checked in Chromium, screenshot in docs/img), a
`--baseline history:main` pools them; a DB corrupted or locked mid-run costs no report; PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from erpload.report.history import open_history
from erpload.report.history_key import RunKey
from erpload.report.history_pool import baseline_from_history

from helpers import (
    PY,
    ROOT,
    Proc,
    chromium_page,
    free_port,
    load_summary,
    locust,
    request_count,
    write_profile,
)

pytestmark = pytest.mark.e2e

NOT_CI = ("GITLAB_CI", "JENKINS_URL", "JENKINS_HOME")


def ci(sha: str, branch: str, **extra: str) -> dict[str, str]:
    """The environment of a GitHub Actions job on `branch` at commit `sha`."""
    env = {"GITHUB_ACTIONS": "true", "GITHUB_SHA": sha, "GITHUB_REF_NAME": branch, "GITHUB_HEAD_REF": ""}
    return {**env, **{k: "" for k in NOT_CI}, **extra}


def start(
    tmp: Path, url: str, profile: Path, name: str, env: dict[str, str], *extra: str
) -> tuple[Proc, Path]:
    report_dir = tmp / f"{name}-reports"
    args = [
        "--headless",
        "--only-summary",
        "--load-profile",
        str(profile),
        "-H",
        url,
        "--report-dir",
        str(report_dir),
    ]
    return locust(*args, *extra, name=name, tmp=tmp, env=env), report_dir


def erpload(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "erpload.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_runs_recorded_listed_pooled_and_charted(target, tmp_path: Path) -> None:
    profile = write_profile(tmp_path, "e2e-history", 4)
    db = tmp_path / "history.db"
    # two runs finishing at once on main (two CI jobs): both rows land
    runs = [
        start(tmp_path, target.url, profile, f"main{i}", ci(f"{i}" * 40, "main"), "--history", str(db))
        for i in (1, 2)
    ]
    for proc, rep in runs:
        assert proc.wait(120) == 0, proc.tail()
        assert load_summary(rep)["exit_code"] == 0
        assert "recorded in the history" in proc.output and "Traceback" not in proc.output
    # a feature branch run gated on the last 2 passing runs of main, pooled
    proc, rep = start(
        tmp_path, target.url, profile, "feature", ci("f" * 40, "feature-x"),
        "--history", str(db), "--baseline", "history:main:2",
    )  # fmt: skip
    assert proc.wait(120) == 0, proc.tail()
    s = load_summary(rep)
    assert s["baseline"] is not None and not s["invalid"], (s["invalid"], s["notes"])
    pooled = baseline_from_history(str(db), "history:main:2", "e2e-history")
    mains = [load_summary(r) for _, r in runs]
    assert pooled["total"]["count"] == sum(m["total"]["count"] for m in mains)
    assert sorted(r["commit"] for r in pooled["history"]["runs"]) == ["1" * 40, "2" * 40]

    # a typo in the branch: exit 2 before any load, nothing recorded
    before = request_count(target.url)
    proc, _ = start(
        tmp_path,
        target.url,
        profile,
        "typo",
        ci("9" * 40, "main"),
        "--history",
        str(db),
        "--baseline",
        "history:mian",
    )
    assert proc.wait(60) == 2
    assert "no passing run (verdict pass, exit 0) of profile 'e2e-history' on branch 'mian'" in proc.output
    assert "Did you mean 'main'?" in proc.output and request_count(target.url) == before

    listed = erpload("history", str(db))
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:4] == ["run", "started", "(UTC)", "profile"] and "3 run(s) in" in lines[-1]
    ids = [ln.split()[0] for ln in lines[1:-1]]
    assert ids[0] == "#3" and sorted(ids[1:]) == ["#1", "#2"], listed.stdout  # newest first
    assert "feature-x" in lines[1] and all(" main " in ln for ln in lines[2:4]), listed.stdout
    only_main = erpload("history", str(db), "--branch", "main", "--profile", "e2e-history")
    assert (
        only_main.returncode == 0
        and "2 run(s) in" in only_main.stdout
        and "feature-x" not in only_main.stdout
    )

    report = tmp_path / "trend.html"
    out = erpload("history", str(db), "--report", str(report))
    assert out.returncode == 0 and report.is_file(), out.stderr
    with chromium_page(1200, 900) as page:
        page.goto(report.as_uri())
        section = page.locator('section.profile[data-profile="e2e-history"]')
        assert section.count() == 1
        assert page.locator("#runs-table tbody tr").count() == 3
        for chart in ("trend-p95", "trend-errors", "trend-rps"):
            box = section.locator(f"svg.{chart}").bounding_box()
            assert box is not None and box["width"] > 600 and box["height"] > 150, chart
            assert section.locator(f"svg.{chart} polyline.series").count() >= 1, chart
        # p95: every endpoint charted has a point per run (3 runs), with its tooltip
        assert section.locator("svg.trend-p95 circle.point").count() >= 3 * 2
        assert "run #1" in section.locator("svg.trend-p95 circle.point title").first.text_content()
        assert section.locator("svg.trend-rss").count() == 1
        shot = tmp_path / "history-trend.png"
        page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ROOT / "docs" / "img" / "history-trend.png")


LOCKER = (
    "import sqlite3, sys\n"
    "conn = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
    "conn.execute('BEGIN EXCLUSIVE')\n"
    "print('locked', flush=True)\n"
    "sys.stdin.readline()\n"
)


def test_history_broken_mid_run_costs_no_report(target, tmp_path: Path) -> None:
    """A DB corrupted, and one locked past the timeout, after the run started: the reports are written,
    the exit code is the verdict's, and the error says which DB, what and how to fix it."""
    profile = write_profile(tmp_path, "e2e-history-broken", 3)
    corrupt, locked = tmp_path / "corrupt.db", tmp_path / "locked.db"
    env = ci("c" * 40, "main", ERPLOAD_HISTORY_TIMEOUT="1")
    a, rep_a = start(tmp_path, target.url, profile, "corrupt", env, "--history", str(corrupt))
    b, rep_b = start(tmp_path, target.url, profile, "locked", env, "--history", str(locked))
    holder = None
    try:
        for p in (a, b):
            p.expect(r"Ramping to \d+ users", timeout=60)  # past the init checks: both DBs were fine then
        junk = b"not a database any more\n" * 100
        corrupt.write_bytes(junk)
        holder = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(locked)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert a.wait(120) == 0 and b.wait(120) == 0, a.tail() + b.tail()
    finally:
        if holder is not None:
            holder.kill()
            holder.wait(timeout=10)
    for proc, rep, what in (
        (a, rep_a, "is not an SQLite database or is corrupt"),
        (b, rep_b, "is locked by another process for more than 1s"),
    ):
        s = load_summary(rep)  # every report written
        assert (s["verdict"], s["exit_code"]) == ("pass", 0)
        assert what in proc.output and "The run was NOT recorded in the history" in proc.output, proc.tail()
        assert "Traceback" not in proc.output
    assert corrupt.read_bytes() == junk  # left as it was, for whoever looks at it
    with open_history(str(locked), create=False) as store:
        assert store.runs() == []  # the locked DB got nothing, and is intact


def test_corrupt_history_before_the_run_is_exit_2_nothing_sent(target, tmp_path: Path) -> None:
    profile = write_profile(tmp_path, "e2e-history-early", 3)
    db = tmp_path / "junk.db"
    db.write_bytes(b"\x00garbage" * 512)
    before = request_count(target.url)
    proc, rep = start(tmp_path, target.url, profile, "early", ci("e" * 40, "main"), "--history", str(db))
    assert proc.wait(60) == 2
    assert f"the history DB {db} is not valid" in proc.output and "Move the file aside" in proc.output
    assert request_count(target.url) == before and not (rep / "summary.json").exists()


# -- PostgreSQL: the same store for a team ----------------------------------------------------------


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    path = found[-1] if found else Path(shutil.which("postgres") or "postgres")
    assert path.exists(), "PostgreSQL server binaries not found (Debian package postgresql)"
    return path.parent


@pytest.fixture()
def postgres() -> Iterator[str]:
    """A throw-away PostgreSQL server on a free loopback port with a password login; its URL."""
    pg = _pg_bin()
    base = Path(tempfile.mkdtemp(prefix="erpload-pg-"))
    as_pg: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        shutil.chown(base, "postgres", "postgres")
        as_pg = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]
    pwfile = base / "pw"
    pwfile.write_text("s3cret-pw\n")
    if as_pg:
        shutil.chown(pwfile, "postgres", "postgres")
    init = [*as_pg, str(pg / "initdb"), "-D", str(base / "data"), "-U", "erpload", "--pwfile", str(pwfile)]
    subprocess.run(
        [*init, "--auth=scram-sha-256", "--no-sync", "-E", "UTF8"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    server = Proc(
        [
            *as_pg,
            str(pg / "postgres"),
            "-D",
            str(base / "data"),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(base),
            "-c",
            "fsync=off",
        ],
        name="postgres",
    )
    try:
        server.expect("ready to accept connections", timeout=60)
        yield f"postgresql://erpload:s3cret-pw@127.0.0.1:{port}/postgres"
    finally:
        server.stop(timeout=20)
        shutil.rmtree(base, ignore_errors=True)


WRITER = (
    "import json, sys\n"
    "from erpload.report.history import open_history\n"
    "from erpload.report.history_key import RunKey\n"
    "data = json.loads(sys.argv[2])\n"
    "print('ready', flush=True)\n"
    "sys.stdin.readline()\n"
    "for i in range(10):\n"
    "    with open_history(sys.argv[1], timeout=30) as store:\n"
    "        store.record(data, RunKey(sys.argv[3] + str(i), 'main', 'test'))\n"
)


def test_postgres_store(target, postgres: str, tmp_path: Path) -> None:
    profile = write_profile(tmp_path, "e2e-history-pg", 3)
    proc, rep = start(tmp_path, target.url, profile, "pg", ci("p" * 40, "main"), "--history", postgres)
    assert proc.wait(120) == 0, proc.tail()
    assert "s3cret-pw" not in proc.output and "erpload:***@127.0.0.1" in proc.output
    s = load_summary(rep)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, postgres, json.dumps(s), k],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in ("a", "b")
    ]  # two writers at once, on a schema that already exists
    for w in writers:
        assert w.stdout is not None and w.stdout.readline().strip() == "ready"
    for w in writers:
        assert w.stdin is not None
        w.stdin.write("go\n")
        w.stdin.flush()
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    with open_history(postgres, create=False) as store:
        rows = store.runs(profile="e2e-history-pg")
        assert len(rows) == 21 and rows[-1].commit == "p" * 40 and rows[-1].requests == s["total"]["count"]
        store.record({**s, "verdict": "fail", "exit_code": 3}, RunKey("x" * 40, "main", "test"))
    base = baseline_from_history(postgres, "history:main:3", "e2e-history-pg")
    assert base["total"]["count"] == 3 * s["total"]["count"] and len(base["history"]["runs"]) == 3
    listed = erpload("history", postgres, "--limit", "0")
    assert listed.returncode == 0 and "22 run(s) in postgresql://erpload:***@127.0.0.1" in listed.stdout
    assert "s3cret-pw" not in listed.stdout + listed.stderr
