"""Small pieces every role user shares: the task guard, RBAC probes, response-body helpers."""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from erpload.users.pacing import CONTROL

# ids/quantities in evidence vary: collapse them so Locust's error table stays bounded
DIGITS = re.compile(r"\d+")
# probes get their own stats rows: their fast 403s must not dilute an endpoint's SLA
PROBE_SUFFIX = " [rbac-probe]"


class Probe(NamedTuple):
    """An operation the role may not call (by name, with canonical fields): 403 is the expected answer.

    Its stats name is the operation's plus PROBE_SUFFIX; `path_params` fill the path template
    (`{"id": 0}`), `params` and `json` are renamed by the API map like any call's.
    """

    operation: str
    path_params: Mapping[str, Any] | None = None
    params: Mapping[str, Any] | None = None
    json: Any = None


def guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a task so an unexpected exception becomes a counted failure, never a traceback or a dead user."""
    if getattr(fn, "_erp_guarded", False) or isinstance(fn, type):
        return fn

    @functools.wraps(fn)
    def guarded(user: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(user, *args, **kwargs)
        except CONTROL:
            raise
        except Exception as e:
            user._suite_error(fn.__name__, e)
            return None

    guarded._erp_guarded = True  # type: ignore[attr-defined]
    return guarded


def item_ids(body: Any) -> list[Any]:
    """The `id` of every object in a canonical list answer's `items` (the API map normalised the envelope)."""
    return [item["id"] for item in body["items"] if isinstance(item, dict) and "id" in item]


def pop_random(ids: list[Any]) -> Any:
    """Take one id at random out of `ids` (so two tasks of one user never pick the same one)."""
    return ids.pop(random.randrange(len(ids)))


def has_field(body: Any, field: str) -> bool:
    """Whether `body` has `field` (dotted path into nested objects, e.g. 'work_order.status')."""
    for part in field.split("."):
        if not isinstance(body, dict) or part not in body:
            return False
        body = body[part]
    return True
