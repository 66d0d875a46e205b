"""API map checks (pure): every problem with where, what (with the value) and how to fix, all at once.

The tables below (sections, keys, enums, patterns from erpload.api.fields) are the one definition of
a valid map: `check_map` walks a document with them, and `erpload.api.json_schema` turns the same
tables into the shipped JSON Schema. A team's map is checked against the reference map: it may name
only the reference's operations under `operations:` (method and path optional; a path keeps exactly
the reference placeholders, {id} or {sku}, because the role users fill them); its own further
operations go under `custom_operations:` with a full method and path. The reference map itself is
checked with `reference=None`: full method and path everywhere, and every list and WebSocket
operation the role users call present.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from erpload.api.fields import (
    BASE,
    DOTTED_PATH,
    DURATION,
    FORM_FIELD,
    HEADER_NAME,
    HTTP_METHODS,
    METHOD,
    NAME,
    PATH,
    STRING,
    TEXT,
    Kind,
    MapOf,
    Section,
    enum_kind,
    text_kind,
)
from erpload.api.model import LIST_OPERATIONS, WEBSOCKET_OPERATIONS, ApiMap
from erpload.api.operations import OperationsNode
from erpload.core.errors import Problem
from erpload.core.units import preview

VERSION = 1
ENCODINGS = ("json", "form")
RENEWALS = ("relogin", "refresh")
START = "Start from examples/api-maps/v1.yaml (docs/your-erp.md)"


class MapChecker:
    """Collects every problem while the tables walk a map document."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, where: str, message: str, fix: str = "") -> None:
        self.problems.append(Problem(where, message, fix))


def _login() -> Section:
    refresh = {"properties": {"renew": {"const": "refresh"}}, "required": ["renew"]}
    return Section(
        {
            "path": PATH.described("login path (after base_path)"),
            "method": METHOD,
            "encoding": enum_kind(ENCODINGS).described("json body, or an HTML form (x-www-form-urlencoded)"),
            "fields": Section(
                {
                    "username": text_kind("a field name", FORM_FIELD, "e.g. user"),
                    "password": text_kind("a field name", FORM_FIELD, "e.g. pass"),
                },
                example="e.g. fields: {username: user, password: pass}",
            ),
            "extra_fields": MapOf(
                text_kind("a field name", FORM_FIELD, ""),
                STRING,
                "constant fields",
                "e.g. extra_fields: {grant_type: password}",
            ),
            "token": DOTTED_PATH.described("where the token is in the answer"),
            "expires_in": DOTTED_PATH.or_null("no lifetime in the answer: default_ttl").described(
                "where its lifetime (s) is"
            ),
            "default_ttl": DURATION.described("token lifetime when expires_in is null"),
            "header": HEADER_NAME,
            "scheme": STRING.described('header value "<scheme> <token>"; "" sends the bare token'),
            "renew": enum_kind(RENEWALS).described("before expiry: log in again, or POST refresh_path"),
            "refresh_path": PATH.described("renew: refresh -> POST here with the current token"),
            "name": TEXT.described("stats name of the login; leave unset (POST /auth/login in SLA rules)"),
        },
        example="e.g. login: {path: /auth/token, encoding: form}",
        extra_json={
            "if": refresh,
            "then": {"required": ["refresh_path"]},
            "else": {"not": {"required": ["refresh_path"]}},
        },
    )


def map_section(reference: ApiMap | None) -> Section:
    """The whole document's table; `reference=None` describes the reference map itself."""
    return Section(
        {
            "version": Kind(
                f"{VERSION} (the map format's version)",
                {"type": "integer", "enum": [VERSION]},
                lambda v: type(v) is int and v == VERSION,
                f"Write version: {VERSION}",
            ),
            "name": TEXT,
            "description": TEXT,
            "base_path": BASE.described("prefix of every API path (WebSocket included)"),
            "login": _login(),
            "lists": Section(
                {
                    "items": DOTTED_PATH.described("where a list answer's items are"),
                    "total": DOTTED_PATH.or_null("the answer has no total"),
                    "params": MapOf(
                        NAME, NAME, "our query parameter: theirs", "e.g. params: {page_size: per_page}"
                    ),
                },
                example="e.g. lists: {items: data, total: meta.total}",
            ),
            "errors": Section(
                {
                    "code": DOTTED_PATH.described("where an error answer's code is"),
                    "detail": DOTTED_PATH.or_null("no detail"),
                },
                example="e.g. errors: {code: error.code, detail: error.message}",
            ),
            "roles": MapOf(
                TEXT,
                TEXT,
                "role keys to credential pool keys",
                "e.g. roles: {ppic: planners}",
                "role key: credential pool key (any key; no closed set)",
            ),
            "preflight": Section(
                {"role": TEXT, "operation": enum_kind(tuple(sorted(LIST_OPERATIONS)))},
                example="e.g. preflight: {role: ppic, operation: list_orders}",
                help="checked before any load: this role logs in and calls this list operation",
            ),
            "operations": OperationsNode(reference, custom=False),
            "custom_operations": OperationsNode(reference, custom=True),
        },
        required=("version", "operations") if reference is None else ("version",),
        example=START,
        required_fix={"version": f"Add version: {VERSION} (the map format's version) at the top"},
    )


def check_map(doc: Any, reference: ApiMap | None) -> list[Problem]:
    """Every problem of a map document (empty when valid); `reference=None` for the reference map."""
    c = MapChecker()
    if doc is None:
        c.add("", "the file is empty", START)
        return c.problems
    if not isinstance(doc, dict):
        c.add(
            "", f"the top level must be a mapping of keys (got {type(doc).__name__}: {preview(doc)})", START
        )
        return c.problems
    map_section(reference).check(c, doc, "")
    login = doc.get("login")
    if isinstance(login, Mapping):
        if login.get("renew") == "refresh" and "refresh_path" not in login:
            c.add("login.refresh_path", "required with renew: refresh", "e.g. refresh_path: /auth/refresh")
        if login.get("renew", "relogin") != "refresh" and "refresh_path" in login:
            c.add(
                "login.refresh_path",
                f"only used with renew: refresh (got renew: {preview(login.get('renew', 'relogin'))})",
                "Remove it, or set renew: refresh",
            )
    ops = doc.get("operations")
    if reference is None and isinstance(ops, dict):
        for name in sorted(LIST_OPERATIONS | WEBSOCKET_OPERATIONS):
            if name not in ops:
                c.add(f"operations.{name}", "required: the role users call it", f"Add {name}: METHOD /path")
    return c.problems


__all__ = ["ENCODINGS", "HTTP_METHODS", "RENEWALS", "VERSION", "check_map", "map_section"]
