"""Fail closed: when the SLA code cannot load, nothing validates and nothing runs (real processes).

A meta-path finder makes the profile schema's `import erpload.sla.grammar` raise ImportError, as a
broken install would (the SLA evaluation and report code, imported first, keep theirs).
The profile schema used to catch that and return no rules ("the SLA grammar is optional until it is
installed"): `erpload validate` said OK and a run had no SLA, so it could only pass.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from helpers import PY, ROOT

pytestmark = pytest.mark.e2e

BLOCK = '''import sys

import erpload.sla  # the SLA evaluation and the reports load with the grammar; then it breaks for
sys.modules.pop("erpload.sla.grammar")  # whoever imports it next: the profile schema


class _BlockSla:
    """A broken install: the SLA grammar cannot be imported."""

    def find_spec(self, name, path=None, target=None):
        if name == "erpload.sla.grammar":
            raise ImportError("erpload.sla.grammar blocked by the test (a broken install)", name=name)
        return None


sys.meta_path.insert(0, _BlockSla())
assert "erpload.profile" not in sys.modules
'''
VALIDATE = 'from erpload.cli import main\nsys.exit(main(["validate", "profiles/smoke.yaml"]))\n'
LOCUST = 'from locust.main import main\nsys.argv[0] = "locust"\nmain()\n'


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_validate_refuses_when_the_sla_grammar_cannot_load() -> None:
    control = _run([PY, "-c", "import sys\n" + VALIDATE])
    assert control.returncode == 0 and "OK profiles/smoke.yaml" in control.stdout, control.stderr[-2000:]

    out = _run([PY, "-c", BLOCK + VALIDATE])
    both = out.stdout + out.stderr
    assert out.returncode not in (0, 2), both[-2000:]  # not "valid", and not a profile problem either
    assert "ImportError: erpload.sla.grammar blocked by the test" in both
    assert "OK " not in out.stdout and "PASS" not in both


def test_locust_refuses_to_start_and_sends_nothing(tmp_path: Path) -> None:
    wrapper = tmp_path / "locust_without_sla.py"
    wrapper.write_text(BLOCK + LOCUST)
    with socket.socket() as listener:  # the "target": any connection would wait in its backlog
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.setblocking(False)
        host = f"http://127.0.0.1:{listener.getsockname()[1]}"
        out = _run(
            [
                PY,
                str(wrapper),
                "-f",
                "locustfiles/",
                "--headless",
                "--load-profile",
                "profiles/smoke.yaml",
                "-H",
                host,
                "--report-dir",
                str(tmp_path / "reports"),
            ]
        )
        both = out.stdout + out.stderr
        assert out.returncode != 0, both[-2000:]
        assert "ImportError: erpload.sla.grammar blocked by the test" in both
        assert "PASS" not in both and not (tmp_path / "reports" / "summary.json").exists()
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing connected: not one request was sent
