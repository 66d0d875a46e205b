"""The target host is checked before any load: scheme, host, port, no query/fragment/credentials."""

from __future__ import annotations

import pytest

from erpload.core.errors import ConfigError, ExitCode
from erpload.core.hosts import check_host, host_problems


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),  # Locust appends "/path": no "//path"
        ("https://erp.example.com/api/", "https://erp.example.com/api"),  # a path prefix is fine
        ("http://[::1]:8080", "http://[::1]:8080"),
        ("HTTP://erp:65535", "HTTP://erp:65535"),
        ("http://erp:1", "http://erp:1"),
    ],
)
def test_good_hosts_pass_without_trailing_slash(url: str, normalised: str) -> None:
    assert check_host(url) == normalised


@pytest.mark.parametrize(
    ("url", "what", "fix"),
    [
        (None, "missing", "-H http://"),
        ("", "missing", "-H http://"),
        ("ftp://erp.example.com", "scheme 'ftp://'", "Use http:// or https://"),
        ("http://[::1]:bad", "port 'bad' is not a number", "1-65535"),
        ("http://erp:0", "port 0 is out of range", "1-65535"),
        ("http://erp:65536", "port 65536 is out of range", "1-65535"),
        ("http://erp:", "port '' is not a number", "1-65535"),
        ("http://erp:\u00b2", "port '\u00b2' is not a number", "1-65535"),  # "²".isdigit() is True
        ("http://erp:" + "9" * 5000, "is not a number", "1-65535"),  # int() of 5000 digits raises
        ("http://:8000", "has no host name", "scheme://host[:port]"),
        ("http://[::1", "is not a URL", "scheme://host[:port]"),
        ("localhost:8000", "has no scheme", "http://localhost:8000"),
        ("http://erp/?tenant=1", "has a query", "scheme://host[:port][/path-prefix]"),
        ("http://erp/#top", "has a fragment", "scheme://host[:port][/path-prefix]"),
        ("http://erp /x", "contains whitespace", "Remove it"),
        ("http://admin:s3cret@erp", "carries credentials", "credentials file"),
    ],
)
def test_bad_hosts_say_where_what_and_how_to_fix(url: str | None, what: str, fix: str) -> None:
    with pytest.raises(ConfigError) as info:
        check_host(url)
    err = info.value
    assert err.exit_code == ExitCode.CONFIG_INVALID
    (problem,) = err.problems
    assert problem.where == "-H / --host / LOCUST_HOST"
    assert what in problem.message and fix in problem.fix, str(problem)
    assert "s3cret" not in err.render()  # the rendered error never repeats a password


def test_every_problem_is_listed_and_where_names_the_flag_used() -> None:
    problems = host_problems("ftp://:99999/?x", where="-H / --host")
    text = "\n".join(str(p) for p in problems)
    assert len(problems) == 4, text  # scheme, host, port, query: all at once
    assert all(p.where == "-H / --host" for p in problems)
