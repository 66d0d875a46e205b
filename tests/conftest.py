"""Shared fixtures: a reference ERP per module, and cleanup of every process a test started."""

from __future__ import annotations

# Integration tests run Locust in-process, and Locust monkey-patches the process with gevent on
# import. Patching after `ssl`/`requests` were imported recurses inside ssl, so patch first, here.
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import Proc, Target  # noqa: E402


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory):
    """A healthy reference ERP shared by the tests of one module."""
    t = Target(tmp_path_factory.mktemp("target"))
    yield t
    t.stop()


@pytest.fixture(autouse=True, scope="session")
def _no_orphans():
    yield
    Proc.stop_all()
