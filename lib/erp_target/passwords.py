"""Password hashing: PBKDF2-SHA256 with a per-user salt, computed off the gevent loop."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import gevent
from gevent.threadpool import ThreadPool

# Modest on purpose: a login must stay well under 50 ms even when hundreds arrive at once (~2 ms each).
ITERATIONS = 5000
_DUMMY = "pbkdf2_sha256$5000$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43  # verified against for unknown users


def _derive(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)


def hash_password(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """`pbkdf2_sha256$ITER$SALT$HASH` (base64, no padding)."""
    salt = salt or secrets.token_bytes(16)
    digest = _derive(password, salt, iterations)
    b64 = base64.b64encode
    return f"pbkdf2_sha256${iterations}${b64(salt).decode().rstrip('=')}${b64(digest).decode().rstrip('=')}"


def hash_many(password: str, n: int) -> list[str]:
    """N hashes of one password with N salts, on real threads (hashlib releases the GIL)."""
    pool = ThreadPool(2)
    try:
        return list(pool.imap(lambda _: hash_password(password), range(n)))
    finally:
        pool.kill()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def verify(password: str, stored: str) -> bool:
    """Constant-time check of `password` against a stored hash (False for any malformed hash)."""
    try:
        scheme, iterations, salt, digest = stored.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        got = _derive(password, _unb64(salt), int(iterations))
        return hmac.compare_digest(got, _unb64(digest))
    except (ValueError, TypeError):
        return False


def verify_async(password: str, stored: str | None) -> bool:
    """verify() on the hub's thread pool so a login never blocks other greenlets; unknown users
    cost the same time as known ones (no username probing by timing)."""
    return bool(gevent.get_hub().threadpool.apply(verify, (password, stored or _DUMMY)) and stored)
