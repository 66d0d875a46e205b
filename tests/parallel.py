"""Run the test suite as N concurrent pytest processes (each a slice of the test files), one combined verdict.

Most tests wait on real processes (stages, think time, fault windows) rather than compute, so more
pytest processes than cores shorten the wall time (measured below). pytest-xdist cannot be used: its execnet
workers run threads that gevent's monkey-patching (needed by the in-process Locust tests) breaks.
Files are assigned greedily by an estimated cost so the slices finish together; each slice is an
ordinary pytest run, and the closing line sums them: "N passed, M failed".

    python tests/parallel.py [-j 3] [pytest args...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Measurement behind `make test`'s JOBS=3 (2026-11-29, 2 cores shared with other work: machine-wide
# 1-min load average 2.4-4.1 during the runs, mostly others' work; own CPU from getrusage of the run). The integration tier (529 tests, 14 files, at
# commit 7bee68e, the last whole tree), split by FILE_SECONDS below:
#   -j 1: 225 s wall, own CPU 63 s = 0.28 cores busy on average
#   -j 2: 112 s wall, own CPU 67 s = 0.60 cores
#   -j 3:  78 s wall, own CPU 56 s = 0.72 cores
#   -j 4:  80 s wall, own CPU 59 s = 0.74 cores (floor: test_roles.py alone takes ~80 s)
# So a slice computes ~0.3 of a core and waits the rest. Whole suite, estimated with COST and
# FILE_SECONDS over today's collection (99 e2e tests = 1,980 s, integration 218 s, unit 11 s; largest
# file 260 s): -j 2 ~1,100 s, -j 3 ~740 s, -j 4 ~550 s. 3 slices use about 1 of the 2 cores; 4 would
# buy ~190 s at ~1.2-2 cores, where e2e assertions on latency and detection times start to flake.
# (Before FILE_SECONDS: the per-test tier cost put test_target_auth.py's 361 two-millisecond cases
# alone in one slice, and -j 2 ran the integration tier no faster than -j 1: 43.5 s vs 41.2 s, on a
# tree where the slow test_roles.py and test_shape.py did not run.)

# Estimated seconds per collected test, by tier (measured on 2 cores; only the ratios matter).
COST = {"e2e": 20.0, "integration": 1.5, "unit": 0.02}
# Measured seconds per file (setup + call + teardown, as conftest.py records them): one `make test` with 3
# slices on 2 cores, 2026-11-29, 1,199 s in all. The slices then took 253, 692 and 259 s because the
# costs were per-test guesses; balanced by these figures each is ~400 s. A run also writes its own figures
# to .pytest-file-seconds.json (not committed), which the next run here prefers. Files not listed (new
# ones): tests x COST[tier].
FILE_SECONDS = {
    "tests/e2e/test_correctness.py": 173.3,
    "tests/e2e/test_resources.py": 160.7,
    "tests/e2e/test_distributed_faults.py": 117.3,
    "tests/e2e/test_run_control.py": 110.4,
    "tests/e2e/test_demo.py": 98.5,
    "tests/e2e/test_verdicts.py": 90.6,
    "tests/integration/test_roles.py": 76.2,
    "tests/integration/test_shape.py": 58.0,
    "tests/e2e/test_secrets_redaction.py": 40.0,
    "tests/e2e/test_webui_stop.py": 37.6,
    "tests/e2e/test_hostile_target.py": 37.1,
    "tests/e2e/test_secrets.py": 29.2,
    "tests/e2e/test_multihost.py": 23.4,
    "tests/e2e/test_compose.py": 23.1,
    "tests/integration/test_arrival.py": 16.1,
    "tests/e2e/test_cli_signals.py": 12.1,
    "tests/e2e/test_webui_browser.py": 10.6,
    "tests/e2e/test_own_locustfile.py": 8.9,
    "tests/integration/test_runtime_exchange.py": 8.6,
    "tests/integration/test_target_faults.py": 7.7,
    "tests/e2e/test_cli_errors.py": 7.6,
    "tests/e2e/test_webui_security.py": 7.5,
    "tests/integration/test_target_process.py": 6.7,
    "tests/e2e/test_report_full_disk.py": 6.3,
    "tests/e2e/test_settings_env.py": 4.3,
    "tests/e2e/test_webui_login.py": 3.6,
    "tests/unit/test_recovery.py": 3.6,
    "tests/unit/test_profile_limits.py": 3.3,
    "tests/e2e/test_cli_plugin_checks.py": 2.9,
    "tests/unit/test_metrics.py": 2.9,
    "tests/integration/test_target_ws.py": 1.7,
    "tests/unit/test_architecture.py": 1.2,
    "tests/e2e/test_fail_closed.py": 1.0,
    "tests/unit/test_leak.py": 1.0,
    "tests/integration/test_target_lifecycle.py": 0.9,
    "tests/integration/test_target_input.py": 0.7,
    "tests/integration/test_target_metrics.py": 0.6,
    "tests/unit/test_settings.py": 0.6,
    "tests/integration/test_percentile_paths.py": 0.4,
    "tests/integration/test_target_auth.py": 0.4,
    "tests/unit/test_histogram.py": 0.4,
    "tests/unit/test_units.py": 0.3,
    "tests/integration/test_target_stock.py": 0.2,
    "tests/unit/test_correctness_report.py": 0.2,
    "tests/unit/test_profiles.py": 0.2,
    "tests/unit/test_reports.py": 0.2,
    "tests/unit/test_timeline.py": 0.2,
    "tests/integration/test_contract.py": 0.1,
    "tests/integration/test_resources_monitor.py": 0.1,
    "tests/integration/test_webui_guards.py": 0.1,
    "tests/unit/test_credentials.py": 0.1,
    "tests/unit/test_report_writer.py": 0.1,
    "tests/unit/test_sla.py": 0.1,
    "tests/unit/test_verdict.py": 0.1,
    "tests/unit/test_baseline.py": 0.0,
    "tests/unit/test_cli_hosts.py": 0.0,
    "tests/unit/test_cli_main.py": 0.0,
    "tests/unit/test_faultplan.py": 0.0,
    "tests/unit/test_redact.py": 0.0,
    "tests/unit/test_resources_report.py": 0.0,
    "tests/unit/test_runtime_load.py": 0.0,
    "tests/unit/test_stock_verdict.py": 0.0,
    "tests/unit/test_tallies.py": 0.0,
    "tests/unit/test_webui_rows.py": 0.0,
}
COUNTS = re.compile(r"(\d+) (passed|failed|errors?|skipped|deselected|xfailed|xpassed)")


def collect(extra: list[str]) -> dict[str, int]:
    """Test file -> number of selected tests (pytest's own collection, same options)."""
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    files: dict[str, int] = {}
    for line in out.stdout.splitlines():
        if "::" in line:
            path = line.split("::", 1)[0]
            files[path] = files.get(path, 0) + 1
    if not files:
        sys.stdout.write(out.stdout + out.stderr)
    return files


MEASURED = ROOT / ".pytest-file-seconds.json"  # the last run's seconds per file (not committed)


def measured() -> dict[str, float]:
    """Seconds per file from the last run here (conftest writes them), or {} on a fresh clone."""
    try:
        data = json.loads(MEASURED.read_text())
    except (OSError, ValueError):
        return {}
    return (
        {k: float(v) for k, v in data.items() if isinstance(v, int | float)} if isinstance(data, dict) else {}
    )


def split(files: dict[str, int], jobs: int) -> list[list[str]]:
    """Greedy longest-first assignment of files to `jobs` slices by cost: last run here, else FILE_SECONDS."""
    last = measured()

    def cost(path: str) -> float:
        if path in last:
            return last[path]
        if path in FILE_SECONDS:
            return FILE_SECONDS[path]
        tier = next((t for t in COST if f"/{t}/" in f"/{path}"), "integration")
        return files[path] * COST[tier]

    slices: list[tuple[float, list[str]]] = [(0.0, []) for _ in range(jobs)]
    for path in sorted(files, key=cost, reverse=True):
        i = min(range(jobs), key=lambda k: slices[k][0])
        slices[i] = (slices[i][0] + cost(path), slices[i][1] + [path])
    return [paths for _, paths in slices if paths]


def record_times(slices: int) -> None:
    """Merge the slices' seconds per file into MEASURED (kept across runs, updated file by file)."""
    merged = measured()
    for i in range(slices):
        part = ROOT / f".pytest-times-{i}.json"
        try:
            merged.update(json.loads(part.read_text()))
        except (OSError, ValueError):
            pass
        part.unlink(missing_ok=True)
    if merged:
        MEASURED.write_text(json.dumps({k: round(v, 1) for k, v in sorted(merged.items())}, indent=1))


def closing_line(passed: int, failed: int, skipped: int = 0) -> str:
    """The one line CI reads as a test count: 'N passed, M failed', then ', K skipped' when any."""
    return f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-j", "--jobs", type=int, default=3)
    ns, extra = parser.parse_known_args()
    files = collect(extra)
    if not files:
        print("no tests collected")
        print(closing_line(0, 1))
        return 5
    started = time.monotonic()
    # Paths given on the command line select files at collection; each slice gets only its own files.
    options = [a for a in extra if a.startswith("-") or not (ROOT / a.split("::")[0]).exists()]
    procs = []
    for i, paths in enumerate(split(files, ns.jobs)):
        log = open(ROOT / f".pytest-slice-{i}.log", "w")  # noqa: SIM115 (closed below)
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *options, *paths]
        env = {**os.environ, "ERPLOAD_TEST_TIMES": str(ROOT / f".pytest-times-{i}.json")}
        procs.append(
            (i, paths, log, subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env))
        )
    totals: dict[str, int] = {}
    worst = 0
    for i, paths, log, proc in procs:
        rc = proc.wait()
        log.close()
        text = (ROOT / f".pytest-slice-{i}.log").read_text()
        print(f"\n===== slice {i + 1}/{len(procs)}: {len(paths)} files, exit {rc} =====")
        print(text.rstrip())
        last = [ln for ln in text.splitlines() if COUNTS.search(ln) and " in " in ln]
        for n, word in COUNTS.findall(last[-1] if last else ""):
            key = "errors" if word.startswith("error") else word
            totals[key] = totals.get(key, 0) + int(n)
        worst = max(worst, rc)
        (ROOT / f".pytest-slice-{i}.log").unlink(missing_ok=True)
    record_times(len(procs))
    passed, failed = totals.get("passed", 0), totals.get("failed", 0) + totals.get("errors", 0)
    # Everything but the test count goes on earlier lines: CI reads the last line as exactly
    # "N passed, M failed" with an optional ", K skipped".
    print(
        f"\n{len(procs)} slices in {time.monotonic() - started:.0f}s; {totals.get('deselected', 0)} deselected"
    )
    print(closing_line(passed, failed, totals.get("skipped", 0)))
    if passed == 0:
        return 5
    return worst if worst else (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
