"""The target's base URL, checked before any load is sent (pure: urllib.parse only).

    host = check_host("http://127.0.0.1:8000/")   # -> "http://127.0.0.1:8000" (no trailing slash)
    check_host("ftp://erp")                        # ConfigError: scheme must be http or https

Locust itself accepts any string as `-H` and only fails once users make requests (a StopTest
traceback for a missing host, a whole run of connection errors for `ftp://` or a bad port), so a
typo costs a full profile and ends as "SLA breached". Every problem is listed with where/what/fix.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from erpload.core.errors import ConfigError, Problem
from erpload.core.units import preview

__all__ = ["HOST_SOURCES", "check_host"]

HOST_SOURCES = "-H / --host / LOCUST_HOST"
EXAMPLE = "for example -H http://127.0.0.1:8000"
_PORT_RX = re.compile(r":([^:\]]*)$")  # the text after the last ':' that is not inside [IPv6]


def _port_problem(netloc: str, where: str) -> Problem | None:
    hostport = netloc.rpartition("@")[2]
    m = _PORT_RX.search(hostport)
    if m is None:
        return None
    text = m.group(1)
    if not re.fullmatch(r"[0-9]{1,5}", text):  # ASCII only: "²".isdigit() is True; 5000 digits never int()
        return Problem(where, f"port {preview(text)} is not a number", f"Give a port in 1-65535, {EXAMPLE}")
    if not 1 <= int(text) <= 65535:
        return Problem(where, f"port {text} is out of range", f"Give a port in 1-65535, {EXAMPLE}")
    return None


def host_problems(url: str | None, where: str = HOST_SOURCES) -> list[Problem]:
    """Every problem with `url` as the base URL of the ERP under test (empty list: it is usable)."""
    if url is None or not url.strip():
        return [Problem(where, "missing: no base URL for the ERP under test", f"Set one, {EXAMPLE}")]
    if url != url.strip() or any(c.isspace() for c in url):
        return [Problem(where, f"{url!r} contains whitespace", f"Remove it, {EXAMPLE}")]
    if "://" not in url:
        return [Problem(where, f"{url!r} has no scheme", f"Write it as http://{url} or https://{url}")]
    try:
        parts = urlsplit(url)
    except ValueError as e:  # e.g. an unclosed IPv6 bracket
        return [Problem(where, f"{url!r} is not a URL ({e})", f"Give scheme://host[:port], {EXAMPLE}")]
    problems: list[Problem] = []
    if parts.scheme.lower() not in ("http", "https"):
        problems.append(
            Problem(
                where,
                f"scheme {parts.scheme + '://'!r} in {url!r} is not supported",
                "Use http:// or https://",
            )
        )
    if not parts.hostname:
        problems.append(Problem(where, f"{url!r} has no host name", f"Give scheme://host[:port], {EXAMPLE}"))
    if parts.username is not None or parts.password is not None:
        problems.append(
            Problem(
                where,
                f"{url.split('://')[0]}://...@{parts.netloc.rpartition('@')[2]} carries credentials in the URL "
                "(they would be copied into every report)",
                "Remove 'user:password@'; role users log in with the credentials file",
            )
        )
    if (bad_port := _port_problem(parts.netloc, where)) is not None:
        problems.append(bad_port)
    junk = [name for name, value in (("query", parts.query), ("fragment", parts.fragment)) if value]
    if junk or url.endswith(("?", "#")):
        problems.append(
            Problem(
                where,
                f"{url!r} has a {' and a '.join(junk) or 'query'} (request paths are appended to the base URL)",
                "Give only scheme://host[:port][/path-prefix]",
            )
        )
    return problems


def check_host(url: str | None, where: str = HOST_SOURCES) -> str:
    """`url` without its trailing slash; ConfigError (exit 2) listing every problem otherwise."""
    problems = host_problems(url, where)
    if problems:
        raise ConfigError("the target host", problems)
    assert url is not None
    return url.rstrip("/")
