"""Proof of the baseline verdict (slow, ~6 min): identical runs are not flagged, a +20 % endpoint is, alone.

One reference ERP, one profile, 10 runs in a row (after a short warm-up run), each run 2..10 with
`--baseline` = run 1 (the Locust-side path): exit 0, no regression. Then the target's path-pattern
latency switch adds 20 % of that endpoint's p95 to every `GET /dashboard` request, and the next
run against run 1 must flag that endpoint and no other, also with `erpload compare` (the same code).
The false-positive rate is measured on all 90 ordered pairs of the 10 identical runs.

The target gets `--slow-db-ms 100` (100 ms per SQL query): on loopback the reference ERP answers in
2-10 ms, where 20 % is under the 1 ms floor and a busy host's scheduling jitter is as large as the
effect. 100 ms per query makes the latencies those of an ERP whose database sits across a network;
contention on the shared test host still moves the tails a few percent, which the figures include.

Measurement hygiene: a run measures the target only while the host gives the target and Locust
the CPU they ask for. On a 2-core host shared with other test suites, a run during which tasks
waited for a CPU more than MAX_PRESSURE of the time (Linux PSI, /proc/pressure/cpu "some") measured
the neighbours: p95 doubled on some endpoints in such runs. Such a run is repeated (after waiting,
bounded, for the pressure to drop) and counted in the figures, never compared; the test fails if
the host does not calm down within its time budget. Without PSI every run counts.
Figures (printed, and written to figures.json in the test's directory) go into docs/sla-and-reports.md.
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from pathlib import Path

import pytest
import requests

from erpload.report.baseline import compare, load_baseline

from helpers import PY, Proc, Target, load_summary, locust

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(900)]

RUNS = 10
INJECTED = "GET /dashboard"
PATH_RE = "^/dashboard$"
SLOW_DB_MS = "100"
ENV = {"ERPLOAD_THINK_TIME": "0.05,0.2", "ERPLOAD_REQUEST_TIMEOUT": "60"}  # bulk exports take > 10 s
ROLES = (
    "CuttingOperator",
    "SewingOperator",
    "FinishingOperator",
    "QcInspector",
    "PpicPlanner",
    "WarehouseClerk",
    "Admin",
)
PER_ROLE = 6  # 42 users: ~200 samples per main endpoint in 25 s at 100 ms per query
PSI = Path("/proc/pressure/cpu")
MAX_PRESSURE = 0.15  # share of a run's wall time with tasks waiting for a CPU
BUDGET_S = 560  # for all runs (each ~30 s); the rest of the 10 minutes is start-up and comparisons


def _stall_s() -> float | None:
    """Seconds some task has waited for a CPU since boot (PSI), None where the kernel has no PSI."""
    try:
        first = PSI.read_text().splitlines()[0]
    except OSError:
        return None
    return int(first.rsplit("total=", 1)[1]) / 1e6


def _avg10() -> float:
    try:
        return float(PSI.read_text().split("avg10=", 1)[1].split()[0]) / 100
    except (OSError, IndexError, ValueError):
        return 0.0


class Host:
    """Runs the profile until the host was quiet enough during the run; keeps what it discarded."""

    def __init__(self, tmp: Path, url: str, deadline: float) -> None:
        self.tmp, self.url, self.deadline = tmp, url, deadline
        self.pressures: list[float] = []  # of the runs kept
        self.discarded: list[tuple[str, float]] = []

    def run(self, profile: Path, name: str, *extra: str) -> tuple[int, dict, Path]:
        for attempt in range(1, 20):
            while _avg10() > MAX_PRESSURE and time.monotonic() < self.deadline:  # bounded by the deadline
                time.sleep(1)  # a measurement condition, not a readiness wait: nothing to poll but the host
            assert time.monotonic() < self.deadline, f"host too busy to measure: {self.discarded}"
            before, t0 = _stall_s(), time.monotonic()
            rc, summary, path = _run(self.tmp, self.url, profile, f"{name}-{attempt}", *extra)
            after, t1 = _stall_s(), time.monotonic()
            share = 0.0 if before is None or after is None else (after - before) / (t1 - t0)
            if share <= MAX_PRESSURE:
                self.pressures.append(round(share, 3))
                return rc, summary, path
            self.discarded.append((f"{name}-{attempt}", round(share, 3)))
        raise AssertionError(f"no quiet run of {name}: {self.discarded}")


def _profile(tmp: Path, name: str, steady_s: int) -> Path:
    users = PER_ROLE * len(ROLES)
    path = tmp / f"{name}.yaml"
    path.write_text(
        f"name: baseline-proof\ndescription: every role x{PER_ROLE}, 3 s ramp, {steady_s} s steady.\n"
        f"roles: {{{', '.join(f'{r}: {PER_ROLE}' for r in ROLES)}}}\nstages:\n"
        f"  - {{name: ramp, duration: 3s, users: {users}, spawn_rate: {users}}}\n"
        f"  - {{name: hold, duration: {steady_s}s, users: {users}}}\n"
        "sla:\n  - error_rate < 5%\n"  # requests in flight at stop are failures; a rule keeps exit 1 away
    )
    return path


def _run(tmp: Path, url: str, profile: Path, name: str, *extra: str) -> tuple[int, dict, Path]:
    rep = tmp / name
    args = [
        "--headless",
        "--only-summary",
        "--load-profile",
        str(profile),
        "-H",
        url,
        "--report-dir",
        str(rep),
    ]
    proc = locust(*args, *extra, name=name, tmp=tmp, env=ENV)
    rc = proc.wait(120)
    return rc, load_summary(rep), rep / "summary.json"


def _regressed(comparison: dict) -> set[str]:
    return {r["label"] for r in comparison["regressions"]}


def _row(summary: dict, label: str) -> dict:
    return next(e for e in summary["requests"] if f"{e['method']} {e['name']}" == label)


def test_ten_identical_runs_pass_and_a_20_percent_slower_endpoint_alone_is_flagged(tmp_path: Path) -> None:
    started = time.monotonic()
    profile = _profile(tmp_path, "proof", 25)
    target = Target(tmp_path, "--slow-db-ms", SLOW_DB_MS, name="erp")
    host = Host(tmp_path, target.url, started + BUDGET_S)
    try:
        rc, _, _ = _run(tmp_path, target.url, _profile(tmp_path, "warm", 8), "warm-up")
        assert rc == 0, "warm-up run"
        rc, first, first_path = host.run(profile, "run01")
        assert rc == 0 and first["baseline"] is None
        runs, paths = [first], [first_path]
        for i in range(2, RUNS + 1):
            rc, s, path = host.run(profile, f"run{i:02d}", "--baseline", str(first_path))
            runs.append(s)
            paths.append(path)
            assert s["baseline"]["problem"] == "", s["baseline"]["problem"]
            assert _regressed(s["baseline"]) == set() and rc == 0, (
                i,
                s["baseline"]["regressions"],
                s["notes"],
            )
        typical_p95 = statistics.median(_row(s, INJECTED)["p95"] for s in runs)
        delay = round(0.2 * typical_p95)
        admin = {"Authorization": "Bearer " + target.login("admin01")}
        put = requests.put(
            target.url + "/admin/faults",
            headers=admin,
            json={"latency_ms": delay, "latency_path": PATH_RE},
            timeout=10,
        )
        assert put.status_code == 200, put.text
        rc, slow, slow_path = host.run(profile, "injected", "--baseline", str(first_path))
    finally:
        target.stop()
    assert rc == 3, slow["notes"]
    flagged = _regressed(slow["baseline"]) - {"Aggregated"}
    assert flagged == {INJECTED}, slow["baseline"]["regressions"]

    cli = Proc(
        [PY, "-m", "erpload.cli", "compare", str(first_path), str(slow_path)],
        name="compare",
        log_dir=tmp_path,
    )
    assert cli.wait(60) == 3, cli.tail()
    same = compare(load_baseline(slow_path), load_baseline(first_path))
    assert {e.label for e, _ in same.regressions} == _regressed(slow["baseline"]), "one implementation"
    row = next(line for line in cli.output.splitlines() if f" {INJECTED} " in line)
    assert "regressed" in row and "REGRESSED" in row, row

    pooled = compare(load_baseline(slow_path), [load_baseline(p) for p in paths]).to_dict()
    pooled_flagged = _regressed(pooled) - {"Aggregated"}
    assert pooled_flagged == {INJECTED}, pooled["regressions"]

    pairs, judged, false_flags, flagged_pairs = 0, 0, 0, 0
    for i, j in itertools.permutations(range(RUNS), 2):
        c = compare(runs[j], runs[i])
        pairs += 1
        judged += sum(1 for e in c.endpoints if e.deltas[0].judged)
        bad = {e.label for e, _ in c.regressions}
        false_flags += len(bad)
        flagged_pairs += bool(bad)
    fpr = false_flags / judged
    assert fpr <= 0.025, f"{false_flags} of {judged} endpoint verdicts flagged between identical runs"

    inj = next(e for e in same.endpoints if e.label == INJECTED)
    p95 = inj.deltas[0]
    agg = next(e for e in same.endpoints if e.label == "Aggregated")
    counts = same.counts()
    figures = {
        "runs": RUNS,
        "cpu_pressure_per_kept_run": host.pressures,
        "discarded_runs_cpu_pressure": host.discarded,
        "minutes": round((time.monotonic() - started) / 60, 1),
        "requests_per_run": [s["total"]["count"] for s in runs],
        "injected_endpoint_p95_ms_per_run": [_row(s, INJECTED)["p95"] for s in runs],
        "injected_delay_ms": delay,
        "each_vs_first_regressions": 0,
        "pairs": pairs,
        "judged_endpoint_verdicts": judged,
        "false_regressions": false_flags,
        "false_positive_rate": round(fpr, 4),
        "pairs_with_any_regression": flagged_pairs,
        "injected_vs_first": {
            "n": [p95.n_baseline, p95.n_current],
            "p95": [p95.baseline, p95.current],
            "effect_ms": p95.effect,
            "ci_ms": [p95.ci_low, p95.ci_high],
            "floor_ms": p95.floor,
            "verdict": inj.verdict_text,
            "aggregate": agg.verdict_text,
            "counts": counts,
        },
        "injected_vs_pool_of_10": sorted(_regressed(pooled)),
    }
    text = json.dumps(figures, indent=1)
    (tmp_path / "figures.json").write_text(text)
    print(text)
