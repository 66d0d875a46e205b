"""The API map model (pure): how one ERP speaks, and the translation between its dialect and ours.

Role users speak the *canonical* API of docs/erp-api.md: operation names (`claim_work_order`),
canonical field names (`quantity`, `items`, `total`) and canonical stats names (path templates of
the reference ERP, `[id]` for `{id}`). An `ApiMap` turns each call into the ERP's own request
(base path, path, renamed body fields and query parameters, login encoding, auth header) and each
answer back into the canonical shape (list envelope, renamed response fields, error code). So the
role users never carry an ERP path or field name; the reference map (reference.yaml) is the only
place the reference ERP's names are written. A team's own further operations (`custom_operations:`,
for its own locustfile) carry their full method and path; their stats name is their own template.

Built from a document that `erpload.api.load` has validated; `from_dict` trusts its input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from erpload.api.paths import get_parts, get_path, placeholders, renamer, stats_name
from erpload.api.paths import rename_fields as rename_fields  # re-exported (as are get_path, stats_name)
from erpload.core.units import parse_duration

# Operations whose answer is a list envelope (normalised to {"items": [...], "total": N}).
LIST_OPERATIONS = frozenset(
    {
        "list_orders",
        "list_work_orders",
        "list_qc_tests",
        "list_receipts",
        "list_stock",
        "list_users",
        "audit_log",
    }
)
WEBSOCKET_OPERATIONS = frozenset({"events"})
LOGIN_NAME = "/auth/login"  # the login's stats name on every ERP (SLA rules say "POST /auth/login")


class ApiMapError(KeyError):
    """A call the map cannot express: an unknown operation or a missing path parameter (a suite bug)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Operation:
    """One operation: how the ERP is called for it, and what its answer looks like."""

    name: str
    method: str
    path: str  # template without the base path; placeholders as {name}
    stats_name: str  # the name in stats and SLA rules (the reference template unless the map sets `name`)
    is_list: bool = False
    request_fields: Mapping[str, str] = field(default_factory=dict)  # ours -> theirs (JSON body, query)
    response_fields: Mapping[str, str] = field(default_factory=dict)  # ours -> theirs (dotted; per item)
    token_param: str = ""  # WebSocket operations: the query parameter carrying the token

    def render(self, base_path: str, params: Mapping[str, Any]) -> str:
        """base path + the template with each placeholder URL-quoted from `params`."""
        path = self.path
        for name in placeholders(self.path):
            if name not in params:
                raise ApiMapError(f"operation {self.name!r} needs the path parameter {name!r} ({self.path})")
            path = path.replace("{" + name + "}", quote(str(params[name]), safe=""), 1)
        return base_path + path


@dataclass(frozen=True)
class Login:
    """How a user logs in and sends its token."""

    path: str = "/auth/login"
    method: str = "POST"
    encoding: str = "json"  # json | form
    username_field: str = "username"
    password_field: str = "password"
    extra_fields: Mapping[str, str] = field(default_factory=dict)  # constant fields (e.g. grant_type)
    token: str = "access_token"  # dotted path in the answer
    expires_in: str | None = "expires_in"  # dotted path of the lifetime (s); None: default_ttl
    default_ttl: float = 900.0
    header: str = "Authorization"
    scheme: str = "Bearer"  # header value "<scheme> <token>"; "" -> the bare token
    renew: str = "relogin"  # relogin | refresh
    refresh_path: str | None = None  # renew: refresh -> POST here with the current token, answered like login
    name: str = LOGIN_NAME


@dataclass(frozen=True)
class Lists:
    """The list envelope and the list query parameters."""

    items: str = "items"
    total: str | None = "total"
    params: Mapping[str, str] = field(default_factory=dict)  # ours -> theirs (e.g. page_size -> per_page)


@dataclass(frozen=True)
class Errors:
    """Where an error answer carries its code and detail."""

    code: str = "error"
    detail: str | None = "detail"


@dataclass(frozen=True)
class ApiMap:
    """How one ERP speaks; see the module docstring."""

    name: str
    source: str  # where it came from (a file path, or "built-in reference map")
    base_path: str = ""
    login: Login = field(default_factory=Login)
    lists: Lists = field(default_factory=Lists)
    errors: Errors = field(default_factory=Errors)
    roles: Mapping[str, str] = field(default_factory=dict)  # role key -> credential pool key
    operations: Mapping[str, Operation] = field(default_factory=dict)
    preflight_role: str = "ppic"
    preflight_operation: str = "list_orders"
    document: Mapping[str, Any] = field(default_factory=dict, compare=False)  # the validated YAML document

    # -- calls -------------------------------------------------------------------------------------
    def op(self, name: str) -> Operation:
        """The operation `name`; ApiMapError (with the known names) if the map has none."""
        try:
            return self.operations[name]
        except KeyError:
            from erpload.core.units import did_you_mean

            known = sorted(self.operations)
            raise ApiMapError(
                f"no operation {name!r} in API map {self.name!r}. {did_you_mean(name, known)}"
                f"Known: {', '.join(known)}"
            ) from None

    def url_path(self, name: str, **path_params: Any) -> str:
        """The request path of operation `name` (base path included, placeholders filled)."""
        return self.op(name).render(self.base_path, path_params)

    def request_json(self, op: Operation, body: Any) -> Any:
        """A JSON request body with our top-level field names renamed to the ERP's."""
        if not op.request_fields or not isinstance(body, dict):
            return body
        return {op.request_fields.get(k, k): v for k, v in body.items()}

    def request_params(self, op: Operation, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """Query parameters renamed: the operation's own renames, then (lists) the list parameter renames."""
        if params is None:
            return None
        renames = {**self.lists.params, **op.request_fields} if op.is_list else dict(op.request_fields)
        return {renames.get(k, k): v for k, v in params.items()}

    def response(self, op: Operation, body: Any) -> tuple[Any, str | None]:
        """The ERP's answer in canonical shape, or (None, what does not fit the map)."""
        return self.reader(op)(body)

    def reader(self, op: Operation) -> Callable[[Any], tuple[Any, str | None]]:
        """`response` for one operation, its envelope paths and renames prepared once (per answer: the call)."""
        rename = renamer(op.response_fields)
        if not op.is_list:
            return lambda body: (rename(body), None)
        items_at, total_at = self.lists.items, self.lists.total
        items_path, total_path = tuple(items_at.split(".")), tuple((total_at or "").split("."))
        renames = bool(op.response_fields)

        def read(body: Any) -> tuple[Any, str | None]:
            found, items = get_parts(body, items_path)
            if not found or not isinstance(items, list):
                return None, f"no list at {items_at!r} (the API map's lists.items)"
            out: dict[str, Any] = {"items": [rename(i) for i in items] if renames else items}
            if total_at is not None:
                found, out["total"] = get_parts(body, total_path)
                if not found:
                    return None, f"no total at {total_at!r} (the API map's lists.total)"
            return out, None

        return read

    # -- login -------------------------------------------------------------------------------------
    def login_payload(self, username: str, password: str) -> dict[str, str]:
        """The login body's fields (sent as JSON or as a form, per `login.encoding`)."""
        return {
            **self.login.extra_fields,
            self.login.username_field: username,
            self.login.password_field: password,
        }

    def read_login(self, body: Any) -> tuple[str, float] | str:
        """(token, lifetime seconds) from a login answer, or what is wrong with it."""
        found, token = get_path(body, self.login.token)
        if not found or not isinstance(token, str) or not token:
            return f"no token at {self.login.token!r} (the API map's login.token), or it is not a non-empty string"
        if self.login.expires_in is None:
            return token, self.login.default_ttl
        found, ttl = get_path(body, self.login.expires_in)
        if not found or isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
            return (
                f"no positive number of seconds at {self.login.expires_in!r} "
                f"(the API map's login.expires_in; null uses login.default_ttl)"
            )
        return token, float(ttl)

    def auth_headers(self, token: str) -> dict[str, str]:
        """The header that carries `token` on every authenticated request."""
        value = f"{self.login.scheme} {token}" if self.login.scheme else token
        return {self.login.header: value}

    def error_code(self, body: Any) -> str | None:
        """The error code of an error answer, or None when the body has none where the map says."""
        found, code = get_path(body, self.errors.code)
        return code if found and isinstance(code, str) else None

    def pool_key(self, role_key: str) -> str:
        """The credential pool a role logs in from (the role key itself unless the map maps it)."""
        return self.roles.get(role_key, role_key)

    def to_dict(self) -> dict[str, Any]:
        """The validated document (JSON-able), e.g. to ship the map to workers in the spawn message."""
        return {"source": self.source, "document": dict(self.document)}

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], source: str, reference: ApiMap | None = None) -> ApiMap:
        """Build from a *validated* document; operations it does not list come from `reference`."""
        ref_ops = reference.operations if reference is not None else {}
        ops: dict[str, Operation] = {}
        raw_ops = doc.get("operations") or {}
        custom = doc.get("custom_operations") or {}  # a team's own: full method and path, no reference
        for name in sorted({*ref_ops, *raw_ops, *custom}):
            spec = custom.get(name, raw_ops.get(name))
            base = None if name in custom else ref_ops.get(name)
            if spec is None and base is not None:
                ops[name] = base
                continue
            if isinstance(spec, str):
                method, _, path = spec.partition(" ")
                spec = {"method": method, "path": path.strip()}
            spec = dict(spec or {})
            method = str(spec.get("method") or (base.method if base else "GET")).upper()
            path = str(spec.get("path") or (base.path if base else ""))
            ops[name] = Operation(
                name=name,
                method=method,
                path=path,
                stats_name=str(spec.get("name") or (base.stats_name if base else stats_name(path))),
                is_list=bool(spec.get("list")) if name in custom else name in LIST_OPERATIONS,
                request_fields=dict(spec.get("request") or {}),
                response_fields=dict(spec.get("response") or {}),
                token_param=str(spec.get("token_param") or (base.token_param if base else "")),
            )
        login = dict(doc.get("login") or {})
        fields = dict(login.get("fields") or {})
        expires = login.get("expires_in", "expires_in")
        ttl = login.get("default_ttl", 900)
        lists = dict(doc.get("lists") or {})
        errors = dict(doc.get("errors") or {})
        preflight = dict(doc.get("preflight") or {})
        return cls(
            name=str(doc.get("name") or source),
            source=source,
            base_path=str(doc.get("base_path") or "").rstrip("/"),
            login=Login(
                path=str(login.get("path", "/auth/login")),
                method=str(login.get("method", "POST")).upper(),
                encoding=str(login.get("encoding", "json")),
                username_field=str(fields.get("username", "username")),
                password_field=str(fields.get("password", "password")),
                extra_fields={str(k): str(v) for k, v in (login.get("extra_fields") or {}).items()},
                token=str(login.get("token", "access_token")),
                expires_in=None if expires is None else str(expires),
                default_ttl=parse_duration(ttl),
                header=str(login.get("header", "Authorization")),
                scheme=str(login.get("scheme", "Bearer")),
                renew=str(login.get("renew", "relogin")),
                refresh_path=login.get("refresh_path"),
                name=str(login.get("name", LOGIN_NAME)),
            ),
            lists=Lists(
                items=str(lists.get("items", "items")),
                total=None if lists.get("total", "total") is None else str(lists.get("total", "total")),
                params={str(k): str(v) for k, v in (lists.get("params") or {}).items()},
            ),
            errors=Errors(
                code=str(errors.get("code", "error")),
                detail=None
                if errors.get("detail", "detail") is None
                else str(errors.get("detail", "detail")),
            ),
            roles={str(k): str(v) for k, v in (doc.get("roles") or {}).items()},
            operations=ops,
            preflight_role=str(preflight.get("role", reference.preflight_role if reference else "ppic")),
            preflight_operation=str(
                preflight.get("operation", reference.preflight_operation if reference else "list_orders")
            ),
            document=dict(doc),
        )
