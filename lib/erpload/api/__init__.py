"""The API map (pure): how one ERP speaks (base path, login, envelopes, operations, role pools).

Role users call operations by name; the map translates to and from the ERP's dialect. See
`erpload.api.model` and docs/your-erp.md.
"""

from erpload.api.load import REFERENCE, load_api_map, map_from_shipped, reference_map
from erpload.api.model import LIST_OPERATIONS, ApiMap, ApiMapError, Login, Operation, stats_name

__all__ = [
    "LIST_OPERATIONS",
    "REFERENCE",
    "ApiMap",
    "ApiMapError",
    "Login",
    "Operation",
    "load_api_map",
    "map_from_shipped",
    "reference_map",
    "stats_name",
]
