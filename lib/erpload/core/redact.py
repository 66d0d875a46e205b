"""Secret redaction (pure): known secrets in every encoding, plus JWTs, Bearer/Basic credentials and secret fields.

Redact first, mask digits after (`scrub`): masking digits first turns `p4ss` into `p#ss` and
`eyJhbGciOiJIUzI1NiJ9...` into `eyJhbGciOiJIUzI#NiJ#...`, which no secret pattern matches any more.

A known secret is hidden however the target or a sink may have re-encoded it: raw, JSON-escaped
(once or twice: a login body echoed inside a JSON error), Python-repr-escaped, URL-encoded
(quote / quote_plus, either hex case), HTML-escaped, digit-masked, and base64 of any text that
contains it (HTTP Basic `user:password`). Unknown secrets are caught by shape: `eyJ...` JWTs
(even truncated), `Bearer <token>`, `Basic <b64>`, and JSON / form fields named like a secret.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
from collections import OrderedDict
from urllib.parse import quote, quote_plus

__all__ = ["MARK", "Redactor", "add_secret", "add_token", "default", "redact", "scrub"]

MARK = "[REDACTED]"
MIN_SECRET_LEN = 3  # shorter "secrets" would blank out ordinary words; they are ignored
MAX_TOKENS = 2048  # the most recent issued tokens kept (long runs renew tokens); JWTs are caught by shape too
DIGITS = re.compile(r"\d+")  # the error-table digit masking (erpload.users.checks.DIGITS), applied last
_TOKEN_RUN = re.compile(r"[A-Za-z0-9._~+/=#%\\-]{8,}")  # where a token can be: looked up, not searched
_JWT = re.compile(r"eyJ[A-Za-z0-9_#-]{4,}(?:\.[A-Za-z0-9_#-]*){0,2}")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+|%20|\+)[A-Za-z0-9._~+/#%-]+=*")
_BASIC = re.compile(r"(?i)\b(basic)(\s+|%20|\+)[A-Za-z0-9+/#_-]{6,}={0,2}")
_SECRET_KEY = r"[A-Za-z_-]*(?:token|password|passwd|secret|api_?key|authorization|credentials?)"
_JSON_FIELD = re.compile(r'(?i)(\\*"' + _SECRET_KEY + r'\\*"\s*:\s*\\*")((?:[^"\\]|\\.)*?)(\\*")')
_FORM_FIELD = re.compile(r"(?i)\b(" + _SECRET_KEY + r"=)([^&\s\"'<>]+)")
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")


def encodings(secret: str) -> set[str]:
    """Every form `secret` may take in a response body, a log line or an artifact."""
    forms = {secret, html.escape(secret), html.escape(secret, quote=False)}
    once = json.dumps(secret)
    forms |= {once[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1], json.dumps(once)[3:-3]}
    slashed = secret.replace("\\", "\\\\")  # Python repr / str escaping, either quote style
    forms |= {repr(secret)[1:-1], slashed, slashed.replace("'", "\\'"), slashed.replace('"', '\\"')}
    forms.add(once[1:-1].replace("/", "\\/"))  # JSON encoders that escape '/' (PHP)
    for q in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        forms |= {q, re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), q)}
    masked = {DIGITS.sub("#", f) for f in forms}  # text that was digit-masked before it reached us
    forms |= {m for m in masked if len(m.replace("#", "")) >= MIN_SECRET_LEN}
    return {f for f in forms if f}


class Redactor:
    """Known secrets plus shape patterns; `redact(text)` hides them all. Cheap when nothing matches."""

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._raw: set[str] = set()
        self._tokens: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._token_forms: dict[str, str] = {}  # every form of every kept token -> the token
        self._rx: re.Pattern[str] | None = None

    def add_secret(self, value: str | None) -> bool:
        """Hide `value` (a password) in every encoding from now on; False if too short to hide safely."""
        if not isinstance(value, str) or len(value) < MIN_SECRET_LEN:
            return False
        if value in self._raw:
            return True
        self._raw.add(value)
        self._forms |= encodings(value)
        self._rx = None
        return True

    def add_token(self, value: str | None) -> bool:
        """Hide an issued token (bounded: the newest MAX_TOKENS are kept; JWT-shaped ones are caught anyway)."""
        if not isinstance(value, str) or len(value) < 8:
            return False
        if value in self._tokens:
            self._tokens.move_to_end(value)
            return True
        forms = {value, quote(value, safe=""), value.replace("/", "\\/"), DIGITS.sub("#", value)}
        self._tokens[value] = tuple(f for f in forms if len(f) >= 8)
        self._token_forms.update(dict.fromkeys(self._tokens[value], value))
        while len(self._tokens) > MAX_TOKENS:
            _, old = self._tokens.popitem(last=False)
            for form in old:
                self._token_forms.pop(form, None)
        return True

    def known(self) -> int:
        """How many distinct secrets and tokens are known (for logs and tests)."""
        return len(self._raw) + len(self._tokens)

    def redact(self, text: str) -> str:
        """`text` with every known secret (any encoding) and every secret-shaped value replaced by MARK."""
        if not text:
            return text
        if self._forms:
            if self._rx is None:
                alternatives = sorted(self._forms, key=len, reverse=True)  # longest form wins
                self._rx = re.compile("|".join(map(re.escape, alternatives)))
            text = self._rx.sub(MARK, text)
        if self._token_forms:  # a set lookup per token-shaped run: cheap with thousands of tokens
            text = _TOKEN_RUN.sub(self._token_match, text)
        text = _JWT.sub(MARK, text)
        text = _BEARER.sub(lambda m: f"{m[1]}{m[2]}{MARK}", text)
        text = _BASIC.sub(lambda m: f"{m[1]}{m[2]}{MARK}", text)
        text = _JSON_FIELD.sub(lambda m: f"{m[1]}{MARK}{m[3]}", text)
        text = _FORM_FIELD.sub(lambda m: f"{m[1]}{MARK}", text)
        if self._raw:
            text = _B64_RUN.sub(self._b64_match, text)
        return text

    def _token_match(self, m: re.Match[str]) -> str:
        run = m.group()
        if run in self._token_forms:
            return MARK
        # a token glued to punctuation ("tok." at a sentence end) or to a key ("token=tok")
        for piece in {run.strip(".,;:-_~/\\"), *re.split(r"[=:]", run)}:
            if piece in self._token_forms:
                return run.replace(piece, MARK)
        return run

    def _b64_match(self, m: re.Match[str]) -> str:
        run = m.group()
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                data = decode(run.rstrip("=") + "=" * (-len(run.rstrip("=")) % 4))
            except (binascii.Error, ValueError):
                continue
            text = data.decode("utf-8", "replace")
            if any(secret in text for secret in self._raw):
                return MARK
        return run

    def scrub(self, text: str) -> str:
        """Redact, then collapse digit runs to '#' (bounded error-table keys). Never the other way round."""
        return DIGITS.sub("#", self.redact(text))


default = Redactor()
"""The process-wide redactor: the plugin registers the credential pool's passwords, the logins' tokens."""


def add_secret(value: str | None) -> bool:
    """Register a secret with the process-wide redactor."""
    return default.add_secret(value)


def add_token(value: str | None) -> bool:
    """Register an issued token with the process-wide redactor."""
    return default.add_token(value)


def redact(text: str) -> str:
    """The process-wide redactor's `redact`."""
    return default.redact(text)


def scrub(text: str) -> str:
    """The process-wide redactor's `scrub`: redact, then mask digits."""
    return default.scrub(text)
