"""API errors with the contract's JSON body, and the input validators every blueprint uses."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, NoReturn

from flask import request

MAX_ID = 2**63 - 1  # SQLite INTEGER range: larger ids would raise OverflowError, i.e. a 500
MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


class ApiError(Exception):
    """An error answered as `{"error": code, "detail": ..., "field"?: ...}` with an HTTP status."""

    def __init__(self, status: int, code: str, detail: str, field: str | None = None):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field

    def body(self) -> dict[str, Any]:
        """The JSON error body of the contract."""
        out: dict[str, Any] = {"error": self.code, "detail": self.detail}
        if self.field is not None:
            out["field"] = self.field
        return out


def not_found(detail: str) -> ApiError:
    """404 `not_found`."""
    return ApiError(404, "not_found", detail)


def conflict(detail: str) -> ApiError:
    """409 `conflict`."""
    return ApiError(409, "conflict", detail)


def forbidden(detail: str) -> ApiError:
    """403 `forbidden`."""
    return ApiError(403, "forbidden", detail)


def invalid(field: str, detail: str) -> ApiError:
    """422 `validation` naming the offending field."""
    return ApiError(422, "validation", f"{field}: {detail}", field)


def _fail(field: str, detail: str) -> NoReturn:
    raise invalid(field, detail)


def _got(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def json_body(*, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object; 400 `bad_request` if it is not JSON or not an object."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if optional:
            return {}
        raise ApiError(400, "bad_request", "request body must be a JSON object; got an empty body")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as e:  # RecursionError: absurdly nested input is still bad input
        raise ApiError(400, "bad_request", f"request body is not valid JSON: {str(e)[:120]}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_request", f"request body must be a JSON object, got {type(body).__name__}")
    return body


def get_int(
    body: Mapping[str, Any],
    field: str,
    *,
    lo: int | None = None,
    hi: int | None = None,
    required: bool = True,
    default: int | None = None,
) -> int | None:
    """An integer field (booleans and floats rejected) within [lo, hi]."""
    if field not in body or body[field] is None:
        if required:
            _fail(field, "required (an integer)")
        return default
    value = body[field]
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(field, f"must be an integer, got {_got(value)}")
    if lo is not None and value < lo:
        _fail(field, f"must be >= {lo}, got {value}")
    if hi is not None and value > hi:
        _fail(field, f"must be <= {hi}, got {value}")
    return value


def get_str(
    body: Mapping[str, Any],
    field: str,
    *,
    required: bool = True,
    max_len: int = 200,
    allow_empty: bool = False,
    secret: bool = False,
) -> str | None:
    """A string field, trimmed, at most `max_len` characters (`secret`: never echo the value)."""
    if field not in body or body[field] is None:
        if required:
            _fail(field, "required (a string)")
        return None
    value = body[field]
    if not isinstance(value, str):
        _fail(field, f"must be a string, got {type(value).__name__ if secret else _got(value)}")
    if secret:
        if len(value) > max_len:
            _fail(field, f"must be at most {max_len} characters")
        return value  # passwords are taken verbatim: no trimming
    value = value.strip()
    if not value and not allow_empty:
        _fail(field, "must not be empty")
    if len(value) > max_len:
        _fail(field, f"must be at most {max_len} characters, got {len(value)}")
    return value


def get_bool(body: Mapping[str, Any], field: str) -> bool:
    """A required boolean field (no truthy strings or numbers)."""
    if field not in body:
        _fail(field, "required (true or false)")
    value = body[field]
    if not isinstance(value, bool):
        _fail(field, f"must be true or false, got {_got(value)}")
    return value


def get_date(body: Mapping[str, Any], field: str) -> dt.date:
    """A required `YYYY-MM-DD` date field."""
    text = get_str(body, field, max_len=10)
    try:
        if text is None or len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        _fail(field, f"must be a date YYYY-MM-DD, got {_got(body[field])}")


def get_choice(value: str | None, field: str, choices: tuple[str, ...]) -> str | None:
    """A query/body value restricted to `choices` (None passes through)."""
    if value is None or value == "":
        return None
    if value not in choices:
        _fail(field, f"must be one of {', '.join(choices)}, got {_got(value)}")
    return value


def query_int(name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter within [lo, hi]."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        _fail(name, f"must be an integer, got {_got(raw)}")
    if not lo <= value <= hi:
        _fail(name, f"must be between {lo} and {hi}, got {value}")
    return value


def paging() -> tuple[int, int]:
    """(page, page_size) from the query string: page >= 1, page_size 1..200 (default 50)."""
    page = query_int("page", 1, 1, 1_000_000)
    size = query_int("page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    return page, size


def query_str(name: str, max_len: int = 100) -> str | None:
    """A trimmed optional query parameter ('' counts as absent)."""
    raw = request.args.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    if len(raw) > max_len:
        _fail(name, f"must be at most {max_len} characters, got {len(raw)}")
    return raw or None
