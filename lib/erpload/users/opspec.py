"""Per-operation request specs, computed once per API map: the cheap half of `ErpUser.call`.

`ErpUser.call(operation, ...)` used to rebuild on every request what never changes for an operation:
the URL of a path without placeholders, the rename tables of its body and query, and whether its
answer needs translating at all (a list envelope or renamed fields) or is already canonical. An
`OpSpec` holds those, built on the first call of each operation and shared by every user speaking
the same map (`specs_for(api_map)`); the translation itself stays the map's (`ApiMap.request_json`,
`request_params`, `reader`: `response` prepared once per operation), so behaviour is the map's
exactly. The path template is split once (`render`), and each distinct set of query parameters is
encoded once, by geventhttpclient's own encoder, into the string it then sends unchanged (`query`).

JSON request bodies are encoded here with orjson (`encode_json`): the stdlib's encoder was ~2 % of a
generator's CPU. What orjson cannot encode (non-string keys, big ints) is left to Locust's stdlib path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from geventhttpclient.url import _encode_params  # what urlopen(params=dict) sends (see OpSpec.query)

from erpload.api import ApiMap, Operation
from erpload.api.paths import placeholders

try:
    from orjson import dumps as _dumps
except ImportError:  # pragma: no cover - orjson is a dependency
    _dumps = None

__all__ = ["OpSpec", "encode_json", "specs_for"]

MISFIT = "does not fit the API map: "  # an answer the map cannot translate (wrong map, or a broken target)
_MAX_QUERIES = 512  # query strings kept per operation
_specs: dict[int, tuple[ApiMap, dict[str, OpSpec]]] = {}  # id(map) -> (map kept alive, specs by operation)


class OpSpec:
    """What one operation's requests share (see the module docstring)."""

    __slots__ = (
        "op",
        "method",
        "stats_name",
        "url",
        "renames_json",
        "renames_params",
        "shape",
        "_base",
        "_head",
        "_slots",
        "_queries",
    )

    def __init__(self, amap: ApiMap, op: Operation) -> None:
        self.op, self.method, self.stats_name, self._base = op, op.method, op.stats_name, amap.base_path
        self.url = None if placeholders(op.path) else amap.base_path + op.path  # None: rendered per call
        # the template split once: base path + head, then (placeholder, the text after it) in order
        head, _, rest = op.path.partition("{")
        self._head, self._slots = amap.base_path + head, []
        while rest:
            name, _, rest = rest.partition("}")
            text, _, rest = rest.partition("{")
            self._slots.append((name, text))
        self.renames_json = bool(op.request_fields)
        params = {**amap.lists.params, **op.request_fields} if op.is_list else dict(op.request_fields)
        self.renames_params: dict[str, str] = params
        self._queries: dict[tuple[Any, ...], str] = {}  # see `query`
        self.shape: Callable[[Any], tuple[Any, str | None]] | None = None  # None: the answer is canonical
        if op.is_list or op.response_fields:
            read = amap.reader(op)

            def shape(body: Any) -> tuple[Any, str | None]:
                canonical, misfit = read(body)
                return (None, f"{MISFIT}{misfit}") if misfit else (canonical, None)

            self.shape = shape

    def render(self, path: Mapping[str, Any] | None) -> str:
        """The request URL (base path included), as `Operation.render` builds it; its error if one is missing."""
        if self.url is not None:
            return self.url
        try:
            parts = [self._head]
            for name, text in self._slots:
                value = path[name]  # type: ignore[index]
                # an int's digits are what quote() returns for them: no need to ask it
                parts.append(str(value) if type(value) is int else quote(str(value), safe=""))
                parts.append(text)
        except (KeyError, TypeError):  # a missing parameter (or none at all): the map's own error
            return self.op.render(self._base, path or {})
        return "".join(parts)

    def params(self, params: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """Query parameters with the map's renames (the same as `ApiMap.request_params`)."""
        if params is None or not self.renames_params:
            return params
        renames = self.renames_params
        return {renames.get(k, k): v for k, v in params.items()}

    def query(self, params: Mapping[str, Any] | None) -> str | None:
        """The renamed `params` as the query string geventhttpclient would send for them, or None.

        Encoded by geventhttpclient's own `_encode_params` once per distinct set of parameters (keyed
        by name, value *and* type, so `1`, `1.0` and `True` stay apart) and then handed to it as a
        string, which it sends unchanged: the same bytes on the wire, without re-encoding the same few
        pages and filters on every request.
        """
        if not params:
            return None if params is None else _encode_params(params)
        try:
            key = (*params.items(), *map(type, params.values()))
            got = self._queries.get(key)
        except TypeError:  # an unhashable value (a list): encoded every time
            return _encode_params(self.params(params))
        if got is None:
            if len(self._queries) >= _MAX_QUERIES:
                self._queries.clear()  # e.g. free-text searches: bounded, not a leak
            got = self._queries[key] = _encode_params(self.params(params))
        return got


def specs_for(amap: ApiMap) -> dict[str, OpSpec]:
    """The (lazily filled) specs of `amap`'s operations, shared by every user of that map."""
    got = _specs.get(id(amap))
    if got is None or got[0] is not amap:
        got = _specs[id(amap)] = (amap, {})
    return got[1]


def spec_of(amap: ApiMap, operation: str) -> OpSpec:
    """The spec of `operation` (built on first use; ApiMapError from the map for an unknown name)."""
    got = _specs.get(id(amap))
    specs = got[1] if got is not None and got[0] is amap else specs_for(amap)
    spec = specs.get(operation)
    if spec is None:
        spec = specs[operation] = OpSpec(amap, amap.op(operation))
    return spec


def encode_json(body: Any) -> bytes | None:
    """`body` as compact JSON bytes, or None when orjson cannot encode it (Locust's json.dumps will)."""
    if _dumps is None:
        return None
    try:
        return _dumps(body)
    except TypeError:  # orjson.JSONEncodeError: non-str keys, ints over 64 bits, unknown types
        return None
