"""The web UI in headless Chromium: start form, profile picker, live SLA and Resources tabs, report, Stop.

Target and Locust (web UI on 127.0.0.1, free port) are real processes; every wait is bounded.
Screenshots are saved under the test's tmp dir and copied to docs/img/ (webui-start-form.png,
webui-sla.png).
"""

from __future__ import annotations

import json
import re
import shutil
import signal
from pathlib import Path

import pytest
import requests

from helpers import PY, ROOT, Proc, Target, free_port, wait_http

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PROFILES = Path(__file__).parent / "profiles"
WAIT_MS = 60_000  # generous: 2 cores shared with other test runs


def _row(page, text: str):
    """The table row containing `text` (one match expected)."""
    return page.locator("table tbody tr", has_text=text)


def _choose_profile(page, filename: str) -> None:
    select = page.locator("select[name=loadProfile]")
    values = select.locator("option").evaluate_all("els => els.map(e => e.value)")
    matching = [v for v in values if v.endswith("/" + filename)]
    assert matching, f"{filename} not offered in the profile dropdown: {values}"
    select.select_option(matching[0])


def _save_shot(page, tmp_path: Path, name: str) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=True)
    (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ROOT / "docs" / "img" / name)


def _check_start_form(page, tmp_path: Path) -> None:
    """The profile is the first thing to choose; fields a profile overrides are not offered."""
    select = page.locator("select[name=loadProfile]")
    select.wait_for(state="visible")  # first-class: no accordion to open
    page.locator(".MuiAccordion-root:has(select[name=loadProfile]) .MuiCollapse-entered").wait_for()
    assert select.input_value() == "profiles/smoke.yaml"  # the command line's profile, pre-selected
    label = page.locator("label", has_text="Load Profile").inner_text()
    assert "erpload" in label and "sets users, ramp-up and run time" in label, label
    for name in ("userCount", "spawnRate"):  # ignored when a profile drives the run: not shown
        field = page.locator(f"input[name={name}]")
        assert not field.is_visible() and field.is_disabled(), name
    # the load profile comes first among erpload's options (Locust orders them by name)
    baseline = page.locator("input[name=baseline]")
    assert select.bounding_box()["y"] < baseline.bounding_box()["y"]
    text = page.locator("form").inner_text()
    assert "%%" not in text and "0.10 = 10%" in text, text
    for label in page.locator("form label").all_inner_texts():  # help fits the label: no (unclosed (…
        assert label.count("(") == label.count(")") and len(label) < 110, label
    _save_shot(page, tmp_path, "webui-start-form.png")
    page.get_by_text("Advanced options").click()
    page.locator("input[name=runTime]").wait_for(state="visible")
    assert page.locator("input[name=runTime]").is_disabled()  # the profile sets the duration
    assert not page.locator("input[name=profile]").is_visible()  # Locust's "Profile" (a run tag) is gone
    page.get_by_text("Advanced options").click()


def test_profile_from_form_live_sla_and_resources_then_stop(target: Target, tmp_path: Path):
    from helpers import chromium_page

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # run from tmp_path, so the form shows the short relative paths a user would type
    (tmp_path / "profiles").mkdir()
    shutil.copyfile(ROOT / "profiles" / "smoke.yaml", tmp_path / "profiles" / "smoke.yaml")
    locust = Proc(
        [
            PY,
            "-m",
            "locust",
            "-f",
            str(ROOT / "locustfiles"),
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(port),
            "-H",
            target.url,
            "--target-pid",
            str(target.pid),
            "--load-profile",  # pre-selected and listed first, with tests/e2e/profiles' files after it
            "profiles/smoke.yaml",
            "--report-dir",
            "reports",
        ],
        env={"ERPLOAD_PROFILES": str(PROFILES), "ERPLOAD_THINK_TIME": "0.1,0.5"},
        cwd=tmp_path,
        name="locust-webui",
        log_dir=tmp_path,
    )
    try:
        locust.expect(r"Starting web interface at http://127\.0\.0\.1:", timeout=60)
        wait_http(base + "/", timeout=30)
        with chromium_page() as page:
            page.set_default_timeout(WAIT_MS)
            page.goto(base + "/")
            _check_start_form(page, tmp_path)

            # an invalid profile: a clear error in the form, nothing starts
            _choose_profile(page, "broken.yaml")
            page.get_by_role("button", name="Start").click()
            alert = page.locator(".MuiAlert-root", has_text="is not valid")
            alert.wait_for()
            assert "Did you mean 'CuttingOperator'" in alert.inner_text()
            assert requests.get(base + "/stats/requests", timeout=10).json()["state"] == "ready"

            # a valid one runs its stages and role mix
            _choose_profile(page, "webui.yaml")
            page.get_by_role("button", name="Start").click()
            page.get_by_role("tab", name="SLA").click()
            _row(page, 'p95 of "POST /auth/login"').filter(has_text="✔ pass").wait_for()
            _row(page, "p99 < 1ms").filter(has_text="ms").wait_for()
            _save_shot(page, tmp_path, "webui-sla.png")

            rows = page.locator("table tbody tr")
            assert rows.count() == 5, page.locator("table").inner_text()
            assert "✔ pass" in _row(page, "error_rate < 5%").inner_text()
            dash = _row(page, 'rps of "GET /dashboard" > 1000').inner_text()
            assert "✘ fail" in dash and "/s" in dash, dash
            assert "… no data" in _row(page, "GET /no-such-endpoint").inner_text()
            risky = _row(page, "p99 < 1ms").inner_text()
            assert "⚠ at risk" in risky and "±" in risky and "abort rule: grace" in risky, risky
            login = _row(page, 'p95 of "POST /auth/login"').inner_text()
            assert "±" in login and "< 5s" in login, login  # the percentile's bucket bound is shown

            stats = requests.get(base + "/stats/requests", timeout=10).json()
            assert stats["state"] in ("spawning", "running") and stats["user_count"] >= 1, stats
            assert page.get_by_role("button", name="Edit").is_disabled()  # the profile sets the users

            page.get_by_role("tab", name="Resources").click()
            master = _row(page, "master")
            master.filter(has_text="MB").wait_for()
            assert "%" in master.inner_text(), master.inner_text()
            tgt = _row(page, "target").inner_text()
            assert "MB" in tgt or "target not monitored" in tgt, tgt

            # the downloadable report carries erpload's SLA and resources sections
            report = requests.get(base + "/stats/report?download=1", timeout=60)
            assert report.status_code == 200
            assert 'id="erpload-sla"' in report.text and 'id="erpload-resources"' in report.text
            assert "rps of &quot;GET /dashboard&quot; &gt; 1000" in report.text
            own = requests.get(base + "/erpload/report.html", timeout=60)
            assert own.status_code == 200 and 'id="sla-table"' in own.text

            # stop from the UI
            page.get_by_role("button", name="Stop").click()
            page.get_by_text(re.compile(r"^stopped$", re.I)).wait_for()  # the header's Status
            stats = requests.get(base + "/stats/requests", timeout=10).json()
            assert stats["state"] == "stopped" and stats["user_count"] == 0, stats
            page.get_by_role("tab", name="SLA").click()
            _row(page, "p99 < 1ms").filter(has_text="✘ fail").wait_for()  # no longer live: no grace
        assert "Traceback" not in locust.output, locust.tail()
        locust.signal(signal.SIGTERM)  # quit (Locust's clean shutdown): the reports are written
        rc = locust.wait(90)
    finally:
        locust.stop()
    # Stop pressed mid-profile: an interrupted run, whenever the process quits
    summary = json.loads((tmp_path / "reports" / "summary.json").read_text())
    assert rc == 5 and summary["verdict"] == "aborted", (rc, summary["verdict"], locust.tail())
    assert "stopped from the web UI at" in json.dumps(summary)
