"""Reading a profile file within bounds (pure): size, nesting, alias expansion, number length, duplicate keys.

A profile is a few KB. Without bounds, an anchor bomb ("billion laughs": each list aliases the one
before nine times) expands to 10^9 values, 20,000 nested brackets overflow the composer's recursion,
a 5000-digit number costs seconds in int() and overflows float(), and a duplicate key silently
replaces the first (`users: 10` then `users: 1000`). Each is a `Problem` with where (line, column),
what (with the size got) and how to fix; plain YAML errors are reported the same way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from erpload.core.errors import Problem
from erpload.core.units import MAX_DIGITS, preview

MAX_BYTES = 1024 * 1024  # 1 MiB: the largest shipped profile is ~3 KB
MAX_DEPTH = 32  # a profile nests 4-5 levels (stages[0].roles.Admin); 32 leaves room for anchors
MAX_NODES = 100_000  # values after alias expansion; 50 stages x 20 roles x 50 rules is ~10,000
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class LimitError(yaml.YAMLError):
    """A bound the file broke, as a Problem."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _at(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting, alias bombs, over-long numbers and duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # the composer recurses once per level
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise LimitError(
                    Problem(
                        _at(self.peek_event().start_mark),
                        f"nested deeper than {MAX_DEPTH} levels",
                        "A profile needs 4-5 levels; check for unclosed or repeated brackets",
                    )
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> Any:
        node = super().compose_document()
        values = _expanded(node, {})
        if values > MAX_NODES:
            raise LimitError(
                Problem(
                    _at(node.start_mark),
                    f"the document expands to more than {MAX_NODES:,} values through its "
                    f"{self._aliases} aliases (*name)",
                    "Write the values out or use fewer nested aliases (an anchor bomb looks like this)",
                )
            )
        return node

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as e:  # `!!int name`: PyYAML lets int() raise
            tag = str(node.tag).rpartition(":")[2]
            raise LimitError(
                Problem(
                    _at(node.start_mark),
                    f"not a valid !!{tag} value (got {preview(node.value) if isinstance(node.value, str) else tag})",
                    f"Write a valid {tag} or remove the !!{tag} tag",
                )
            ) from e

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:  # `<<: *base` then overriding a key is what merge is for
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node.start_mark)
                except TypeError:  # unhashable: SafeConstructor reports it
                    continue
                if first is not key_node.start_mark:
                    raise LimitError(
                        Problem(
                            _at(key_node.start_mark),
                            f"duplicate key {preview(key)} (first at {_at(first)})",
                            "Remove one of them: YAML would silently keep only the last",
                        )
                    )
        return super().construct_mapping(node, deep)


def _expanded(node: Any, memo: dict[int, int]) -> int:
    """How many values `node` stands for with every alias written out (shared nodes counted once each use)."""
    if id(node) in memo:
        return memo[id(node)]
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded(child, memo) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded(k, memo) + _expanded(v, memo) for k, v in node.value)
    memo[id(node)] = min(total, MAX_NODES + 1)  # capped: the sum stays small however deep the bomb
    return memo[id(node)]


def _bounded_number(tag: str) -> Any:
    base = yaml.SafeLoader.yaml_constructors[tag]

    def construct(loader: BoundedLoader, node: Any) -> Any:
        digits = len(re.sub(r"[^0-9A-Za-z]", "", node.value))
        if digits > MAX_DIGITS:
            raise LimitError(
                Problem(
                    _at(node.start_mark),
                    f"a number of {digits} digits (got {node.value[:20]}...)",
                    f"Numbers in a profile have at most {MAX_DIGITS} digits",
                )
            )
        return base(loader, node)

    return construct


BoundedLoader.add_constructor(_INT_TAG, _bounded_number(_INT_TAG))
BoundedLoader.add_constructor(_FLOAT_TAG, _bounded_number(_FLOAT_TAG))


def load_yaml_text(text: str) -> tuple[Any, list[Problem]]:
    """Parse YAML text within the bounds; (data, []) or (None, [the problem])."""
    try:
        return yaml.load(text, Loader=BoundedLoader), []  # noqa: S506 (a SafeLoader subclass)
    except LimitError as e:
        return None, [e.problem]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        return None, [
            Problem(_at(mark), f"YAML syntax error: {what}", "Check indentation, colons and quotes there")
        ]


def read_yaml_file(path: str | Path) -> tuple[Any, list[Problem]]:
    """Read and parse a profile file within the bounds; (data, []) or (None, [the problem])."""
    p = Path(path)
    fix = "Check the path; the shipped profiles are in profiles/ (e.g. profiles/smoke.yaml)"
    if not p.exists():
        return None, [Problem("", "file not found", fix)]
    if not p.is_file():
        return None, [Problem("", "not a file (got a directory)", fix)]
    with p.open("rb") as f:
        raw = f.read(MAX_BYTES + 1)  # never more, whatever the file claims to be
    if len(raw) > MAX_BYTES:
        size = p.stat().st_size
        got = f"{size:,} bytes" if size > MAX_BYTES else f"more than {MAX_BYTES:,} bytes"
        return None, [
            Problem("", f"the file is larger than 1 MiB (got {got})", "A profile is a few KB: check the path")
        ]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return None, [Problem("", f"not a text file ({e.reason})", "A profile is a UTF-8 YAML file")]
    return load_yaml_text(text)
