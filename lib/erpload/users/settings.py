"""Role-user settings from ERPLOAD_* environment variables, read when the plugin initialises (never at import).

The plugin calls `configure(Settings.from_env(os.environ))` in `install()`; a bad value is a
ConfigError (exit 2) naming the variable, the value and the fix. Users read `current()` at run
time; unconfigured (unit tests, a locustfile without the plugin) it is the defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from erpload.core.errors import ConfigError, Problem
from erpload.core.units import QuantityError, parse_size

THINK_TIME = "ERPLOAD_THINK_TIME"
REQUEST_TIMEOUT = "ERPLOAD_REQUEST_TIMEOUT"
INSECURE_TLS = "ERPLOAD_INSECURE_TLS"
MAX_BODY = "ERPLOAD_MAX_BODY"
DEFAULT_MAX_BODY = 10 * 2**20  # 10 MiB: far above any ERP list page, far below a generator's memory
SOURCE = "the environment (ERPLOAD_* variables)"
MAX_SECONDS = 3600.0  # a think time or timeout above an hour is a typo (users would look hung)
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class Settings:
    """What every role user needs from the environment."""

    think_time: tuple[float, float] | None = None  # (min, max) s for every role; None: each class's own
    request_timeout: float = 10.0  # connect and network timeout of every request, seconds
    insecure_tls: bool = False  # skip TLS certificate verification (self-signed staging targets)
    max_body: int = DEFAULT_MAX_BODY  # response bodies are read up to this many bytes; more is a failure

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read the ERPLOAD_* variables; raise one ConfigError listing every bad one (where, what, fix)."""
        problems: list[Problem] = []
        think = request_timeout = insecure = None
        raw = environ.get(THINK_TIME, "").strip()
        if raw:
            think = _think_time(raw, problems)
        raw = environ.get(REQUEST_TIMEOUT, "").strip()
        if raw:
            request_timeout = _seconds(REQUEST_TIMEOUT, raw, problems)
        max_body = _size(MAX_BODY, environ.get(MAX_BODY, "").strip(), problems)
        raw = environ.get(INSECURE_TLS, "").strip().lower()
        if raw in _TRUE:
            insecure = True
        elif raw not in _FALSE:
            problems.append(
                Problem(
                    INSECURE_TLS,
                    f"not a yes/no value (got {raw!r})",
                    f"Set {INSECURE_TLS}=1 to skip TLS certificate verification; 0 or unset to verify",
                )
            )
        if problems:
            raise ConfigError(SOURCE, problems)
        return cls(
            think_time=think,
            request_timeout=cls.request_timeout if request_timeout is None else request_timeout,
            insecure_tls=bool(insecure),
            max_body=max_body or DEFAULT_MAX_BODY,
        )


def parse_think_time(spec: str) -> tuple[float, float]:
    """'0.1,0.5' -> (0.1, 0.5); '2' -> (2.0, 2.0); ConfigError naming ERPLOAD_THINK_TIME otherwise."""
    problems: list[Problem] = []
    think = _think_time(spec.strip(), problems)
    if think is None:
        raise ConfigError(SOURCE, problems)
    return think


def _think_time(raw: str, problems: list[Problem]) -> tuple[float, float] | None:
    fix = (
        f"Set {THINK_TIME}=MIN,MAX in seconds with 0 <= MIN <= MAX <= {MAX_SECONDS:g}, e.g. 0.1,0.5 "
        "(one number: a constant think time), or unset it to keep each role's own"
    )
    try:
        parts = [float(p) for p in raw.split(",")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2:
        problems.append(Problem(THINK_TIME, f"not 'MIN,MAX' seconds (got {raw!r})", fix))
        return None
    lo, hi = parts
    if not all(math.isfinite(p) and 0 <= p <= MAX_SECONDS for p in parts):
        problems.append(
            Problem(THINK_TIME, f"each bound must be 0 to {MAX_SECONDS:g} seconds (got {raw!r})", fix)
        )
    elif lo > hi:
        problems.append(Problem(THINK_TIME, f"MIN is above MAX (got {raw!r})", fix))
    else:
        return lo, hi
    return None


def _size(name: str, raw: str, problems: list[Problem]) -> int | None:
    """A size ("10MB", "512KiB", bytes) of at least 1 KiB, or None (unset, or a problem recorded)."""
    if not raw:
        return None
    try:
        size = parse_size(raw)
    except QuantityError as e:
        problems.append(Problem(name, e.message, e.fix))
        return None
    if size < 1024:
        problems.append(Problem(name, f"must be at least 1KiB (got {raw!r})", "e.g. 10MiB (the default)"))
        return None
    return size


def _seconds(name: str, raw: str, problems: list[Problem]) -> float | None:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and 0 < value <= MAX_SECONDS:
        return value
    problems.append(
        Problem(
            name,
            f"must be a number of seconds > 0 and <= {MAX_SECONDS:g} (got {raw!r})",
            f"Set {name} to seconds, e.g. 10, or unset it (default 10)",
        )
    )
    return None


_current: Settings | None = None


def configure(settings: Settings | None) -> None:
    """Use `settings` from now on in this process (the plugin, at init); None: back to the defaults."""
    global _current
    _current = settings


def current() -> Settings:
    """The configured settings, or the defaults (as from an empty environment) when none were configured."""
    return _current if _current is not None else _DEFAULT


_DEFAULT = Settings.from_env({})
