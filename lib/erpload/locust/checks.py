"""Configuration checks at init: a bad profile, host, baseline, environment, credentials, API map or report dir exits 2.

Each check prints every problem (where, what, fix) and ends the process with exit 2 at once: nothing
has started yet, so Locust's shutdown path (and its exit 1) is skipped. Last, a headless start
checks the API map against the target (erpload.locust.apimap.preflight: login plus one list call).
Also here: Locust's bare "Gave up waiting for workers" (exit 1) becomes an actionable message with exit 2.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

import psutil
from locust import FastHttpUser, HttpUser
from locust.env import Environment
from locust.runners import MasterRunner

from erpload.core.errors import ConfigError, ExitCode
from erpload.core.hosts import check_host
from erpload.locust import apimap
from erpload.profile import Profile, check_memory, load_profile
from erpload.report import check_report_dir
from erpload.report.baseline import check_options
from erpload.report.history import open_history
from erpload.report.history_pool import resolve_baseline
from erpload.users import credentials
from erpload.users.settings import Settings, configure

log = logging.getLogger("erpload")


def exit_invalid_config(err: ConfigError) -> NoReturn:
    """Print the error (every problem) and exit 2 at once."""
    sys.stderr.write(err.render() + "\n")
    sys.stderr.flush()
    logging.shutdown()
    os._exit(int(ExitCode.CONFIG_INVALID))


def configure_settings() -> None:
    """The role users' ERPLOAD_* settings (think time, request timeout, TLS), read once per process."""
    try:
        configure(Settings.from_env(os.environ))
    except ConfigError as e:
        exit_invalid_config(e)


def configure_api_map(environment: Environment) -> None:
    """Every process: the map of --api-map / ERPLOAD_API_MAP (else the reference map); a bad file exits 2."""
    try:
        apimap.configure_from_option(environment)
    except ConfigError as e:
        exit_invalid_config(e)


def check_credentials() -> None:
    """A bad credentials file is a configuration error: exit 2 before any user logs in."""
    try:
        credentials.pool()
    except ConfigError as e:
        exit_invalid_config(e)


def credential_needs(user_classes: Iterable[type], roles: Iterable[str] | None) -> dict[str, str]:
    """User class name -> the credential key its users log in with, for the classes that will run.

    `roles`: the profile's role names (None: every class given, as in a run without a profile).
    Classes without a `role_key` (a team's own non-ErpUser classes) need no account.
    """
    wanted = None if roles is None else set(roles)
    return {
        cls.__name__: key
        for cls in user_classes
        if (wanted is None or cls.__name__ in wanted) and (key := str(getattr(cls, "role_key", "") or ""))
    }


def running_roles(profile: Profile) -> set[str]:
    """The roles a profile starts users of (weight > 0 in its mix or in a stage's own mix)."""
    names = {name for name, w in profile.roles.items() if w > 0}
    for stage in profile.stages:
        names |= {name for name, w in (stage.roles or {}).items() if w > 0}
    return names


def validate_early(environment: Environment) -> None:
    """Master / local run: profile, API map, accounts for every role it runs, report dir, host, baseline;
    then (headless) the map against the target. Any of them wrong: exit 2."""
    opts = environment.parsed_options
    classes = list(environment.user_classes)
    headless = bool(getattr(opts, "headless", False))
    profile = None
    try:
        path = getattr(opts, "load_profile", "")
        if path:
            profile = load_profile(path, known_roles=[c.__name__ for c in classes])
            check_fits_in_memory(environment, profile)
        # the API map: --api-map / ERPLOAD_API_MAP, else the profile's api:, else the reference map
        api_map = apimap.select_api_map(apimap.option_path(opts), profile)
        apimap.ship(environment, api_map)  # to the workers with every spawn message
        needs: dict[str, str] = {}
        if profile is not None or headless:  # the web UI picks its profile later
            roles = running_roles(profile) if profile is not None else None
            needs = credential_needs(classes, roles)
            credentials.check_roles(credentials.pool(), needs, api_map)  # each role's pool through the map
        if getattr(opts, "report_dir", ""):
            check_report_dir(opts.report_dir)
        host = environment.host or (profile.host if profile is not None else None)
        if host or (headless and needs_host(classes)):  # the web UI form may give it
            host = check_host(host)
        if getattr(opts, "history", ""):  # created if missing; corrupt, locked or unreachable: exit 2 now
            open_history(opts.history).close()
        if getattr(opts, "baseline", ""):  # read again at the end; a bad one must not cost a whole run
            check_options(opts.baseline_tolerance, getattr(opts, "baseline_min_samples", 100))
            resolve_baseline(opts.baseline, getattr(opts, "history", ""), profile.name if profile else "")
        if headless and host and needs:  # last: the only check that sends anything (2 requests)
            apimap.preflight(host, api_map)
    except ConfigError as e:
        exit_invalid_config(e)


def check_fits_in_memory(environment: Environment, profile: Profile) -> None:
    """Peak users / workers x KB per user against the memory free here; ConfigError with the arithmetic.

    With --processes N every worker shares this machine, so the whole load counts against it.
    """
    opts = environment.parsed_options
    shared = bool(getattr(opts, "processes", None))
    workers = (
        int(getattr(opts, "expect_workers", 1) or 1) if isinstance(environment.runner, MasterRunner) else 1
    )
    problems = check_memory(
        profile, workers=1 if shared else workers, available_bytes=psutil.virtual_memory().available
    )
    if problems:
        raise ConfigError(str(profile.source_path or profile.name), problems)


def needs_host(user_classes: Iterable[type]) -> bool:
    """True when an HTTP user class has no `host` of its own (then -H / the profile must give one)."""
    return any(issubclass(c, HttpUser | FastHttpUser) and not getattr(c, "host", None) for c in user_classes)


class TooFewWorkers(logging.Handler):
    """Turns Locust's bare "Gave up waiting for workers to connect" (exit 1) into an actionable error (exit 2)."""

    def __init__(self, environment: Environment) -> None:
        super().__init__(logging.ERROR)
        self.env = environment

    def emit(self, record: logging.LogRecord) -> None:
        if not record.getMessage().startswith("Gave up waiting for workers"):
            return
        runner: MasterRunner = self.env.runner  # type: ignore[assignment]
        opts: Any = self.env.parsed_options
        ready = [f"index {runner.get_worker_index(c.id)} ({c.id})" for c in runner.clients.ready]
        port = getattr(opts, "master_bind_port", 5557)
        log.error(
            "erpload: only %d of %d expected workers connected within --expect-workers-max-wait %ss "
            "(connected: %s). Nothing was sent to the target. Fix: start the missing workers "
            "(locust -f locustfiles/ --worker --master-host <this host> --master-port %s), check that TCP port %s "
            "on this host is reachable from them, or lower --expect-workers. Exit %d.",
            len(ready),
            getattr(opts, "expect_workers", 0),
            getattr(opts, "expect_workers_max_wait", 0),
            ", ".join(ready) or "none",
            port,
            port,
            int(ExitCode.CONFIG_INVALID),
        )
        runner.quit()  # tells the connected workers to quit, as Locust would
        logging.shutdown()
        os._exit(int(ExitCode.CONFIG_INVALID))


def install_worker_count_check(environment: Environment) -> None:
    """Master: too few workers within --expect-workers-max-wait is a configuration error (exit 2)."""
    if isinstance(environment.runner, MasterRunner):
        logging.getLogger("locust.main").addHandler(TooFewWorkers(environment))
