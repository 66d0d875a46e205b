"""The User class names a team's locustfile defines, for `erpload validate -f` (read in a child process).

Importing a locustfile imports Locust, whose gevent patches the process that imports it: the CLI never
does. `user_class_names` runs `python -m erpload.cli.userclasses FILES`, which loads them the way
Locust does (its `parse_locustfile_paths` and `load_locustfile`, so abstract bases are left out) and
prints the names as JSON on a marked line, whatever else the locustfile prints.
"""

from __future__ import annotations

import json
import subprocess
import sys

from erpload.core.errors import ConfigError, Problem

MARK = "erpload-user-classes: "
IMPORT_TIMEOUT_S = 120.0  # importing Locust and a locustfile takes ~2 s; a busy CI box, more


def user_class_names(locustfile: str, timeout: float = IMPORT_TIMEOUT_S) -> list[str]:
    """The User classes in `locustfile` (Locust's -f syntax); ConfigError (exit 2) if it cannot be loaded."""
    args = [sys.executable, "-m", "erpload.cli.userclasses", locustfile]
    where = f"-f {locustfile}"
    again = f"See the whole error with: {sys.executable} -m erpload.cli.userclasses {locustfile}"
    try:
        out = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            where,
            [
                Problem(
                    "",
                    f"importing it did not finish within {timeout:g}s",
                    "A locustfile must not wait on the network or a lock at import time",
                )
            ],
        ) from None
    line = next((ln for ln in reversed(out.stdout.splitlines()) if ln.startswith(MARK)), None)
    if out.returncode != 0 or line is None:
        errors = [ln.strip() for ln in (out.stderr + out.stdout).splitlines() if ln.strip()]
        last = errors[-1] if errors else f"exit code {out.returncode}, no output"
        raise ConfigError(where, [Problem("", f"it could not be imported: {last}", again)])
    names = json.loads(line[len(MARK) :])
    if not names:
        raise ConfigError(
            where,
            [
                Problem(
                    "",
                    "it defines no User class",
                    "Define a subclass of locust.HttpUser (or FastHttpUser, User) that is not abstract",
                )
            ],
        )
    return names


def main(argv: list[str]) -> int:
    """Child process: print the User class names of the locustfile(s) in argv[0]."""
    from locust.argument_parser import parse_locustfile_paths
    from locust.util.load_locustfile import load_locustfile

    names: set[str] = set()
    for path in parse_locustfile_paths([p.strip() for p in argv[0].split(",")]):
        users, _shapes = load_locustfile(path)
        names.update(users)
    print(MARK + json.dumps(sorted(names)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
