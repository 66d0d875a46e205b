"""Role-user settings from ERPLOAD_* variables: defaults, valid values, every bad value named with its fix."""

from __future__ import annotations

import subprocess
import sys

import pytest

from erpload.core.errors import ConfigError, ExitCode
from erpload.users import settings as S
from erpload.users.settings import Settings


def problems(environ: dict[str, str]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        Settings.from_env(environ)
    return info.value


def test_empty_environment_gives_the_safe_defaults() -> None:
    assert Settings.from_env({}) == Settings(think_time=None, request_timeout=10.0, insecure_tls=False)
    blank = {S.THINK_TIME: " ", S.REQUEST_TIMEOUT: "", S.INSECURE_TLS: ""}
    assert Settings.from_env(blank) == Settings()


@pytest.mark.parametrize(
    "environ, want",
    [
        ({S.THINK_TIME: "0.1,0.5"}, Settings(think_time=(0.1, 0.5))),
        ({S.THINK_TIME: "2"}, Settings(think_time=(2.0, 2.0))),
        ({S.THINK_TIME: "0,0"}, Settings(think_time=(0.0, 0.0))),  # the benchmarks: no think time at all
        ({S.THINK_TIME: " 1 , 3600 "}, Settings(think_time=(1.0, 3600.0))),
        ({S.REQUEST_TIMEOUT: "2.5"}, Settings(request_timeout=2.5)),
        ({S.INSECURE_TLS: "1"}, Settings(insecure_tls=True)),
        ({S.INSECURE_TLS: "Yes"}, Settings(insecure_tls=True)),
        ({S.INSECURE_TLS: "0"}, Settings(insecure_tls=False)),
        ({"ERPLOAD_OTHER": "whatever", "PATH": "/bin"}, Settings()),
    ],
)
def test_valid_values(environ: dict[str, str], want: Settings) -> None:
    assert Settings.from_env(environ) == want


@pytest.mark.parametrize(
    "var, value, what",
    [
        (S.THINK_TIME, "5,1", "MIN is above MAX (got '5,1')"),
        (S.THINK_TIME, "0,inf", "each bound must be 0 to 3600 seconds (got '0,inf')"),
        (S.THINK_TIME, "nan", "each bound must be 0 to 3600 seconds (got 'nan')"),
        (S.THINK_TIME, "0,nan", "(got '0,nan')"),
        (S.THINK_TIME, "-1,2", "each bound must be 0 to 3600 seconds (got '-1,2')"),
        (S.THINK_TIME, "0,7200", "each bound must be 0 to 3600 seconds (got '0,7200')"),
        (S.THINK_TIME, "1e308,1e309", "(got '1e308,1e309')"),
        (S.THINK_TIME, "1,2,3", "not 'MIN,MAX' seconds (got '1,2,3')"),
        (S.THINK_TIME, "fast", "not 'MIN,MAX' seconds (got 'fast')"),
        (S.REQUEST_TIMEOUT, "abc", "must be a number of seconds > 0 and <= 3600 (got 'abc')"),
        (S.REQUEST_TIMEOUT, "0", "(got '0')"),
        (S.REQUEST_TIMEOUT, "-5", "(got '-5')"),
        (S.REQUEST_TIMEOUT, "inf", "(got 'inf')"),
        (S.REQUEST_TIMEOUT, "nan", "(got 'nan')"),
        (S.REQUEST_TIMEOUT, "86400", "(got '86400')"),
        (S.INSECURE_TLS, "maybe", "not a yes/no value (got 'maybe')"),
    ],
)
def test_bad_value_names_the_variable_the_value_and_the_fix(var: str, value: str, what: str) -> None:
    err = problems({var: value})
    assert err.exit_code == ExitCode.CONFIG_INVALID == 2
    [p] = err.problems
    assert p.where == var and what in p.message and p.fix.startswith(f"Set {var}"), p
    assert f"{var}: " in err.render() and value.strip() in err.render()


def test_every_bad_variable_is_listed_at_once() -> None:
    err = problems({S.THINK_TIME: "5,1", S.REQUEST_TIMEOUT: "abc", S.INSECURE_TLS: "maybe"})
    assert [p.where for p in err.problems] == [S.THINK_TIME, S.REQUEST_TIMEOUT, S.INSECURE_TLS]
    assert err.render().startswith("Error: the environment (ERPLOAD_* variables) is not valid:")
    assert "Set ERPLOAD_THINK_TIME=MIN,MAX in seconds with 0 <= MIN <= MAX <= 3600" in err.render()
    assert "Set ERPLOAD_REQUEST_TIMEOUT to seconds, e.g. 10" in err.render()


def test_parse_think_time() -> None:
    assert S.parse_think_time("0.02,0.1") == (0.02, 0.1)
    with pytest.raises(ConfigError, match="ERPLOAD_THINK_TIME: MIN is above MAX"):
        S.parse_think_time("3,2")


def test_configure_and_current() -> None:
    try:
        assert S.current() == Settings()  # unconfigured: the defaults, whatever os.environ holds
        S.configure(Settings(think_time=(1.0, 2.0)))
        assert S.current().think_time == (1.0, 2.0)
    finally:
        S.configure(None)
    assert S.current() == Settings()


def test_importing_the_users_reads_no_environment() -> None:
    """A bad value no longer breaks `import` (it used to raise there, a traceback and exit 1)."""
    code = "import erpload.users.base, erpload.users.settings as s; print(s.current())"
    env = {"ERPLOAD_THINK_TIME": "5,1", "ERPLOAD_REQUEST_TIMEOUT": "abc", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert "think_time=None, request_timeout=10.0" in out.stdout
