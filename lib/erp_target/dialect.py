"""The `v1` API dialect (`--dialect v1`): a WSGI translation layer in front of the canonical API.

It lets the reference ERP play a team's ERP that speaks differently (docs/erp-api.md, "v1 dialect"):
every API route under `/api/v1` (`/health`, `/metrics` stay at the root), login by form at
`/auth/token` answering `{token, ttl}`, `Authorization: Token <jwt>`, `?access_token=` on the
WebSocket, lists as `{data, meta: {total, page, per_page}}`, four renamed path families, `on_hand`
for a stock quantity, `job_id` in production steps, errors as `{"error": {code, message, field?}}`.

Requests are rewritten to the canonical API and canonical JSON answers rewritten back; no handler is
duplicated. It sits inside the metrics middleware and outside the faults: RBAC, fault switches (their
`*_path` regexes), the fault-exempt paths and metric labels all see the canonical paths. Answers
the app writes itself (the reset fault), truncated JSON (the malformed fault) and the 101 of a
WebSocket pass through untouched, so do WebSocket event payloads.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, urlencode

from werkzeug.routing import Map

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

NAME = "v1"
BASE = "/api/v1"
ROOT_PATHS = frozenset({"/health", "/metrics"})  # ops endpoints: never under the base path
RENAMES = (  # (v1 prefix, canonical prefix): whole path segments, sub-paths follow
    ("/auth/token", "/auth/login"),
    ("/planning/orders", "/ppic/manufacturing-orders"),
    ("/production/jobs", "/production/work-orders"),
    ("/quality/inspections", "/qc/tests"),
    ("/inventory/items", "/warehouse/stock"),
)
API_ROOTS = ("auth", "dashboard", "ppic", "production", "qc", "warehouse", "reports", "admin", "ws")
LOGIN = "/auth/login"
WS = "/ws/events"
STEPS = frozenset({"/production/cutting", "/production/sewing", "/production/finishing"})
FORM = "application/x-www-form-urlencoded"
MAX_BODY = 1024 * 1024  # larger bodies pass untouched: the app answers 413
FIELDS = {  # canonical request/error field -> v1 name, per canonical path (None: every path)
    LOGIN: {"username": "user", "password": "pass"},
    **{p: {"work_order_id": "job_id"} for p in STEPS},
    None: {"page_size": "per_page"},
}
_STOCK_ITEM = re.compile(r"/warehouse/stock/[^/]+(/adjust)?")
_RECEIVE = re.compile(r"/warehouse/receipts/\d+/receive")
_PATH_TOKEN = re.compile(r"(?<![\w.])/(?:" + "|".join(API_ROOTS) + r")(?![\w\-])(?:/[\w\-{}]*)*")


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def to_canonical(path: str) -> str | None:
    """The canonical path a v1 request path reaches; None if v1 has no such route (answered 404)."""
    if path in ROOT_PATHS:
        return path
    rest = path[len(BASE) :]
    if not path.startswith(BASE + "/") or rest in ROOT_PATHS:
        return None
    for new, old in RENAMES:
        if _under(rest, new):
            return old + rest[len(new) :]
    if any(_under(rest, old) for _, old in RENAMES):
        return None  # the canonical twin of a renamed path: a map that uses it is wrong
    return rest


def to_v1(path: str) -> str:
    """The v1 spelling of a canonical path or template (`/warehouse/stock/{sku}` -> `/api/v1/inventory/items/{sku}`)."""
    if path in ROOT_PATHS:
        return path
    for new, old in RENAMES:
        if _under(path, old):
            return BASE + new + path[len(old) :]
    return BASE + path


def _renamed(obj: Any, old: str, new: str) -> Any:
    """`obj` with key `old` renamed to `new` in place of order (non-dicts unchanged)."""
    if not isinstance(obj, dict) or old not in obj:
        return obj
    return {(new if k == old else k): v for k, v in obj.items()}


def _error(status: int, code: str, message: str, field: str | None = None) -> tuple[int, dict[str, Any]]:
    err: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        err["field"] = field
    return status, {"error": err}


class _Request:
    """One request's translation: the environ rewritten in place, what the answer needs remembered."""

    def __init__(self, environ: dict[str, Any]):
        self.environ = environ
        self.method = environ.get("REQUEST_METHOD", "GET")
        self.raw_path = environ.get("PATH_INFO", "")
        self.path = to_canonical(self.raw_path) or ""
        self.fields = {**FIELDS[None], **FIELDS.get(self.path, {})}
        self.bearer_refused = False

    def rewrite(self) -> tuple[int, dict[str, Any]] | None:
        """Rewrite the environ to the canonical request; an answer instead when v1 refuses it."""
        env = self.environ
        if not self.path:
            bare = self.raw_path[len(BASE) :] if _under(self.raw_path, BASE) else self.raw_path
            hint = to_v1(bare) if _PATH_TOKEN.fullmatch(bare) or bare in ROOT_PATHS else None
            fix = f"; did you mean {hint}?" if hint and hint != self.raw_path else ""
            return _error(
                404, "not_found", f"no v1 route {self.raw_path!r} (API routes live under {BASE}){fix}"
            )
        env["PATH_INFO"] = self.path
        query = env.get("QUERY_STRING", "")
        if any(k in query for k in ("page_size", "per_page", "token")):
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(k == "page_size" for k, _ in pairs):
                msg = "page_size: not a v1 query parameter; use per_page (1..200)"
                return _error(422, "validation", msg, "page_size")
            rename = {"per_page": "page_size", "access_token": "token"}
            pairs = [(rename.get(k, k), v) for k, v in pairs if k != "token"]  # v1: ?access_token= only
            env["QUERY_STRING"] = urlencode(pairs)
        header = env.get("HTTP_AUTHORIZATION")
        if header is not None:
            scheme, _, token = header.partition(" ")
            if scheme.lower() == "token":
                env["HTTP_AUTHORIZATION"] = "Bearer " + token
            elif scheme.lower() == "bearer":
                del env["HTTP_AUTHORIZATION"]
                self.bearer_refused = True
        if self.method == "POST" and self.path == LOGIN:
            return self._login_body()
        if self.method == "POST" and self.path in STEPS:
            body = self._read_json()
            if isinstance(body, dict):
                body.pop("work_order_id", None)  # the canonical name is not v1's: "job_id: required"
                if "job_id" in body:
                    body["work_order_id"] = body.pop("job_id")
                self._set_body(json.dumps(body).encode())
        return None

    def _login_body(self) -> tuple[int, dict[str, Any]] | None:
        ctype = self.environ.get("CONTENT_TYPE", "")
        if ctype.split(";", 1)[0].strip().lower() != FORM:
            msg = f"POST {BASE}/auth/token takes a form body ({FORM}: user, pass), got {ctype or 'no Content-Type'}"
            return _error(415, "unsupported_media_type", msg)
        raw = self._read()
        form: dict[str, str] = {}
        for k, v in parse_qsl((raw or b"").decode("utf-8", "replace"), keep_blank_values=True):
            form.setdefault(k, v)
        body = {ours: form[theirs] for ours, theirs in FIELDS[LOGIN].items() if theirs in form}
        self._set_body(json.dumps(body).encode(), "application/json")
        return None

    def _read(self) -> bytes | None:
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if not 0 < length <= MAX_BODY:
            return None
        return self.environ["wsgi.input"].read(length)

    def _read_json(self) -> Any:
        raw = self._read()
        try:
            return json.loads(raw) if raw is not None else None
        except (ValueError, RecursionError):
            self._set_body(raw or b"")  # not JSON: the app answers 400 from the same bytes
            return None

    def _set_body(self, raw: bytes, ctype: str | None = None) -> None:
        self.environ["wsgi.input"] = io.BytesIO(raw)
        self.environ["CONTENT_LENGTH"] = str(len(raw))
        if ctype:
            self.environ["CONTENT_TYPE"] = ctype

    def answer(self, status: int, body: Any) -> Any:
        """The v1 form of a canonical JSON answer."""
        if status >= 400 and isinstance(body, dict) and isinstance(body.get("error"), str):
            return self._error(status, body)[1]
        if not isinstance(body, dict) or status >= 300:
            return body
        if self.method == "POST" and self.path == LOGIN:
            return {"token": body.get("access_token"), "ttl": body.get("expires_in")}
        stock = self.path == "/warehouse/stock" or _STOCK_ITEM.fullmatch(self.path) is not None
        if set(body) == {"items", "total", "page", "page_size"}:
            items = body["items"]
            if stock and isinstance(items, list):
                items = [_renamed(i, "quantity", "on_hand") for i in items]
            meta = {"total": body["total"], "page": body["page"], "per_page": body["page_size"]}
            return {"data": items, "meta": meta}
        if stock:
            return _renamed(body, "quantity", "on_hand")
        if _RECEIVE.fullmatch(self.path) and "stock" in body:
            return {**body, "stock": _renamed(body["stock"], "quantity", "on_hand")}
        if self.path == "/admin/rbac" and isinstance(body.get("operations"), list):
            ops = [{**o, "path": to_v1(o["path"])} if isinstance(o, dict) else o for o in body["operations"]]
            return {**body, "operations": ops}
        return body

    def _error(self, status: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        message = str(body.get("detail", ""))
        field = body.get("field")
        if isinstance(field, str) and field in self.fields:
            new = self.fields[field]
            message = new + message[len(field) :] if message.startswith(field + ":") else message
            field = new
        message = _PATH_TOKEN.sub(lambda m: to_v1(m.group(0)), message)
        if status == 401:
            message = message.replace("Bearer <token>", "Token <token>")
            if self.bearer_refused:
                message = "Authorization scheme Bearer is not accepted: send 'Authorization: Token <token>'"
            if self.path == WS:
                message += " (a WebSocket may pass ?access_token=<token>)"
        status, out = _error(status, str(body["error"]), message, field)
        out["error"].update(
            {k: v for k, v in body.items() if k not in ("error", "detail", "field")}
        )  # bulk `rows`
        return status, out


def _json(status: int, body: Any) -> tuple[str, list[tuple[str, str]], bytes]:
    raw = json.dumps(body, separators=(",", ":")).encode()
    line = f"{status} {HTTPStatus(status).phrase.upper()}"
    return line, [("Content-Type", "application/json"), ("Content-Length", str(len(raw)))], raw


def _drain(chunks: Iterable[bytes]) -> bytes:
    try:
        return b"".join(chunks)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def middleware(app: WsgiApp) -> WsgiApp:
    """Wrap the canonical WSGI app (faults + Flask) so that it speaks v1."""

    def v1(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        req = _Request(environ)
        refused = req.rewrite()
        if refused is not None:
            line, headers, raw = _json(*refused)
            start_response(line, headers)
            return [raw]
        held: list[Any] = []
        sent: list[Callable[[bytes], Any]] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
            held[:] = [status, headers, exc_info]
            return write

        def write(data: bytes) -> Any:  # the app writes itself (the reset fault): pass it through as is
            if not sent:
                sent.append(start_response(*held) if held[2] else start_response(*held[:2]))
            return sent[0](data)

        chunks = app(environ, hold)
        if not held and not sent:
            chunks = [_drain(chunks)]  # a lazy app starts its response on the first chunk
        ctype = next((v for k, v in held[1] if k.lower() == "content-type"), "") if held else ""
        if sent or not ctype.startswith("application/json"):
            if not sent:
                start_response(*held[:2])
            return chunks
        raw = _drain(chunks)
        status = int(held[0].split(" ", 1)[0])
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):  # truncated on purpose (the malformed fault): pass it on
            start_response(*held[:2])
            return [raw]
        _, headers, new = _json(status, req.answer(status, body))
        start_response(held[0], [(k, v) for k, v in held[1] if k.lower() != "content-length"] + headers[1:])
        return [new]

    return v1


class CanonicalRoutes:
    """What the metrics middleware matches v1 paths with: the canonical rules they reach."""

    def __init__(self, url_map: Map):
        self.url_map = url_map
        self.nothing = Map()  # no rules: a path v1 does not serve is labelled `<unmatched>`

    def bind_to_environ(self, environ: dict[str, Any]) -> Any:
        path = to_canonical(environ.get("PATH_INFO", ""))
        routes = self.url_map if path is not None else self.nothing
        return routes.bind_to_environ({**environ, "PATH_INFO": path or "/"})
