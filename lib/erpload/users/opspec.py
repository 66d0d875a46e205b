"""Per-operation request specs, computed once per API map: the cheap half of `ErpUser.call`.

`ErpUser.call(operation, ...)` used to rebuild on every request what never changes for an operation:
the URL of a path without placeholders, the rename tables of its body and query, and whether its
answer needs translating at all (a list envelope or renamed fields) or is already canonical. An
`OpSpec` holds those, built on the first call of each operation and shared by every user speaking
the same map (`specs_for(api_map)`); the translation itself stays the map's (`ApiMap.request_json`,
`request_params`, `response`), so behaviour is the map's exactly.

JSON request bodies are encoded here with orjson (`encode_json`): the stdlib's encoder was ~2 % of a
generator's CPU. What orjson cannot encode (non-string keys, big ints) is left to Locust's stdlib path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from erpload.api import ApiMap, Operation
from erpload.api.paths import placeholders

try:
    from orjson import dumps as _dumps
except ImportError:  # pragma: no cover - orjson is a dependency
    _dumps = None

__all__ = ["OpSpec", "encode_json", "specs_for"]

MISFIT = "does not fit the API map: "  # an answer the map cannot translate (wrong map, or a broken target)
_specs: dict[int, tuple[ApiMap, dict[str, OpSpec]]] = {}  # id(map) -> (map kept alive, specs by operation)


class OpSpec:
    """What one operation's requests share (see the module docstring)."""

    __slots__ = ("op", "method", "stats_name", "url", "renames_json", "renames_params", "shape", "_base")

    def __init__(self, amap: ApiMap, op: Operation) -> None:
        self.op, self.method, self.stats_name, self._base = op, op.method, op.stats_name, amap.base_path
        self.url = None if placeholders(op.path) else amap.base_path + op.path  # None: rendered per call
        self.renames_json = bool(op.request_fields)
        params = {**amap.lists.params, **op.request_fields} if op.is_list else dict(op.request_fields)
        self.renames_params: dict[str, str] = params
        self.shape: Callable[[Any], tuple[Any, str | None]] | None = None  # None: the answer is canonical
        if op.is_list or op.response_fields:

            def shape(
                body: Any, _op: Operation = op, _response: Any = amap.response
            ) -> tuple[Any, str | None]:
                canonical, misfit = _response(_op, body)
                return (None, f"{MISFIT}{misfit}") if misfit else (canonical, None)

            self.shape = shape

    def render(self, path: Mapping[str, Any] | None) -> str:
        """The request URL (base path included)."""
        return self.url if self.url is not None else self.op.render(self._base, path or {})

    def params(self, params: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """Query parameters with the map's renames (the same as `ApiMap.request_params`)."""
        if params is None or not self.renames_params:
            return params
        renames = self.renames_params
        return {renames.get(k, k): v for k, v in params.items()}


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
