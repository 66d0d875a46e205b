"""The API map (pure): how one ERP speaks (base path, login, envelopes, operations, role pools).

Role users call operations by name; the map translates to and from the ERP's dialect. See
`erpload.api.model` and docs/your-erp.md.
"""

from erpload.api.load import (
    REFERENCE,
    check_api_map,
    load_api_map,
    map_from_shipped,
    read_api_map,
    reference_map,
    validate_api_map_file,
)
from erpload.api.model import LIST_OPERATIONS, ApiMap, ApiMapError, Login, Operation, stats_name

__all__ = [
    "LIST_OPERATIONS",
    "REFERENCE",
    "ApiMap",
    "ApiMapError",
    "check_api_map",
    "Login",
    "Operation",
    "load_api_map",
    "map_from_shipped",
    "read_api_map",
    "reference_map",
    "stats_name",
    "validate_api_map_file",
]
