"""Plain `locust -f locustfiles/ --headless ...` (no `erpload` CLI) checks host and baseline before any load.

Needs the plugin lines of issue 12/13 (checks.validate_early: check_host, load_baseline).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import PROFILES, Target, locust, request_count

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("host", "baseline", "expected"),
    [
        (None, None, "-H / --host / LOCUST_HOST: missing"),
        ("ftp://127.0.0.1:21", None, "scheme 'ftp://'"),
        ("http://[::1]:bad", None, "port 'bad' is not a number"),
        (
            "TARGET",
            '{"schema_version": 1, "requests": "abc"}',
            "requests: must be a list of endpoint objects",
        ),
        ("TARGET", '{"schema_version": 1,', "not valid JSON"),
    ],
    ids=["no-host", "ftp", "bad-port", "malformed-baseline", "corrupt-baseline"],
)
def test_plain_locust_rejects_bad_host_or_baseline_before_any_load(
    target: Target, tmp_path: Path, host: str | None, baseline: str | None, expected: str
) -> None:
    rep = tmp_path / "reports"
    args = [
        "--headless",
        "--only-summary",
        "--load-profile",
        str(PROFILES / "short.yaml"),
        "--report-dir",
        str(rep),
    ]
    if host is not None:
        args += ["-H", target.url if host == "TARGET" else host]
    if baseline is not None:
        (tmp_path / "base.json").write_text(baseline)
        args += ["--baseline", str(tmp_path / "base.json")]
    before = request_count(target.url)
    proc = locust(*args, name="plain", tmp=tmp_path, env={"LOCUST_HOST": ""})
    rc = proc.wait(90)
    assert rc == 2, proc.tail()
    assert expected in proc.output
    assert "Traceback" not in proc.output
    assert request_count(target.url) == before, "nothing may be sent when the input is invalid"
    assert not (rep / "summary.json").exists()
