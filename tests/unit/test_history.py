"""Run history: the store (SQLite), CI keys, history baselines pooled, concurrent writers, broken DBs, trend page."""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from erpload.cli.history import add_parser, cmd_history
from erpload.core.errors import ConfigError, ExitCode
from erpload.core.histogram import Histogram, bucket_bound
from erpload.report.history import open_history
from erpload.report.history_db import display_name, timeout_from_env
from erpload.report.history_html import render_trend
from erpload.report.history_key import RunKey, detect_key, target_rss_slope
from erpload.report.history_pool import (
    baseline_from_history,
    baseline_runs,
    check_baseline,
    parse_spec,
    pool,
    resolve_baseline,
)
from erpload.report.model import PERCENTILES
from erpload.report.summary_check import summary_problems

LIB = Path(__file__).resolve().parents[2] / "lib"


def endpoint(method: str, name: str, samples: list[float], failures: int = 0, secs: float = 10.0) -> dict:
    """A summary.json endpoint row built the way the plugin builds it (fine histogram)."""
    h = Histogram.from_samples(samples)
    row: dict[str, Any] = {"method": method, "name": name, "count": h.count, "failures": failures}
    row.update(rps=round(h.count / secs, 3), avg=sum(samples) / len(samples), min=h.min, max=h.max)
    row.update({k: h.percentile(p) for k, p in PERCENTILES.items()}, histogram=h.to_dict())
    return row


def summary(
    profile: str = "smoke",
    verdict: str = "pass",
    exit_code: int = 0,
    started: str = "2026-01-01T00:00:00Z",
    seed: int = 1,
    secs: float = 10.0,
    slope: float | None = None,
) -> dict:
    rng = random.Random(seed)
    a = [rng.lognormvariate(3, 0.3) for _ in range(200)]
    b = [rng.lognormvariate(4, 0.3) for _ in range(50)]
    out: dict[str, Any] = {
        "schema_version": 1,
        "verdict": verdict,
        "exit_code": exit_code,
        "profile": {"name": profile, "file": f"{profile}.yaml", "description": ""},
        "started_at": started,
        "ended_at": started,
        "duration_s": secs,
        "host": "http://127.0.0.1:8080",
        "requests": [endpoint("GET", "/dashboard", a, 2, secs), endpoint("POST", "/auth/login", b, 0, secs)],
        "total": {**endpoint("", "Aggregated", a + b, 2, secs), "method": ""},
    }
    if slope is not None:
        out["resources"] = {
            "leaks": [
                {"key": "master", "slope_mb_per_min": 9.0},
                {"key": "target", "slope_mb_per_min": slope},
            ]
        }
    return out


MAIN = RunKey("c0ffee" * 6 + "abcd", "main", "github-actions")


def record(db: Path, *items: tuple[dict, RunKey]) -> list[int]:
    with open_history(str(db)) as store:
        return [store.record(s, k) for s, k in items]


# -- the store ------------------------------------------------------------------------------------


def test_record_and_read_back(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "history.db"  # the directory is created
    s = summary(slope=1.25)
    (run_id,) = record(db, (s, MAIN))
    with open_history(str(db), create=False) as store:
        (row,) = store.runs()
        eps = {e.label: e for e in store.endpoints([run_id])[run_id]}
        stored = store.summary(run_id)
    assert (row.id, row.profile, row.branch, row.commit, row.source) == (
        run_id,
        "smoke",
        "main",
        MAIN.commit,
        "github-actions",
    )
    assert (row.host, row.started_at, row.verdict, row.exit_code) == (
        "http://127.0.0.1:8080",
        s["started_at"],
        "pass",
        0,
    )
    assert row.rss_slope_mb_per_min == 1.25  # the target's, not the master's
    assert row.requests == 250 and row.failures == 2 and row.error_rate == pytest.approx(2 / 250)
    assert set(eps) == {"GET /dashboard", "POST /auth/login", "Aggregated"}
    d = eps["GET /dashboard"]
    assert (d.count, d.failures, d.p50, d.p95, d.p99) == (
        200,
        2,
        s["requests"][0]["p50"],
        s["requests"][0]["p95"],
        s["requests"][0]["p99"],
    )
    assert d.error_rate == pytest.approx(0.01) and d.rps == s["requests"][0]["rps"]
    assert stored == s  # the full summary.json


def test_runs_filters_order_and_limit(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    feature = RunKey("f" * 40, "feature/x", "gitlab-ci")
    ids = record(
        db,
        (summary(started="2026-01-01T00:00:00Z"), MAIN),
        (summary(started="2026-01-03T00:00:00Z"), feature),
        (summary(profile="peak", started="2026-01-02T00:00:00Z"), MAIN),
    )
    with open_history(str(db), create=False) as store:
        assert [r.id for r in store.runs()] == [ids[1], ids[2], ids[0]]  # newest first
        assert [r.id for r in store.runs(profile="smoke")] == [ids[1], ids[0]]
        assert [r.id for r in store.runs(branch="main")] == [ids[2], ids[0]]
        assert [r.id for r in store.runs(limit=1)] == [ids[1]]
        assert store.distinct("branch", profile="smoke") == ["feature/x", "main"]


def test_reading_a_missing_or_foreign_db_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        open_history(str(tmp_path / "nope.db"), create=False)
    assert "no such file" in e.value.render() and not (tmp_path / "nope.db").exists()  # reading never creates
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(ConfigError) as e:
        open_history(str(other), create=False)
    assert "holds no erpload run history" in e.value.render()
    with pytest.raises(ConfigError) as e:
        open_history(str(tmp_path), create=True)
    assert "is a directory" in e.value.render()
    with pytest.raises(ConfigError) as e:
        open_history("mysql://u:pw@h/db")
    assert "unknown URL scheme 'mysql'" in e.value.render() and "pw" not in e.value.render()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    record(db)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE erpload_meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    for create in (True, False):
        with pytest.raises(ConfigError) as e:
            open_history(str(db), create=create)
        assert "newer erpload (history schema 99; this one reads 1)" in e.value.render()


def test_password_never_shown_and_timeout_setting() -> None:
    assert display_name("postgresql://perf:s3cret@db:5432/erp") == "postgresql://perf:***@db:5432/erp"
    assert display_name("history.db") == "history.db"
    assert timeout_from_env({}) == 30.0 and timeout_from_env({"ERPLOAD_HISTORY_TIMEOUT": "2m"}) == 120.0
    with pytest.raises(ConfigError) as e:
        timeout_from_env({"ERPLOAD_HISTORY_TIMEOUT": "soon"})
    assert e.value.exit_code == ExitCode.CONFIG_INVALID and "ERPLOAD_HISTORY_TIMEOUT" in e.value.render()
    assert "'soon'" in e.value.render()


# -- which code a run measured ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"GITHUB_ACTIONS": "true", "GITHUB_SHA": "a1", "GITHUB_REF_NAME": "main", "GITHUB_HEAD_REF": ""},
            ("a1", "main", "github-actions"),
        ),
        (
            {
                "GITHUB_ACTIONS": "true",
                "GITHUB_SHA": "a2",
                "GITHUB_REF_NAME": "7/merge",
                "GITHUB_HEAD_REF": "fix-x",
            },
            ("a2", "fix-x", "github-actions"),
        ),
        (
            {"GITLAB_CI": "true", "CI_COMMIT_SHA": "b1", "CI_COMMIT_REF_NAME": "release/2"},
            ("b1", "release/2", "gitlab-ci"),
        ),
        (
            {"JENKINS_URL": "http://ci/", "GIT_COMMIT": "c1", "GIT_BRANCH": "origin/main"},
            ("c1", "main", "jenkins"),
        ),
        (
            {
                "JENKINS_URL": "http://ci/",
                "GIT_COMMIT": "c2",
                "GIT_BRANCH": "origin/x",
                "BRANCH_NAME": "PR-4",
            },
            ("c2", "PR-4", "jenkins"),
        ),
    ],
)
def test_ci_environments(env: dict[str, str], expected: tuple[str, str, str], tmp_path: Path) -> None:
    key = detect_key(env, cwd=tmp_path)  # tmp_path is no git repository: only the environment speaks
    assert (key.commit, key.branch, key.source) == expected


def test_git_fallback_and_unknown(tmp_path: Path) -> None:
    assert detect_key({}, cwd=tmp_path) == RunKey("unknown", "unknown", "unknown")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-C", str(tmp_path)]
    subprocess.run([*git, "init", "-q", "-b", "trunk"], check=True, timeout=30)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True, timeout=30)
    sha = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    assert detect_key({}, cwd=tmp_path) == RunKey(sha, "trunk", "git")
    # a CI that gives only the branch: the commit still comes from git
    assert detect_key({"GITLAB_CI": "true", "CI_COMMIT_REF_NAME": "mr-1"}, cwd=tmp_path) == RunKey(
        sha, "mr-1", "gitlab-ci"
    )
    subprocess.run([*git, "checkout", "-q", "--detach"], check=True, timeout=30)
    assert detect_key({}, cwd=tmp_path) == RunKey(sha, "unknown", "git")  # detached HEAD: no branch


def test_rss_slope_only_from_the_target() -> None:
    assert target_rss_slope(summary(slope=-0.5)) == -0.5
    assert target_rss_slope(summary()) is None
    assert target_rss_slope({"resources": {"leaks": [{"key": "target", "slope_mb_per_min": None}]}}) is None


# -- --baseline history:BRANCH[:N] -------------------------------------------------------------------


def test_spec_parsing() -> None:
    assert (parse_spec("history:main").branch, parse_spec("history:main").runs) == ("main", 5)
    assert parse_spec("history:release/2.1:12").runs == 12
    for bad, what in [
        ("history:", "names no branch"),
        ("history:main:0", "N must be a whole number from 1 to 1000 (got '0'"),
        ("history:main:five", "(got 'five'"),
        ("history:a:b:c", "too many ':'"),
    ]:
        with pytest.raises(ConfigError) as e:
            parse_spec(bad)
        assert what in e.value.render() and "history:main:5" in e.value.render(), e.value.render()


def test_pooled_baseline_is_the_last_n_passing_runs_of_the_profile_on_the_branch(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    other = RunKey("e" * 40, "feature", "git")
    ids = record(
        db,
        (summary(seed=1, started="2026-01-01T00:00:00Z"), MAIN),  # too old for N=2
        (summary(seed=2, started="2026-01-02T00:00:00Z"), MAIN),
        (summary(seed=3, started="2026-01-03T00:00:00Z", verdict="fail", exit_code=3), MAIN),  # failed
        (summary(seed=4, started="2026-01-04T00:00:00Z", verdict="invalid", exit_code=4), MAIN),
        (summary(seed=5, started="2026-01-05T00:00:00Z"), other),  # another branch
        (summary(seed=6, started="2026-01-06T00:00:00Z", profile="peak"), MAIN),  # another profile
        (summary(seed=7, started="2026-01-07T00:00:00Z", secs=20.0), MAIN),
    )
    runs = baseline_runs(str(db), "history:main:2", "smoke")
    assert [r["history_run"]["id"] for r in runs] == [ids[6], ids[1]]
    base = baseline_from_history(str(db), "history:main:2", "smoke")
    assert summary_problems(base) == []  # summary.json's shape: any baseline reader takes it
    assert [r["id"] for r in base["history"]["runs"]] == [ids[6], ids[1]]
    s2, s7 = summary(seed=2), summary(seed=7, secs=20.0)
    assert base["duration_s"] == 30.0
    for i, label in enumerate(("GET /dashboard", "POST /auth/login")):
        row = next(r for r in base["requests"] if f"{r['method']} {r['name']}" == label)
        merged = Histogram.from_dict(s2["requests"][i]["histogram"]) + Histogram.from_dict(
            s7["requests"][i]["histogram"]
        )
        assert row["histogram"] == merged.to_dict()
        assert row["count"] == merged.count == s2["requests"][i]["count"] * 2
        assert row["failures"] == 2 * s2["requests"][i]["failures"]
        assert row["rps"] == round(row["count"] / 30.0, 3)
        assert row["min"] == min(s2["requests"][i]["min"], s7["requests"][i]["min"])
        for key, p in PERCENTILES.items():
            expect = Histogram.from_dict(row["histogram"], row["min"], row["max"]).percentile(p)
            assert row[key] == expect and row["bounds"][key] == bucket_bound(expect)
    assert base["total"]["count"] == 500 and base["total"]["name"] == "Aggregated"
    assert resolve_baseline("history:main:2", str(db), "smoke")["history"] == base["history"]


def test_pool_matches_one_histogram_of_all_samples() -> None:
    rng = random.Random(3)
    parts = [[rng.lognormvariate(4, 0.6) for _ in range(n)] for n in (300, 17, 1200)]
    summaries = [
        {"duration_s": 10.0, "requests": [endpoint("GET", "/x", xs)], "total": endpoint("", "Aggregated", xs)}
        for xs in parts
    ]
    row = pool(summaries)["requests"][0]
    whole = Histogram.from_samples([x for xs in parts for x in xs])
    assert row["histogram"] == whole.to_dict() and (row["min"], row["max"]) == (whole.min, whole.max)
    assert {k: row[k] for k in PERCENTILES} == {k: whole.percentile(p) for k, p in PERCENTILES.items()}
    assert row["avg"] == pytest.approx(sum(x for xs in parts for x in xs) / whole.count, abs=1e-3)


def test_no_matching_run_fails_closed_naming_branch_and_profile(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    record(db, (summary(), MAIN), (summary(verdict="fail", exit_code=3), RunKey("d" * 40, "dev", "git")))
    cases = [
        (
            "history:mian",
            "smoke",
            ["branch 'mian'", "profile 'smoke'", "runs on: dev, main", "Did you mean 'main'?"],
        ),
        (
            "history:main",
            "smok",
            ["profile 'smok'", "no run of this profile at all", "Did you mean 'smoke'?"],
        ),
        ("history:dev", "smoke", ["branch 'dev'", "all failed, were invalid or aborted"]),
    ]
    for spec, profile, parts in cases:
        with pytest.raises(ConfigError) as e:
            baseline_from_history(str(db), spec, profile)
        text = e.value.render()
        assert e.value.exit_code == ExitCode.CONFIG_INVALID
        assert all(p in text for p in parts), text
    with pytest.raises(ConfigError) as e:
        resolve_baseline("history:main", "", "smoke")
    assert "--history: is not set" in e.value.render()
    with pytest.raises(ConfigError) as e:
        check_baseline("history:main", str(tmp_path / "none.db"))  # the preflight: the DB must exist
    assert "no such file" in e.value.render()
    check_baseline("history:main", str(db))  # exists and is readable: the run finds its runs later


# -- robustness: concurrent writers, a locked DB, a corrupt DB -----------------------------------------

WRITER = """
import json, sys
sys.path.insert(0, {lib!r})
from erpload.report.history import open_history
from erpload.report.history_key import RunKey
data = json.loads({summary!r})
print("ready", flush=True)
sys.stdin.readline()
for i in range({n}):
    with open_history({db!r}, timeout=30) as store:
        store.record(data, RunKey("w{name}-%d" % i, "main", "test"))
print("done", flush=True)
"""

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect({db!r}, isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


def child(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def expect_line(p: subprocess.Popen, word: str) -> None:
    assert p.stdout is not None
    line = p.stdout.readline().strip()  # bounded: the child prints it at once or dies (EOF)
    assert line == word, f"child said {line!r}, exit {p.poll()}"


def test_two_writers_at_once_both_rows_present(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"  # created by the racing writers themselves, schema and all
    n = 25
    procs = [
        child(WRITER.format(lib=str(LIB), summary=json.dumps(summary()), n=n, db=str(db), name=k))
        for k in "ab"
    ]
    try:
        for p in procs:
            expect_line(p, "ready")
        for p in procs:  # release both as close together as two writes can be
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        for p in procs:
            expect_line(p, "done")
            assert p.wait(timeout=60) == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    with open_history(str(db), create=False) as store:
        rows = store.runs()
        eps = store.endpoints(r.id for r in rows)
    assert sorted(r.commit for r in rows) == sorted(f"w{k}-{i}" for k in "ab" for i in range(n))
    assert len({r.id for r in rows}) == 2 * n and all(len(e) == 3 for e in eps.values())
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_locked_db_is_a_clear_error_after_the_timeout(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    record(db, (summary(), MAIN))
    locker = child(LOCKER.format(db=str(db)))
    try:
        expect_line(locker, "locked")
        with pytest.raises(ConfigError) as e:
            with open_history(str(db), timeout=1.0) as store:
                store.record(summary(), MAIN)
        text = e.value.render()
        assert "is locked by another process for more than 1s" in text and "ERPLOAD_HISTORY_TIMEOUT" in text
    finally:
        assert locker.stdin is not None
        locker.stdin.write("release\n")
        locker.stdin.flush()
        assert locker.wait(timeout=30) == 0
    record(db, (summary(), MAIN))  # the lock gone, writing works again
    with open_history(str(db), create=False) as store:
        assert len(store.runs()) == 2


def test_corrupt_db_is_a_clear_error_and_left_as_it_is(tmp_path: Path) -> None:
    db = tmp_path / "h.db"
    junk = b"this was history.db before a disk hiccup\n" * 200
    db.write_bytes(junk)
    for create in (True, False):
        with pytest.raises(ConfigError) as e:
            open_history(str(db), create=create)
        text = e.value.render()
        assert "is not an SQLite database or is corrupt" in text and "Move the file aside" in text, text
    assert db.read_bytes() == junk
    with pytest.raises(ConfigError):
        baseline_from_history(str(db), "history:main", "smoke")


# -- erpload history: the list and the trend page -----------------------------------------------------


def run_cli(*argv: str) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="erpload")
    add_parser(parser.add_subparsers(dest="cmd"))
    return cmd_history(parser.parse_args(["history", *argv]))


def test_cli_lists_and_renders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.db"
    ids = record(
        db,
        (summary(started="2026-01-01T00:00:00Z", slope=0.1), MAIN),
        (summary(started="2026-01-02T00:00:00Z", verdict="fail", exit_code=3, slope=2.5), MAIN),
        (summary(profile="<b>x</b>", started="2026-01-03T00:00:00Z"), RunKey("9" * 40, "dev", "git")),
    )
    assert run_cli(str(db), "--branch", "main") == 0
    out = capsys.readouterr().out
    assert f"#{ids[1]}" in out and f"#{ids[0]}" in out and f"#{ids[2]}" not in out
    assert out.index(f"#{ids[1]}") < out.index(f"#{ids[0]}")  # newest first
    assert "2.5 MB/min" in out and "2 run(s) in" in out and "(branch main)" in out
    report = tmp_path / "out" / "trend.html"
    assert run_cli(str(db), "--report", str(report)) == 0
    page = report.read_text()
    assert (
        page.count('<section class="profile"') == 2
        and "<b>x</b>" not in page
        and "&lt;b&gt;x&lt;/b&gt;" in page
    )
    smoke = page[page.index('data-profile="smoke"') :]
    assert smoke.count('class="point"') >= 2 * 4  # 2 runs x (all requests + 2 endpoints + ...) points
    assert "series-get--dashboard" in smoke and "series-target-rss-slope" in smoke
    assert page.count("<tr class=") == 3 and 'class="v-fail"' in page
    with pytest.raises(ConfigError) as e:
        run_cli(str(tmp_path / "missing.db"))
    assert "no such file" in e.value.render()
    with pytest.raises(ConfigError):
        run_cli(str(db), "--limit", "-1")


def test_trend_without_runs_or_slopes_says_why() -> None:
    page = render_trend([], {}, source="postgresql://u:pw@h/db")
    assert "No run matches" in page and "pw@" not in page and "u:***@h/db" in page
