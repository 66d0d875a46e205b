"""Which API map a run speaks, in every process, and the preflight that fails fast when it does not fit.

Precedence: `--api-map` / `ERPLOAD_API_MAP`, else the load profile's `api:`, else the built-in
reference map (erpload.api.reference_map).

- Every process at init: the option's map is loaded (a bad file exits 2, erpload.locust.checks)
  and configured (erpload.users.api.configure_api).
- Master / local runner: the profile's `api:` is resolved too (headless: `validate_early`; web UI:
  the start form, then test_start) and the map is put in `parsed_options.erpload_api_map`
  (`ApiMap.to_dict()`). Locust forwards every parsed option that is not one of its own to the
  workers in each spawn message (runners.py, "custom_args_from_master"), and the master fires
  test_start before it sends the first one; a worker updates its parsed options before its own
  test_start and before any user exists, so its users (erpload.users.api.api_for) speak the
  master's map, whatever the worker was started with.
- Preflight (headless start, after the other checks; the web UI's Start): log in as the first
  account of the map's preflight role and call its preflight operation (a list, one item) through
  the map. A map that does not fit exits 2 naming the operation, the URL, the HTTP status, redacted
  evidence and the map key to fix. A target that does not answer (or answers 5xx) is not a
  configuration error: the preflight says so and the run goes on, showing the failures.
"""

from __future__ import annotations

import logging
from typing import Any

from locust.env import Environment
from locust.runners import WorkerRunner

from erpload.api import ApiMap, load_api_map, map_from_shipped, reference_map
from erpload.core.errors import ConfigError, Problem
from erpload.locust.apiclient import ApiCallError, ApiClient, Misfit, Unanswered
from erpload.users import credentials
from erpload.users.api import SHIPPED_OPTION, configure_api
from erpload.users.settings import current

__all__ = ["OPTION_SOURCE", "install_api_map", "preflight", "select_api_map", "ship"]

log = logging.getLogger("erpload")
OPTION_SOURCE = "--api-map / $ERPLOAD_API_MAP"
PREFLIGHT_TIMEOUT_S = 5.0  # per exchange; an ERP that needs longer at zero load is reported, not refused
FIT_DOC = "docs/your-erp.md"


def option_path(opts: Any) -> str:
    """The --api-map / ERPLOAD_API_MAP value ("" when not given)."""
    return str(getattr(opts, "api_map", "") or "").strip()


def select_api_map(option: str, profile: Any = None) -> ApiMap:
    """The map a run speaks: `option` (--api-map), else the profile's `api:`, else the reference map."""
    if option:
        return _load(option, OPTION_SOURCE)
    api = getattr(profile, "api", None) if profile is not None else None
    if api:
        return _load(str(api), f"the load profile's api: in {profile.source_path or profile.name}")
    return reference_map()


def _load(path: str, origin: str) -> ApiMap:
    try:
        return load_api_map(path)
    except ConfigError as e:
        raise ConfigError(f"{e.source} (given by {origin})", e.problems) from None


def ship(environment: Environment, api_map: ApiMap) -> None:
    """Master / local: speak `api_map` here and hand it to every worker with the spawn message."""
    if environment.parsed_options is not None:
        setattr(environment.parsed_options, SHIPPED_OPTION, api_map.to_dict())
    configure_api(api_map)


def configure_from_option(environment: Environment) -> ApiMap:
    """Every process at init: configure the option's map (or the reference map); ConfigError if bad."""
    api_map = select_api_map(option_path(environment.parsed_options))
    configure_api(api_map)
    return api_map


def install_api_map(environment: Environment, run: Any) -> None:
    """test_start: the master (re)selects and ships the map (a web UI run picks its profile late); a
    worker speaks the master's map. Register after ErploadRun.on_test_start (it sets run.profile)."""

    def on_master_test_start(**_: Any) -> None:
        try:
            ship(environment, select_api_map(option_path(environment.parsed_options), run.profile))
        except ConfigError as e:  # the form and validate_early checked it: a file changed since
            log.error("erpload: %s", e.render())
            run.mark_invalid("API map not loaded", "; ".join(str(p) for p in e.problems))

    def on_worker_test_start(**_: Any) -> None:
        shipped = getattr(environment.parsed_options, SHIPPED_OPTION, None)
        if shipped:
            configure_api(map_from_shipped(shipped))

    is_worker = isinstance(environment.runner, WorkerRunner)
    environment.events.test_start.add_listener(on_worker_test_start if is_worker else on_master_test_start)


# -- preflight -------------------------------------------------------------------------------------
def preflight(base_url: str, api_map: ApiMap) -> str:
    """Login plus one call of the preflight operation through the map; logs and returns what was found.

    ConfigError (exit 2) when the map does not fit the target; a target that does not answer, or
    answers 5xx, is logged as a warning and the run goes on.
    """
    fits, line = _preflight(base_url, api_map)
    (log.info if fits else log.warning)("erpload: %s", line)
    return line


def _preflight(base_url: str, api_map: ApiMap) -> tuple[bool, str]:
    key = api_map.pool_key(api_map.preflight_role)
    accounts = credentials.load_pool()  # a fresh pool: the run's own round-robin of accounts is untouched
    if accounts.size(key) == 0:
        return (
            False,
            f"preflight of the API map not done: no account for role key {key!r} (its preflight.role)",
        )
    cred = accounts.next(key)
    timeout = min(current().request_timeout, PREFLIGHT_TIMEOUT_S)
    client = ApiClient(base_url, api_map, timeout_s=timeout)
    op = api_map.preflight_operation
    try:
        try:
            client.login(cred.username, cred.password.reveal())
        except Misfit as e:
            raise _misfit(api_map, base_url, "login", e.key, e) from None
        except Unanswered as e:
            return _skipped(e)
        except ApiCallError as e:
            if _not_the_map(e.exchange.status):
                return _skipped(e)
            raise _misfit(
                api_map, base_url, "login", _login_key(e.exchange.status), e, cred.username
            ) from None
        params = {"page_size": 1} if api_map.op(op).is_list else None
        try:
            status, _ = client.call(op, params=params)
        except Misfit as e:
            raise _misfit(api_map, base_url, op, e.key, e) from None
        except Unanswered as e:
            return _skipped(e)
        exchange = client.last
        if not 200 <= status < 300 and exchange is not None:
            if _not_the_map(status):
                return _skipped(ApiCallError(f"HTTP {status}", exchange))
            err = ApiCallError(f"answered HTTP {status}", exchange)
            raise _misfit(api_map, base_url, op, _call_key(api_map, op, status), err) from None
    finally:
        client.close()
    return (
        True,
        f"API map {api_map.name!r} ({api_map.source}) fits {base_url}: login as {cred.username} and {op} answered",
    )


def _not_the_map(status: int) -> bool:
    """Answers that say the target is unwell, not that the map is wrong: the run shows them."""
    return status >= 500 or status in (408, 429)


def _skipped(e: ApiCallError) -> tuple[bool, str]:
    return False, f"preflight of the API map not done: {e}; the run goes on and will show the failures"


def _login_key(status: int) -> str:
    if status in (404, 405):
        return "login.path"
    if status in (401, 403):
        return "login.fields"
    return "login.encoding"


def _call_key(api_map: ApiMap, op: str, status: int) -> str:
    if status == 401:
        return "login.scheme"
    if status == 403:
        return "preflight.role"
    if status in (400, 422) and api_map.op(op).is_list:
        return "lists.params"
    return f"operations.{op}"


FIXES = {
    "lists.items": "Set lists.items to the dotted path of the list in the ERP's list answers "
    "(e.g. data, or result.rows)",
    "lists.total": "Set lists.total to where the list answer carries the total count (e.g. meta.total), "
    "or null if it has none",
    "lists.params": "Map the list query parameters the ERP reads in lists.params (e.g. {page_size: per_page})",
    "login.token": "Set login.token to where the login answer carries the token (e.g. token)",
    "login.expires_in": "Set login.expires_in to where the login answer carries the token's lifetime in "
    "seconds (e.g. ttl), or null to use login.default_ttl",
    "login.path": "Set base_path and login.path (and login.method) so that they name the ERP's login",
    "login.fields": "Check login.fields and login.encoding (the field names and body the ERP reads), and "
    "that the account of the preflight role is valid ($ERPLOAD_CREDENTIALS)",
    "login.encoding": "Set login.encoding (json or form) and login.fields to what the ERP's login reads",
    "login.scheme": "Set login.header and login.scheme to how the ERP wants the token "
    "(e.g. scheme: Token, or '' for the bare token)",
    "preflight.role": "Set preflight.role to a role whose accounts may call the preflight operation "
    "(or map that role to such a pool in roles:)",
}


def _misfit(
    api_map: ApiMap, base_url: str, op: str, key: str, e: ApiCallError, username: str = ""
) -> ConfigError:
    """The map does not fit: where (the map key), what (operation, URL, status, evidence), how to fix."""
    who = f" as {username}" if username else ""
    what = f"operation {op}{who} does not fit the target: {e.exchange.describe()}: {e.what}"
    fix = FIXES.get(key) or (
        f"Check {key} (method and path; base_path {api_map.base_path or '(none)'!r}) against the ERP's API"
    )
    if api_map.source == reference_map().source:
        fix += f". This is the built-in reference map: give your ERP's map with {OPTION_SOURCE} ({FIT_DOC})"
    else:
        fix += f" in {api_map.source} ({FIT_DOC})"
    return ConfigError(
        f"API map {api_map.source} (checked against {base_url} before any load)", [Problem(key, what, fix)]
    )
