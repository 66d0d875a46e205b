"""erpload's Locust options on `erpload run` and `erpload ui`: listed in --help, passed on to Locust.

Built by the same `erpload.locust.options.add_options` that puts them on Locust's parser (that
module imports nothing of Locust), so the two lists never differ. Here an option only records the
words it was given: Locust parses them again, reads the ERPLOAD_* variable when the flag is absent,
and rejects a bad value itself (exit 2) before any load.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from typing import Any

from erpload.locust.options import add_options

DEST = "forwarded"  # the namespace attribute holding the words to pass on, in command-line order
FLAG_ACTIONS = ("store_true", "store_false", "store_const", "count")  # options that take no value
LOCUST_ONLY = (
    "env_var",
    "choices",
    "type",
    "default",
    "include_in_web_ui",
    "is_secret",
    "is_required",
    "is_multiple",
)


class Forward(argparse.Action):
    """Append the option (and its value, as typed) to `namespace.forwarded`."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        words = [option_string or self.option_strings[0]]
        if self.nargs != 0:
            words += list(values) if isinstance(values, list) else [str(values)]
        setattr(namespace, DEST, [*getattr(namespace, DEST, []), *words])


class _Group:
    """An argument group taking add_options' calls: Locust's kwargs dropped, the env var named in help."""

    def __init__(self, group: Any, skip: Iterable[str]) -> None:
        self._group, self._skip = group, set(skip)

    def add_argument(self, *names: str, **kwargs: Any) -> Any:
        if self._skip.intersection(names):
            return argparse.Namespace()  # a stand-in: add_options' group stores attributes on it
        env_var = kwargs.get("env_var")
        nargs = 0 if kwargs.get("action") in FLAG_ACTIONS else kwargs.get("nargs")
        help_text = kwargs.get("help") or ""
        if env_var:
            help_text += f" [env: {env_var}]"
        extra = {k: v for k, v in kwargs.items() if k not in (*LOCUST_ONLY, "action", "nargs", "help")}
        return self._group.add_argument(
            *names, action=Forward, nargs=nargs, default=argparse.SUPPRESS, help=help_text, **extra
        )


class _Parser:
    """What add_options needs of a parser: add_argument_group."""

    def __init__(self, parser: argparse.ArgumentParser, skip: Iterable[str]) -> None:
        self._parser, self._skip = parser, skip

    def add_argument_group(self, title: str, description: str | None = None) -> _Group:
        text = f"{description or ''} Passed on to Locust, which checks them.".strip()
        return _Group(self._parser.add_argument_group(title, text), self._skip)


def add_forwarded_options(parser: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    """Add erpload's Locust options (except `skip`) to an `erpload` subcommand's parser."""
    parser.set_defaults(**{DEST: []})
    add_options(_Parser(parser, skip))
