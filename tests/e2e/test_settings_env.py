"""Bad ERPLOAD_* settings stop `locust -f locustfiles/` with exit 2 and the fix, before any user starts.

They used to raise while Locust imported the locustfiles: exit 1 and a 23-line traceback (issue 13.15);
an infinite or absurd think time was even accepted (users would sleep forever).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import PY, ROOT, Proc, free_port

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    "var, value",
    [
        ("ERPLOAD_THINK_TIME", "5,1"),
        ("ERPLOAD_THINK_TIME", "0,inf"),
        ("ERPLOAD_THINK_TIME", "nan"),
        ("ERPLOAD_THINK_TIME", "-1,2"),
        ("ERPLOAD_THINK_TIME", "0,86400"),
        ("ERPLOAD_REQUEST_TIMEOUT", "abc"),
        ("ERPLOAD_REQUEST_TIMEOUT", "0"),
        ("ERPLOAD_INSECURE_TLS", "maybe"),
    ],
)
def test_bad_setting_exits_2_naming_the_variable(tmp_path: Path, var: str, value: str) -> None:
    # nothing listens on the port: any request sent would fail, but none may be (config first)
    url = f"http://127.0.0.1:{free_port()}"
    args = [
        "-f",
        str(ROOT / "locustfiles"),
        "--headless",
        "--load-profile",
        str(ROOT / "profiles" / "smoke.yaml"),
    ]
    proc = Proc([PY, "-m", "locust", *args, "-H", url], env={var: value}, name="locust", log_dir=tmp_path)
    rc = proc.wait(60)
    out = proc.output
    assert rc == 2, out
    assert f"{var}: " in out and repr(value) in out, out  # where and what
    assert f"Set {var}" in out, out  # how to fix
    assert "Traceback" not in out and "Ramping to" not in out and "spawning" not in out.lower(), out
