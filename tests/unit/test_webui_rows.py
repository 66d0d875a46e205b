"""Web UI rows (pure): SLA states, sparklines, profile choices; `erpload ui` host/login rules."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from erpload.core.errors import ConfigError
from erpload.report.rows import (
    AT_RISK,
    FAIL,
    NO_DATA,
    PASS,
    ProfileChoices,
    profile_choices,
    report_section,
    resource_rows,
    sla_rows,
    sla_state,
    sparkline,
)
from erpload.sla.evaluation import RuleResult
from erpload.sla.grammar import parse_rule


def result(text, observed, passed: bool, bound=None) -> RuleResult:
    rule, problems = parse_rule(text)
    assert rule is not None, problems
    return RuleResult(rule, observed, passed, "observed …", bound)


@pytest.mark.parametrize(
    ("text", "observed", "passed", "state"),
    [
        ('p95 of "GET /x" < 500ms', 200.0, True, PASS),
        ('p95 of "GET /x" < 500ms', 460.0, True, AT_RISK),  # within 10 % of the threshold
        ('p95 of "GET /x" < 500ms', 600.0, False, FAIL),
        ("rps > 50", 53.0, True, AT_RISK),
        ("rps > 50", 80.0, True, PASS),
        ("error_rate < 1%", None, False, NO_DATA),
    ],
)
def test_sla_state(text, observed, passed, state):
    assert sla_state(result(text, observed, passed)) == state


def test_failing_abort_rule_is_at_risk_while_live_and_fails_after():
    r = result({"metric": "p99", "op": "<", "threshold": "1ms", "abort": True, "after": "1m"}, 50.0, False)
    assert sla_state(r, live=True) == AT_RISK
    assert sla_state(r, live=False) == FAIL


def test_rows_show_bound_and_abort_banner():
    r = result('p95 of "GET /x" < 500ms', 212.0, True, bound=5.0)
    rows = sla_rows([r])
    assert rows[0]["bound"] == "±5ms" and rows[0]["observed"] == "212ms" and rows[0]["threshold"] == "< 500ms"

    class Trip:
        rule, at_s, failing_since_s, result = r.rule, 42.0, 30.0, r

    rows = sla_rows([r], trip=Trip())
    assert rows[0]["state"].endswith("aborted") and "at 42s" in rows[0]["rule"] and len(rows) == 2


def test_sparkline_scales_and_ignores_noise():
    assert sparkline([0, 50, 100]) == "▁▅█"
    assert sparkline([100.0, 100.2, 100.1]) == "▁▁▁"
    assert len(sparkline(list(range(1000)), width=24)) == 24
    assert sparkline([]) == ""


def test_resource_rows_order_and_warnings():
    rows = resource_rows(
        {
            "processes": [
                {
                    "key": "worker:0",
                    "cpu_percent": 40,
                    "rss_mb": 80,
                    "cpu_series": [[0, 10], [2, 40]],
                    "rss_series": [],
                },
                {
                    "key": "master",
                    "cpu_percent": 5,
                    "rss_mb": 60,
                    "leak": {"verdict": "stable", "slope_mb_per_min": 0.1},
                },
                {"key": "target", "note": "target not monitored"},
            ],
            "warnings": ["worker:0 CPU 95%"],
        }
    )
    assert [r["process"] for r in rows] == ["target", "master", "worker:0", "⚠ warning"]
    assert rows[2]["cpurange"] == "10–40%" and rows[1]["leak"].startswith("stable (+0.10 MB/min")
    assert "target not monitored" in rows[0]["leak"] and rows[3]["host"] == "worker:0 CPU 95%"
    html = report_section("t", sla_rows([result("rps > 50", 80.0, True)]), rows)
    assert 'id="erpload-sla"' in html and "rps &gt; 50" in html


def test_profile_choices_list_dir_but_accept_any_path(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()
    for n in ("peak.yaml", "smoke.yaml", "notes.txt"):
        (tmp_path / "p" / n).write_text("x")
    choices = profile_choices(tmp_path / "p")
    assert list(choices) == ["p/smoke.yaml", "p/peak.yaml"]
    assert "/any/where/else.yaml" in choices  # argparse's check: the CLI keeps accepting any path
    assert isinstance(choices, ProfileChoices)
    assert list(profile_choices(tmp_path / "p", [str(tmp_path / "p" / "peak.yaml")]))[0] == "p/peak.yaml"


def _ui_ns(web_host: str) -> argparse.Namespace:
    return argparse.Namespace(
        profile="smoke", host="http://127.0.0.1:1", web_host=web_host, web_port=8089, locust_args=[]
    )


def test_erpload_ui_binds_loopback_and_requires_login_elsewhere(monkeypatch):
    from erpload.cli import ui_command

    monkeypatch.delenv("ERPLOAD_WEB_USER", raising=False)
    monkeypatch.delenv("ERPLOAD_WEB_PASSWORD", raising=False)
    cmd = ui_command(_ui_ns("127.0.0.1"))
    assert cmd[cmd.index("--web-host") + 1] == "127.0.0.1" and "--web-login" not in cmd
    with pytest.raises(ConfigError, match="ERPLOAD_WEB_USER"):
        ui_command(_ui_ns("0.0.0.0"))
    monkeypatch.setenv("ERPLOAD_WEB_USER", "lead")
    monkeypatch.setenv("ERPLOAD_WEB_PASSWORD", "s3cret")
    cmd = ui_command(_ui_ns("0.0.0.0"))
    assert "--web-login" in cmd and "s3cret" not in " ".join(cmd)
