"""Small pieces every role user shares: the task guard, RBAC probes, response-body helpers."""

from __future__ import annotations

import functools
import inspect
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

    if _takes_only_the_user(fn):  # a task (Locust calls `task(user)`): no *args/**kwargs to pack per call

        @functools.wraps(fn)
        def guarded(user: Any) -> Any:
            try:
                return fn(user)
            except CONTROL:
                raise
            except Exception as e:
                user._suite_error(fn.__name__, e)
                return None

    else:

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


def _takes_only_the_user(fn: Callable[..., Any]) -> bool:
    code = getattr(fn, "__code__", None)
    return (
        code is not None
        and code.co_argcount == 1
        and code.co_kwonlyargcount == 0
        and not code.co_flags & (inspect.CO_VARARGS | inspect.CO_VARKEYWORDS)
    )


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


# required fields -> ((parent path, the leaves under it), ...): "a.b", "a.c", "d" -> ((a,), {b, c}), ((), {d})
_Plan = tuple[tuple[tuple[str, ...], frozenset[str]], ...]
_plans: dict[tuple[str, ...], _Plan] = {}
_MAX_PLANS = 1024  # distinct `required` tuples kept (the role users have a few dozen)


def missing_fields(body: Any, required: tuple[str, ...]) -> list[str]:
    """The `required` fields (as `has_field` reads them) that `body` lacks, in order; [] if it has them all.

    The fields are grouped by parent object once per distinct tuple, so an answer that has them all
    costs one set comparison per parent object; the names of missing ones come from `has_field`.
    """
    try:
        plan = _plans[required]
    except KeyError:
        plan = _plan(required)
    except TypeError:  # a list: not hashable, so checked field by field
        plan = None
    if plan is not None and _has_all(body, plan):
        return []
    return [f for f in required if not has_field(body, f)]


def _has_all(body: Any, plan: _Plan) -> bool:
    for parents, leaves in plan:
        node = body
        for part in parents:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        if not isinstance(node, dict) or not leaves <= node.keys():
            return False
    return True


def _plan(required: tuple[str, ...]) -> _Plan:
    groups: dict[tuple[str, ...], set[str]] = {}
    for f in required:
        *parents, leaf = f.split(".")
        groups.setdefault(tuple(parents), set()).add(leaf)
    if len(_plans) >= _MAX_PLANS:
        _plans.clear()
    plan = _plans[required] = tuple((parents, frozenset(leaves)) for parents, leaves in groups.items())
    return plan
