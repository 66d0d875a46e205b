"""A full disk at the end of a run: no report claims a verdict the process does not give (exit 6).

The report dir is a real 64 KiB tmpfs, filled so that the run's reports cannot fit (root, like CI).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from helpers import FAST_THINK, PROFILES, PY, Proc, Target

pytestmark = pytest.mark.e2e
# the ones that carry the verdict
REPORTS = {"summary.json", "junit.xml", "summary.md", "report.html", "comment.md"}


def test_reports_that_cannot_be_written_leave_none_behind_and_the_run_exits_6(target: Target, tmp_path: Path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert mounted.returncode == 0, f"this test mounts a small tmpfs and needs root: {mounted.stderr}"
    try:
        st = os.statvfs(mnt)
        # 56 KiB left: the resource files, summary.json (~26 KB), junit.xml and summary.md fit, report.html
        # (~32 KB) then does not -- the case where summary.json used to say "pass" beside exit 6
        (mnt / "filler").write_bytes(b"\0" * (st.f_bavail * st.f_frsize - 56 * 1024))
        rep = mnt / "reports"
        proc = Proc(
            [PY, "-m", "erpload.cli", "run", str(PROFILES / "short.yaml"), "-H", target.url]
            + ["--report-dir", str(rep), "-t", "5s"],
            env=FAST_THINK,
            name="full-disk",
            log_dir=tmp_path,
        )
        rc = proc.wait(120)
        out = proc.output
        assert rc == 6, proc.tail()
        left = set(os.listdir(rep))
        assert not left & REPORTS, f"a report here would claim a verdict the process does not give: {left}"
        assert not [f for f in left if f.endswith(".tmp")], left
        assert "Error: reports could not be written:" in out
        assert f"{rep / 'report.html'}: No space left on device" in out  # named, with the reason
    finally:
        for _ in range(20):  # another process walking /tmp can hold the mount for a moment
            if subprocess.run(["umount", str(mnt)], capture_output=True, timeout=30).returncode == 0:
                break
            time.sleep(0.1)  # bounded retry of a busy unmount
        else:
            subprocess.run(["umount", "-l", str(mnt)], check=True, timeout=30)
