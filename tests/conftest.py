"""Shared fixtures: one seeded ERP database per session, a reference ERP per module (a real process or
the app in-process), and cleanup of every process a test started. Helpers live in helpers.py."""

from __future__ import annotations

# Integration tests run Locust in-process, and Locust monkey-patches the process with gevent on
# import. Patching after `ssl`/`requests` were imported recurses inside ssl, so patch first, here.
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import AppTarget, Proc, Target, copy_db, seed_db  # noqa: E402

# Seconds spent per test file (setup + call + teardown), written where tests/parallel.py asks, so the
# next run's slices are balanced by what each file really cost.
_TIMES_FILE = os.environ.get("ERPLOAD_TEST_TIMES", "")
_file_seconds: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _TIMES_FILE:
        path = report.nodeid.split("::", 1)[0]
        _file_seconds[path] = _file_seconds.get(path, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _TIMES_FILE and _file_seconds:
        Path(_TIMES_FILE).write_text(json.dumps(_file_seconds, indent=1, sort_keys=True))


@pytest.fixture(scope="session")
def seeded_erp_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reference ERP database seeded once per session; fixtures start from copies of it."""
    return seed_db(tmp_path_factory.mktemp("seeded") / "erp.db")


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, seeded_erp_db: Path):
    """A healthy reference ERP process shared by the tests of one module (on a copy of the seed)."""
    tmp = tmp_path_factory.mktemp("target")
    t = Target(tmp, db=copy_db(seeded_erp_db, tmp))
    yield t
    t.stop()


@pytest.fixture(scope="module")
def app_target(tmp_path_factory: pytest.TempPathFactory, seeded_erp_db: Path):
    """The reference ERP's app in this process, called through Flask's test client (no socket).

    For tests of what the app answers; tests of the server (sockets, signals, shutdown) use `target`.
    """
    t = AppTarget(copy_db(seeded_erp_db, tmp_path_factory.mktemp("app")))
    yield t
    t.close()


@pytest.fixture(autouse=True, scope="session")
def _no_orphans():
    yield
    Proc.stop_all()
