"""Loading API maps (pure): the shipped reference map, a team's map file, a map shipped to workers.

Every document is checked by `erpload.api.schema.check_map` before `ApiMap.from_dict` sees it: a
bad map is a `ConfigError` (exit 2) listing every problem with where, what and how to fix. Files
are read within bounds (erpload.core.safeyaml). A broken *shipped* reference map is a bug of the
suite (InternalError), never a silently smaller map.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from erpload.api.model import ApiMap
from erpload.api.schema import START, check_map
from erpload.core.errors import ConfigError, InternalError, Problem
from erpload.core.safeyaml import load_yaml_text, read_yaml_file
from erpload.core.units import preview

REFERENCE = Path(__file__).with_name("reference.yaml")
REFERENCE_SOURCE = "built-in reference map"


@functools.cache
def reference_map() -> ApiMap:
    """The reference ERP's map (lib/erpload/api/reference.yaml), the default."""
    doc, problems = load_yaml_text(REFERENCE.read_text(encoding="utf-8"))
    problems = problems or check_map(doc, reference=None)
    if problems:
        raise InternalError(ConfigError(str(REFERENCE), problems).render())
    return ApiMap.from_dict(doc, REFERENCE_SOURCE)


def check_api_map(doc: Any) -> list[Problem]:
    """Every problem of a team's map document (already parsed); empty when valid."""
    return check_map(doc, reference=reference_map())


def read_api_map(path: str | Path) -> tuple[ApiMap | None, list[Problem]]:
    """(the map, []) or (None, every problem) for the map file at `path`."""
    p = Path(path)
    if not p.is_file():
        what = "not a file (got a directory)" if p.is_dir() else "file not found"
        return None, [Problem("", f"{what}: {preview(str(path), 200)}", f"Check the path. {START}")]
    doc, problems = read_yaml_file(p)
    problems = problems or check_api_map(doc)
    if problems:
        return None, problems
    return ApiMap.from_dict(doc, str(path), reference=reference_map()), []


def validate_api_map_file(path: str | Path) -> list[Problem]:
    """Every problem in a map file (empty when valid); for `erpload validate` and a profile's `api:`."""
    return read_api_map(path)[1]


def load_api_map(path: str | Path | None) -> ApiMap:
    """The map in `path` (operations it omits come from the reference map); None or "": the reference map."""
    if not path:
        return reference_map()
    api_map, problems = read_api_map(path)
    if api_map is None:
        raise ConfigError(f"API map {path}", problems)
    return api_map


def map_from_shipped(shipped: Mapping[str, Any]) -> ApiMap:
    """Rebuild a map from `ApiMap.to_dict()` (what the master sends workers); checked again (fail closed)."""
    if shipped.get("source") == REFERENCE_SOURCE:
        return reference_map()
    source = str(shipped.get("source") or "<shipped API map>")
    doc = shipped.get("document")
    problems = check_api_map(doc)
    if problems:
        raise ConfigError(f"API map {source} (as shipped by the master)", problems)
    return ApiMap.from_dict(doc, source, reference=reference_map())
