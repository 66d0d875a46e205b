"""Checking one answer: status, JSON, the API map's shape, required fields, a validator; failures with evidence.

`check_answer` marks the request (Locust's `catch_response`) a success or a failure whose message
says what was wrong and shows the body as evidence (secrets redacted, digits masked, cut short). An
answer that does not fit the user's API map (no list where `lists.items` says, no token where
`login.token` says) is a failure "does not fit the API map: ...", so a wrong map shows up with the
place to fix it.
"""

from __future__ import annotations

from collections.abc import Callable
from json import loads as _std_loads
from typing import Any

try:  # orjson: 2-5x faster on the ERP's list bodies (docs/performance.md); stdlib when not installed
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency; kept for a bare environment
    _fast_loads = _std_loads

from locust.contrib.fasthttp import LocustBadStatusCode, ResponseContextManager

from erpload.core.redact import scrub
from erpload.users.checks import missing_fields
from erpload.users.pacing import CONTROL

# the ERP's answer -> (canonical answer, None) or (None, what does not fit the API map, with where to fix it)
Shape = Callable[[Any], tuple[Any, str | None]]
# An allowed 409 ("taken already") is a success, but it changed nothing: its own stats row, so the
# operation's row (and an SLA rule or group over it) counts only the requests that did their work.
CONFLICT_SUFFIX = " [conflict]"


def check_answer(
    user: Any,
    resp: ResponseContextManager,
    expect: tuple[int, ...],
    ok_conflict: bool,
    required: tuple[str, ...],
    validate: Callable[[Any], str | None] | None,
    shape: Shape | None,
) -> Any:
    """The (canonical) JSON body of an expected answer, or None; sets `user.last_status`, counts 409s."""
    try:
        status = user.last_status = resp.status_code
        exc = resp.request_meta["exception"]
        if status == 0 or (exc is not None and not isinstance(exc, LocustBadStatusCode)):
            user.last_status = 0
            cause = getattr(exc, "original", None) or exc  # geventhttpclient wraps the socket error
            resp.failure(f"no valid response: {type(cause).__name__}: {scrub(str(cause))[:160]}")
            return None
        if status == 401:
            user._renew_at = 0.0  # whatever happens next, this token is spent
        if status not in expect:
            if status == 409 and ok_conflict:
                meta = resp.request_meta
                user.tallies.conflicts[f"{meta['request_type']} {meta['name']}"] += 1
                meta["name"] += CONFLICT_SUFFIX
                resp.success()
            else:
                expected = "/".join(map(str, expect))
                resp.failure(f"HTTP {status} (expected {expected}): {evidence(resp)}")
            return None
        content = resp.content
        try:
            body = _fast_loads(content)  # `loads`, inlined: this runs on every answer
        except (ValueError, TypeError):
            try:
                body = _std_loads(content)
            except (ValueError, TypeError):
                resp.failure(f"body is not JSON (HTTP {status}): {evidence(resp)}")
                return None
        if shape is not None:
            body, misfit = shape(body)
            if misfit:
                resp.failure(f"{misfit} (HTTP {status}): {evidence(resp)}")
                return None
        if required and (missing := missing_fields(body, required)):
            resp.failure(f"missing {', '.join(missing)} (HTTP {status}): {evidence(resp)}")
            return None
        if validate is not None and (problem := validate(body)):
            resp.failure(f"{problem} (HTTP {status}): {evidence(resp)}")
            return None
        resp.success()
        return body
    except CONTROL:
        raise
    except Exception as e:
        resp.failure(f"suite could not check the response: {type(e).__name__}: {e}")
        return None


def loads(content: Any) -> Any:
    """Parse a JSON body: orjson, and the stdlib where orjson refuses what the stdlib reads (NaN, huge ints)."""
    try:
        return _fast_loads(content)
    except (ValueError, TypeError):
        return _std_loads(content)


def evidence(resp: ResponseContextManager, limit: int = 160) -> str:
    """The answer's body for a failure message: redacted, then cut to `limit` characters."""
    raw = resp.content or b""
    # Redact (known secrets in every encoding, JWT/Bearer shapes) before masking digits, then cut:
    # a secret cut in half by the limit would no longer match.
    text = scrub(raw[: limit + 4096].decode("utf-8", "replace"))[:limit]
    return (text or "<empty body>") + (" ...(truncated)" if len(raw) > limit else "")
