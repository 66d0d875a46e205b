"""The API map the role users speak through (pure): one per process, or the one the master shipped.

Role users call operations by name (`ErpUser.call("claim_work_order", ...)`); the map says how this
ERP does it (erpload.api). Which map a user gets, when it is built (`api_for(environment)`):

1. the map the master put in `environment.parsed_options.erpload_api_map` (an `ApiMap.to_dict()`;
   Locust forwards the parsed options to workers in its spawn message), rebuilt once per process;
2. else the map configured in this process (`configure_api`, the plugin: --api-map, ERPLOAD_API_MAP
   or the profile's `api:`);
3. else the reference ERP's map, the shipped default.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from erpload.api import ApiMap, map_from_shipped, reference_map

SHIPPED_OPTION = "erpload_api_map"  # the parsed-options attribute carrying the master's map to workers

_configured: ApiMap | None = None
_shipped: tuple[Mapping[str, Any], ApiMap] | None = None  # the last shipped document and its map


def configure_api(api_map: ApiMap | None) -> None:
    """Use `api_map` in this process from now on; None: back to the reference map."""
    global _configured
    _configured = api_map


def current_api() -> ApiMap:
    """The map configured in this process, or the reference map."""
    return _configured if _configured is not None else reference_map()


def api_for(environment: Any) -> ApiMap:
    """The map a user of `environment` speaks: the shipped one, else the configured one, else the reference."""
    global _shipped
    shipped = getattr(getattr(environment, "parsed_options", None), SHIPPED_OPTION, None)
    if not shipped:
        return current_api()
    cached = _shipped
    if cached is not None and (cached[0] is shipped or cached[0] == shipped):
        return cached[1]  # every user of a worker gets the same map: built once, not per user
    built = map_from_shipped(shipped)
    _shipped = (shipped, built)
    return built
