"""Where `erpload` finds the role users, the profiles and a team's own locustfile, from any directory.

The shipped role users (`erpload/roles/`) and profiles (`erpload/profiles/`) are package data,
found with `importlib.resources`, so an installed wheel works wherever it is run from.
`ERPLOAD_LOCUSTFILES` / `ERPLOAD_PROFILES` point elsewhere (the Docker image uses them); a `-f`
locustfile or a profile path on the command line wins over both. Anything missing is a ConfigError
(exit 2) naming what was looked for and how to fix it, before Locust starts.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from erpload.core.errors import ConfigError, Problem
from erpload.core.units import did_you_mean

LOCUSTFILES_ENV = "ERPLOAD_LOCUSTFILES"
PROFILES_ENV = "ERPLOAD_PROFILES"
HARNESS = "harness.py"  # the shipped module that installs the plugin (roles/harness.py)


def shipped(name: str) -> Path:
    """A directory shipped inside the erpload package (`roles`, `profiles`) as a filesystem path."""
    root = resources.files("erpload").joinpath(name)
    if not isinstance(root, Path) or not root.is_dir():  # e.g. a zipped install: Locust needs real files
        raise ConfigError(
            "the erpload installation",
            [
                Problem(
                    f"erpload/{name}",
                    f"not a directory on disk (got {root!r})",
                    "Reinstall erpload from its wheel with pip (an unpacked install)",
                )
            ],
        )
    return root


def _from_env(env: str, default: str) -> tuple[Path, str]:
    value = os.environ.get(env, "")
    return (Path(value), env) if value else (shipped(default), "")


def default_locustfiles() -> Path:
    """The role users: $ERPLOAD_LOCUSTFILES, else the shipped erpload/roles/ (checked to exist)."""
    path, env = _from_env(LOCUSTFILES_ENV, "roles")
    if not path.is_dir() and not (path.is_file() and path.suffix == ".py"):
        raise ConfigError(
            "the environment",
            [
                Problem(
                    env,
                    f"no such locustfile or directory: {path}",
                    f"Unset {env} to use the shipped role users",
                )
            ],
        )
    return path


def harness() -> Path:
    """The shipped roles/harness.py: added to a team's `-f` so erpload's options and shape are installed."""
    return shipped("roles") / HARNESS


def locustfile_arg(value: str | None) -> str:
    """What `-f` gets: the team's locustfile(s) checked to exist (Locust's own -f syntax: comma-separated
    .py files or directories), else the shipped role users. Relative paths are made absolute."""
    if not value:
        return str(default_locustfiles())
    problems: list[Problem] = []
    parts = []
    for raw in (p.strip() for p in value.split(",")):
        if raw.startswith(("http://", "https://")):  # Locust downloads these itself
            parts.append(raw)
            continue
        path = Path(raw).expanduser()
        if path.is_dir() or (path.is_file() and path.suffix == ".py"):
            parts.append(str(path.resolve()))
        elif path.is_file():
            problems.append(
                Problem(f"-f {raw}", "not a .py file", "Give a Python locustfile or a directory of them")
            )
        else:
            problems.append(
                Problem(
                    f"-f {raw}",
                    f"no such file or directory (looked in {Path.cwd()})",
                    "Give the path of your locustfile (a .py file, a directory of them, or several "
                    "separated by commas), or leave -f out to run the shipped role users",
                )
            )
    if problems:
        raise ConfigError("the command line", problems)
    return ",".join(parts)


def profiles_dir() -> Path:
    """Where bare profile names are looked up: $ERPLOAD_PROFILES, else the shipped erpload/profiles/."""
    return _from_env(PROFILES_ENV, "profiles")[0]


def profile_names(directory: Path) -> list[str]:
    """The profile names in a directory (`smoke` for smoke.yaml); empty if it is not one."""
    try:
        return sorted(p.stem for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    except OSError:
        return []


def profile_path(name: str) -> Path:
    """A profile file: a path as given, or a bare name from the profiles directory (`smoke` ->
    .../profiles/smoke.yaml). ConfigError (exit 2) when neither exists, with the names it knows."""
    given = Path(name).expanduser()
    if given.is_file():
        return given
    looks_like_path = given.suffix in (".yaml", ".yml") or os.sep in name or given.is_dir()
    directory = profiles_dir()
    if not looks_like_path:
        for suffix in (".yaml", ".yml"):
            if (candidate := directory / f"{name}{suffix}").is_file():
                return candidate
    if given.is_dir():
        what = "a directory, not a profile file"
    elif looks_like_path:
        what = f"no such file (looked in {Path.cwd()})"
    else:
        what = f"no profile of that name in {directory}"
    known = profile_names(directory)
    fix = did_you_mean(given.stem, known) + "Give the path of a profile .yaml file or the name of one in "
    fix += f"{directory}" + (f" ({', '.join(known)})" if known else "")
    raise ConfigError("the command line", [Problem(f"profile '{name}'", what, fix)])
