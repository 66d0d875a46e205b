"""Path templates and dotted field paths (pure): the small string and dict helpers of the API map.

`stats_name` and `placeholders` read path templates (`/qc/tests/{id}/result`); `get_path` and
`rename_fields` read and move dotted fields (`meta.total`) inside JSON answers (`get_parts` and
`renamer`: the same with the paths split once, for what runs on every answer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


def stats_name(path: str) -> str:
    """A path template as a stats name: `/qc/tests/{id}/result` -> `/qc/tests/[id]/result`."""
    return path.replace("{", "[").replace("}", "]")


def placeholders(path: str) -> tuple[str, ...]:
    """The `{name}` placeholders of a path template, in order."""
    out, rest = [], path
    while "{" in rest:
        head, _, rest = rest.partition("{")
        name, _, rest = rest.partition("}")
        out.append(name)
    return tuple(out)


def get_path(body: Any, dotted: str) -> tuple[bool, Any]:
    """(found, value) of a dotted path ("meta.total") inside nested objects."""
    return get_parts(body, dotted.split("."))


def get_parts(body: Any, parts: Sequence[str]) -> tuple[bool, Any]:
    """`get_path` with the path already split (`("meta", "total")`): for paths read on every answer."""
    for part in parts:
        if not isinstance(body, dict) or part not in body:
            return False, None
        body = body[part]
    return True, body


def _set_path(body: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    *parents, last = parts
    for part in parents:
        if part not in body:
            body[part] = {}  # our parent object where the ERP has none (stock.quantity from inventory.qty)
        nxt = body[part]
        if not isinstance(nxt, dict):
            return  # our parent is a scalar in this answer: nothing to rename into (the checks will say)
        body = nxt
    body[last] = value


def _pop_path(body: Any, parts: Sequence[str]) -> tuple[bool, Any]:
    *parents, last = parts
    for part in parents:
        if not isinstance(body, dict) or not isinstance(body.get(part), dict):
            return False, None
        body = body[part]
    if isinstance(body, dict) and last in body:
        return True, body.pop(last)
    return False, None


def rename_fields(body: Any, renames: Mapping[str, str]) -> Any:
    """Copy of `body` with each of the ERP's dotted fields (values of `renames`) moved to our name (keys)."""
    return renamer(renames)(body)


def renamer(renames: Mapping[str, str]) -> Callable[[Any], Any]:
    """`rename_fields` for one rename table, its dotted paths split once (an operation's answers, per item).

    No renames: the identity (the answer is already ours, nothing is copied).
    """
    if not renames:
        return _same
    moves = tuple((tuple(ours.split(".")), tuple(theirs.split("."))) for ours, theirs in renames.items())

    def rename(body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        out = _deep_copy_dicts(body)
        for ours, theirs in moves:
            found, value = _pop_path(out, theirs)
            if found:
                _set_path(out, ours, value)
        return out

    return rename


def _same(body: Any) -> Any:
    return body


def _deep_copy_dicts(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: _deep_copy_dicts(v) for k, v in body.items()}
    return body
