"""Credential pools per role key (pure): a YAML/JSON file named by $ERPLOAD_CREDENTIALS, else the seeded accounts.

Pool keys are free names (a team's ERP has its own roles): a file may hold any key. A user of role
key K logs in from the pool the API map names for K (`ApiMap.pool_key`, K itself unless mapped);
`check_roles` fails the run before any login when a pool a role needs is empty.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from erpload.api import ApiMap
from erpload.core.errors import ConfigError, Problem
from erpload.core.safeyaml import load_yaml_text
from erpload.core.units import did_you_mean, preview

# role key -> (username prefix, digits, count), as in the contract's Roles table (docs/erp-api.md)
SEEDED: dict[str, tuple[str, int, int]] = {
    "admin": ("admin", 2, 10),
    "ppic": ("ppic", 2, 30),
    "cutting": ("cutting", 3, 100),
    "sewing": ("sewing", 3, 100),
    "finishing": ("finishing", 3, 60),
    "qc": ("qc", 2, 60),
    "warehouse": ("warehouse", 2, 30),
}
DEFAULT_SEED_PASSWORD = "erpload-demo"
FILE_ENV = "ERPLOAD_CREDENTIALS"
SEED_PASSWORD_ENV = "ERP_SEED_PASSWORD"
_FILE_FIX = "Expected {role_key: [{username: ..., password: ...}, ...]}"
KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # a pool key: a name, as a profile or a map writes it


class Secret:
    """A string that never shows itself in repr/str/format/logs; `reveal()` is the only way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value: only for the login request body."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"

    def __format__(self, spec: str) -> str:
        return "********"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Credential:
    """One account: its username and masked password."""

    username: str
    password: Secret


class CredentialPool:
    """Accounts per role key, handed out round-robin: unique while they last, then reused."""

    def __init__(self, accounts: Mapping[str, Sequence[Credential]], source: str) -> None:
        self.source = source
        self._accounts = {role: tuple(creds) for role, creds in accounts.items() if creds}
        self._issued: dict[str, int] = {}

    def passwords(self) -> list[str]:
        """Every password in the pool, for redaction only (never log or write them)."""
        return [c.password.reveal() for creds in self._accounts.values() for c in creds]

    def keys(self) -> list[str]:
        """The pool keys that hold accounts, sorted."""
        return sorted(self._accounts)

    def size(self, role_key: str) -> int:
        """How many accounts the pool holds for `role_key`."""
        return len(self._accounts.get(role_key, ()))

    def next(self, role_key: str, worker: int = 0, workers: int = 1) -> Credential:
        """The next account of `role_key`; with `workers` > 1, worker `worker` takes every `workers`-th one."""
        accounts = self._accounts.get(role_key)
        if not accounts:
            known = ", ".join(sorted(self._accounts)) or "none"
            raise ConfigError(
                self.source,
                [
                    Problem(
                        role_key,
                        f"no accounts for role '{role_key}' (roles with accounts: {known})",
                        f"Add '{role_key}: [{{username: ..., password: ...}}]' to the credentials file",
                    )
                ],
            )
        k = self._issued.get(role_key, 0)
        self._issued[role_key] = k + 1
        return accounts[(max(worker, 0) + k * max(workers, 1)) % len(accounts)]


def check_roles(pool: CredentialPool, needs: Mapping[str, str], api_map: ApiMap | None = None) -> None:
    """Fail before any login when a pool a role needs is empty; `needs`: user class -> its key.

    With `api_map`, the keys are role keys, each read through the map (`pool_key`), and a problem
    names both; without, they are pool keys already. Raises one ConfigError naming every empty pool
    and the classes that need it (a run would otherwise send no load for those roles and report
    their LOGIN failures as the target's).
    """
    missing: dict[str, list[str]] = {}
    mapped: dict[str, str] = {}  # pool key -> the role key the map maps to it
    for cls_name, role_key in sorted(needs.items()):
        key = api_map.pool_key(role_key) if role_key and api_map is not None else role_key
        if key and pool.size(key) == 0:
            missing.setdefault(key, []).append(cls_name)
            if key != role_key:
                mapped[key] = role_key
    if not missing:
        return
    have = pool.keys()
    raise ConfigError(
        pool.source,
        [
            Problem(
                key,
                f"no accounts for role key '{key}'"
                + (f" (the API map's pool for role key '{mapped[key]}')" if key in mapped else "")
                + f", needed by {', '.join(classes)} (keys with accounts: {', '.join(have) or 'none'})",
                f"{did_you_mean(key, have)}Add '{key}: [{{username: ..., password: ...}}]' to it, "
                "or take those roles out of the profile",
            )
            for key, classes in sorted(missing.items())
        ],
    )


def seeded_accounts(password: str) -> dict[str, list[Credential]]:
    """The reference ERP's seeded accounts (cutting001 ... cutting100, ...), all with `password`."""
    secret = Secret(password)
    return {
        role: [Credential(f"{prefix}{i:0{digits}d}", secret) for i in range(1, count + 1)]
        for role, (prefix, digits, count) in SEEDED.items()
    }


def parse_accounts(data: object, source: str) -> dict[str, list[Credential]]:
    """Validate a loaded credentials document; raise ConfigError listing every problem (never a password)."""
    if not isinstance(data, dict):
        raise ConfigError(
            source, [Problem("", f"top level must be a mapping (got {type(data).__name__})", _FILE_FIX)]
        )
    problems: list[Problem] = []
    out: dict[str, list[Credential]] = {}
    for role, entries in data.items():
        if not isinstance(role, str) or not KEY.fullmatch(role):
            problems.append(
                Problem(
                    preview(role),
                    f"role key {preview(role)} is not a name",
                    "Use letters, digits, '_', '-' or '.' (up to 64, starting with a letter or digit), "
                    "e.g. the role_key of a user class, or a pool the API map's roles: names",
                )
            )
            continue
        if not isinstance(entries, list) or not entries:
            problems.append(
                Problem(
                    role, f"must be a non-empty list of accounts (got {type(entries).__name__})", _FILE_FIX
                )
            )
            continue
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            where = f"{role}[{i}]"
            if not isinstance(entry, dict):
                problems.append(Problem(where, f"must be a mapping (got {type(entry).__name__})", _FILE_FIX))
                continue
            extra = sorted(set(map(str, entry)) - {"username", "password"})
            if extra:
                problems.append(
                    Problem(where, f"unknown keys {extra}", "Only 'username' and 'password' are read")
                )
            user, pwd = entry.get("username"), entry.get("password")
            for key, value in (("username", user), ("password", pwd)):
                if not isinstance(value, str) or not value:
                    got = "missing" if value is None else f"a {type(value).__name__}"  # never echo the value
                    problems.append(
                        Problem(
                            f"{where}.{key}",
                            f"must be a non-empty string (got {got})",
                            "Quote it in YAML if it looks like a number",
                        )
                    )
            if isinstance(user, str) and user in seen:
                problems.append(
                    Problem(f"{where}.username", f"duplicate username '{user}'", "List each account once")
                )
            if isinstance(user, str) and user and isinstance(pwd, str) and pwd and user not in seen:
                seen.add(user)
                out.setdefault(role, []).append(Credential(user, Secret(pwd)))
    if problems:
        raise ConfigError(source, problems)
    return out


def load_file(path: str | Path) -> dict[str, list[Credential]]:
    """Read a credentials file (JSON if it ends in .json, else YAML) and validate it."""
    p = Path(path)
    source = f"credentials file {p} (from ${FILE_ENV})"
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(
            source,
            [
                Problem(
                    "",
                    f"cannot read it ({e.strerror or e})",
                    f"Point ${FILE_ENV} at a readable YAML or JSON file",
                )
            ],
        ) from None
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:  # within bounds: size, depth, alias expansion, number length, duplicate keys
            data, problems = load_yaml_text(text)
            if problems:
                raise ConfigError(source, problems)
    except json.JSONDecodeError as e:
        raise ConfigError(
            source, [Problem(f"line {e.lineno} column {e.colno}", f"invalid JSON: {e.msg}", _FILE_FIX)]
        ) from None
    return parse_accounts(data, source)


def load_pool(env: Mapping[str, str] | None = None) -> CredentialPool:
    """Build the pool from $ERPLOAD_CREDENTIALS if set, else the seeded accounts ($ERP_SEED_PASSWORD)."""
    env = os.environ if env is None else env
    path = env.get(FILE_ENV, "").strip()
    if path:
        return CredentialPool(load_file(path), f"credentials file {path}")
    password = env.get(SEED_PASSWORD_ENV) or DEFAULT_SEED_PASSWORD
    return CredentialPool(seeded_accounts(password), "the reference ERP's seeded accounts")


_POOL: CredentialPool | None = None


def pool() -> CredentialPool:
    """The process-wide pool, built on first use (so a bad file fails at the first login, not at import)."""
    global _POOL
    if _POOL is None:
        _POOL = load_pool()
    return _POOL


def reset_pool(new: CredentialPool | None = None) -> None:
    """Replace (or drop, to rebuild from the environment on next use) the process-wide pool."""
    global _POOL
    _POOL = new
