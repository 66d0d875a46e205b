"""Plain-HTTP calls through the API map (requests): the runtime's own calls, by operation name.

Role users speak through Locust's client (erpload.users); the runtime's own calls (the preflight
before any load, the stock readings of the correctness check, the admin session that applies
scheduled faults) go through `ApiClient`:

    client = ApiClient(base_url, api_map)
    client.login(username, password)                        # the map's login: path, JSON or form, token
    status, body = client.call("get_stock", {"sku": sku})  # body in canonical shape (lists: items/total)

Every exchange has a total deadline (connect, headers and body; a target that trickles bytes
fails at it) and a body cap, and no error message carries a secret: passwords and tokens are
registered with erpload.core.redact before any evidence is built, and every evidence text and URL
is redacted. The ERP's paths and field names come from the map only.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import time
from dataclasses import dataclass
from typing import Any

import requests
import urllib3

from erpload.api import ApiMap
from erpload.api.model import get_path
from erpload.core.redact import add_secret, add_token, redact
from erpload.users.settings import current

__all__ = ["ApiCallError", "ApiClient", "Exchange", "Misfit", "Unanswered"]

EVIDENCE_CHARS = 160  # of the answer's body, in a message
REDACT_CHARS = 4096  # redacted before it is shortened, so a secret is never cut in half unseen
CHUNK = 16 * 1024  # small reads: a compressed body is inflated a little at a time
_NOT_JSON = object()


@dataclass(frozen=True)
class Exchange:
    """One request and what came back, as a message may show it (URL and evidence redacted)."""

    method: str
    url: str
    status: int = 0  # 0: no (complete) answer
    evidence: str = ""  # the start of the body, redacted

    def describe(self) -> str:
        """`GET http://erp/x?page_size=1: HTTP 200, body {"data": [...]}`."""
        if not self.status:
            return f"{self.method} {self.url}"
        body = f", body {self.evidence}" if self.evidence else ", empty body"
        return f"{self.method} {self.url}: HTTP {self.status}{body}"


class ApiCallError(Exception):
    """A call without a usable answer: `what` went wrong, in `exchange`; `key`: the map key to fix."""

    def __init__(self, what: str, exchange: Exchange, key: str = "") -> None:
        self.what, self.exchange, self.key = what, exchange, key
        super().__init__(f"{exchange.describe()}: {what}")


class Unanswered(ApiCallError):
    """No complete answer: connection refused, a timeout, a body over the cap (not the map's fault)."""


class Misfit(ApiCallError):
    """The answer does not fit the API map (no token where the map says, no list envelope, not JSON)."""


def _keys(body: Any) -> str:
    """`; the answer's keys: a, b` (names, never values): where the map should point instead."""
    if not isinstance(body, dict) or not body:
        return f"; the answer is a JSON {type(body).__name__}" if body is not None else ""
    names = sorted(str(k) for k in body)
    shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
    return redact(f"; the answer's top-level keys: {shown}")


class _Deadline(Exception):
    pass


def _hard_deadline(seconds: float) -> Any:
    """gevent.Timeout over the whole exchange when sockets are gevent's (every Locust process)."""
    try:
        from gevent import Timeout, monkey
    except ImportError:  # pragma: no cover - gevent comes with Locust
        return contextlib.nullcontext()
    if not monkey.is_module_patched("socket"):
        return contextlib.nullcontext()
    return Timeout(seconds, _Deadline())


class ApiClient:
    """One session to the ERP at `base_url`, speaking through `api_map` (see the module docstring)."""

    def __init__(
        self, base_url: str, api_map: ApiMap, timeout_s: float | None = None, max_body: int | None = None
    ) -> None:
        settings = current()
        self.base_url = base_url.rstrip("/")
        self.map = api_map
        self.timeout_s = float(timeout_s if timeout_s is not None else settings.request_timeout)
        self.max_body = int(max_body if max_body is not None else settings.max_body)
        self.session = requests.Session()
        self.session.verify = not settings.insecure_tls
        self.auth: dict[str, str] = {}
        self.last: Exchange | None = None
        self._text = ""
        self._credential: tuple[str, str] | None = None

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()

    # -- the map's calls ---------------------------------------------------------------------------
    def login(self, username: str, password: str) -> tuple[str, float]:
        """Log in as the map says; (token, lifetime s); the token then authenticates every call.

        Raises Unanswered (no complete answer), ApiCallError (not 2xx: `exchange.status` says which)
        or Misfit (2xx without a token or lifetime where the map says, key login.token / .expires_in).
        """
        add_secret(password)
        self._credential = (username, password)
        spec = self.map.login
        payload = self.map.login_payload(username, password)
        body_kw = {"data": payload} if spec.encoding == "form" else {"json": payload}
        status, body = self._send(spec.method, self.map.base_path + spec.path, **body_kw)
        found, token = get_path(body, spec.token)
        if found and isinstance(token, str) and add_token(token):
            self._redo_evidence()  # the evidence of this very answer must not show the token
        exchange = self.last or Exchange(spec.method, self.map.base_path + spec.path)
        if not 200 <= status < 300:
            raise ApiCallError(f"the login was answered HTTP {status}", exchange)
        if body is _NOT_JSON or body is None:
            raise Misfit("the login answer is not JSON", exchange, "login.path")
        got = self.map.read_login(body)
        if isinstance(got, str):
            key = "login.token" if "login.token" in got else "login.expires_in"
            raise Misfit(got + _keys(body), exchange, key)
        self.auth = self.map.auth_headers(got[0])
        return got

    def relogin(self) -> bool:
        """Log in again with the last credentials (a token that expired); False if that failed."""
        if self._credential is None:
            return False
        try:
            self.login(*self._credential)
        except ApiCallError:
            return False
        return True

    def call(
        self,
        op_name: str,
        path_params: dict[str, Any] | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> tuple[int, Any]:
        """(HTTP status, body in canonical shape) of operation `op_name`, through the map.

        A 2xx answer of a list operation is normalised to {"items": [...], "total": N}; one that does
        not fit (no list where lists.items says, or not JSON) raises Misfit. Other answers come back
        as they are (parsed JSON, or None). Unanswered when there is no complete answer.
        """
        op = self.map.op(op_name)
        path = op.render(self.map.base_path, path_params or {})
        payload = self.map.request_json(op, json) if json is not None else None
        status, body = self._send(op.method, path, json=payload, params=self.map.request_params(op, params))
        exchange = self.last or Exchange(op.method, path)
        if not 200 <= status < 300:
            return status, None if body is _NOT_JSON else body
        if body is _NOT_JSON or (op.is_list and body is None):
            if op.is_list:
                raise Misfit(
                    f"{op_name} answered with a body that is not JSON", exchange, f"operations.{op_name}"
                )
            return status, None
        canonical, misfit = self.map.response(op, body)
        if misfit:
            key = "lists.items" if "lists.items" in misfit else "lists.total"
            raise Misfit(misfit + _keys(body), exchange, key)
        return status, canonical

    # -- HTTP --------------------------------------------------------------------------------------
    def _send(self, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        """(status, parsed JSON | None for an empty body | _NOT_JSON); Unanswered without a whole answer."""
        url = self.base_url + path
        self.last = Exchange(method, redact(url))
        self._text = ""
        body = bytearray()
        deadline = time.monotonic() + self.timeout_s
        try:
            with (
                _hard_deadline(self.timeout_s),
                self.session.request(
                    method, url, headers=self.auth, timeout=self.timeout_s, stream=True, **kw
                ) as r,
            ):
                self.last = Exchange(method, redact(r.url or url))
                while chunk := r.raw.read1(CHUNK, decode_content=True):
                    body += chunk
                    if len(body) > self.max_body:
                        raise Unanswered(f"body exceeded the {self.max_body} byte cap", self.last)
                    if time.monotonic() > deadline:
                        raise _Deadline()
                status, encoding = r.status_code, r.encoding or "utf-8"
        except _Deadline:
            raise Unanswered(f"no complete answer within {self.timeout_s:g} s", self.last) from None
        except (
            requests.RequestException,
            urllib3.exceptions.HTTPError,
            OSError,
        ) as e:  # reset mid-body, bad gzip
            raise Unanswered(f"no answer ({type(e).__name__}: {redact(str(e))[:200]})", self.last) from None
        self._text = body.decode(encoding, errors="replace")
        self.last = Exchange(method, self.last.url, status, "")
        self._redo_evidence()
        if not self._text.strip():
            return status, None
        try:
            return status, jsonlib.loads(self._text)
        except ValueError:
            return status, _NOT_JSON

    def _redo_evidence(self) -> None:
        """The last exchange's evidence, redacted with every secret known now (a token just registered)."""
        if self.last is not None and self.last.status:
            text = " ".join(redact(self._text[:REDACT_CHARS]).split())
            short = text if len(text) <= EVIDENCE_CHARS else text[:EVIDENCE_CHARS] + "…"
            self.last = Exchange(self.last.method, self.last.url, self.last.status, short)
