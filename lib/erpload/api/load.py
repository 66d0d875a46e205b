"""Loading API maps (pure): the shipped reference map, a team's map file, a map shipped to workers.

PROVISIONAL (lead): no validation yet; helper H6 replaces this with the validating loader
(every problem with where, what, how to fix, did-you-mean), keeping these three functions.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from erpload.api.model import ApiMap
from erpload.core.errors import ConfigError
from erpload.core.safeyaml import load_yaml_text, read_yaml_file

REFERENCE = Path(__file__).with_name("reference.yaml")
REFERENCE_SOURCE = "built-in reference map"


@functools.cache
def reference_map() -> ApiMap:
    """The reference ERP's map (lib/erpload/api/reference.yaml), the default."""
    doc, problems = load_yaml_text(REFERENCE.read_text(encoding="utf-8"))
    if problems:
        raise ConfigError(str(REFERENCE), problems)
    return ApiMap.from_dict(doc, REFERENCE_SOURCE)


def load_api_map(path: str | Path | None) -> ApiMap:
    """The map in `path` (operations it omits come from the reference map); None or "": the reference map."""
    if not path:
        return reference_map()
    doc, problems = read_yaml_file(path)
    if problems:
        raise ConfigError(str(path), problems)
    return ApiMap.from_dict(doc, str(path), reference=reference_map())


def map_from_shipped(shipped: Mapping[str, Any]) -> ApiMap:
    """Rebuild a map from `ApiMap.to_dict()` (what the master sends workers)."""
    if shipped.get("source") == REFERENCE_SOURCE:
        return reference_map()
    return ApiMap.from_dict(shipped["document"], str(shipped["source"]), reference=reference_map())
