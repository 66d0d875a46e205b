"""Per-operation request specs (erpload.users.opspec) build exactly the requests the API map builds.

`ErpUser.call` takes its URL, query renames and answer translation from an `OpSpec` computed once per
map; these must agree with `ApiMap.url_path` / `request_params` / `response` for every operation of
the reference map and of the v1 example (renamed paths, fields, list envelope).
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from erpload.api import load_api_map, reference_map
from erpload.api.model import ApiMapError, placeholders
from erpload.users.opspec import MISFIT, encode_json, spec_of

ROOT = Path(__file__).resolve().parents[2]
MAPS = {"reference": reference_map, "v1": lambda: load_api_map(ROOT / "examples" / "api-maps" / "v1.yaml")}


@pytest.mark.parametrize("which", sorted(MAPS))
def test_specs_agree_with_the_map(which: str) -> None:
    amap = MAPS[which]()
    for name, op in amap.operations.items():
        spec = spec_of(amap, name)
        assert spec is spec_of(amap, name)  # built once, shared
        params = {p: f"v/{i} x" for i, p in enumerate(placeholders(op.path))}  # quoting included
        assert spec.render(params) == amap.url_path(name, **params), name
        query = {"page_size": 5, "q": "a b", "status": "open"}
        assert dict(spec.params(query) or {}) == amap.request_params(op, query), name
        assert spec.params(None) is None
        assert (spec.stats_name, spec.method) == (op.stats_name, op.method)
        body = {"items": [{"id": 1, "qty": 2}], "total": 1, "data": [{"id": 1}], "meta": {"total": 1}}
        canonical, misfit = amap.response(op, body)
        if spec.shape is None:  # no translation: the map would hand back the body unchanged
            assert (canonical, misfit) == (body, None), name
        else:
            expected = (None, f"{MISFIT}{misfit}") if misfit else (canonical, None)
            assert spec.shape(body) == expected, name


def test_a_missing_path_parameter_and_an_unknown_operation_still_fail_like_the_map() -> None:
    amap = reference_map()
    with pytest.raises(ApiMapError, match="claim_work_orderr"):
        spec_of(amap, "claim_work_orderr")
    templated = next(n for n, op in amap.operations.items() if placeholders(op.path))
    with pytest.raises(ApiMapError, match="needs the path parameter"):
        spec_of(amap, templated).render({})


def test_json_bodies_encode_with_orjson_and_fall_back_for_what_it_cannot_encode() -> None:
    body = {"quantity": 3, "note": "é ✓", "items": [1.5, None, True]}
    assert orjson.loads(encode_json(body)) == body
    assert encode_json({1: "int key"}) is None  # Locust's json.dumps sends it instead
    assert encode_json({"big": 2**70}) is None
