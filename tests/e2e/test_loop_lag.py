"""Generator event-loop lag: a worker whose loop is blocked (at low CPU) makes the run INVALID.

tests/e2e/loopblock_locustfile.py blocks its worker's gevent loop for 200 ms every 500 ms with an
unpatched time.sleep: the CPU rule cannot see it (the process sleeps), the loop-lag rule must.
The normal run that must NOT trip it is tests/e2e/test_coordinated_omission.py (exit 3, no invalid,
its worker's loop lag reported with no episode).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import PROFILES, PY, ROOT, Proc, load_summary

pytestmark = pytest.mark.slow  # a 40 s profile: the rule judges a full 30 s window


def test_blocked_event_loop_makes_the_run_invalid(tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    proc = Proc(
        [
            PY,
            "-m",
            "locust",
            "-f",
            str(ROOT / "tests" / "e2e" / "loopblock_locustfile.py"),
            "--headless",
            "--only-summary",
            "--processes",
            "1",
            "--load-profile",
            str(PROFILES / "loopblock.yaml"),
            "--report-dir",
            str(report_dir),
        ],
        name="loopblock",
        log_dir=tmp_path,
    )
    rc = proc.wait(120)
    assert rc == 4, proc.tail()
    s = load_summary(report_dir)
    assert s["verdict"] == "invalid"
    reasons = [i["reason"] for i in s["invalid"]]
    assert reasons == ["generator loop lag"], s["invalid"]  # not the CPU rule: the process mostly sleeps
    detail = s["invalid"][0]["detail"]
    assert detail.startswith("worker:0 event-loop lag p99 ") and "--max-loop-lag" in detail, detail
    gen = s["resources"]["loop_lag"]["generators"]["worker:0"]
    assert gen["p99_ms"] > 50 and gen["episode"]["p99_ms"] > 50, gen
    assert s["resources"]["loop_lag"]["limit_ms"] == 50
    assert "INVALID run: generator loop lag" in proc.output
    assert "Traceback" not in proc.output
    html = (report_dir / "report.html").read_text()
    assert 'id="loop-lag-table"' in html
