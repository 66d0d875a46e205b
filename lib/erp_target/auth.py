"""Auth blueprint: POST /auth/login issues an HS256 JWT; GET /auth/me; token verification."""

from __future__ import annotations

import time

import jwt
from flask import Blueprint, Response

from . import passwords
from .errors import ApiError, get_str, json_body
from .rbac import DEPARTMENTS, ROLES, Principal, route
from .state import reply, state, user

bp = Blueprint("auth", __name__)
ALGORITHM = "HS256"


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail)


def issue_token(who: Principal, secret: str, ttl: int) -> str:
    """A signed token with sub, role, dept, iat and exp."""
    now = int(time.time())
    claims = {"sub": who.username, "role": who.role, "dept": who.department, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def authenticate(header: str | None, secret: str) -> Principal:
    """The Principal of an `Authorization: Bearer` header; 401 if missing, malformed, forged or expired."""
    if not header:
        raise _unauthorized("missing Authorization header (expected: Bearer <token> from POST /auth/login)")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Authorization header must be 'Bearer <token>'")
    try:
        claims = jwt.decode(
            token.strip(), secret, algorithms=[ALGORITHM], options={"require": ["exp", "iat", "sub", "role"]}
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("token expired; log in again") from None
    except jwt.InvalidTokenError as e:
        raise _unauthorized(f"invalid token: {e}") from None
    role, dept, sub = claims.get("role"), claims.get("dept"), claims.get("sub")
    if role not in ROLES or not isinstance(sub, str) or (dept is not None and dept not in DEPARTMENTS):
        raise _unauthorized("invalid token: unknown role or department claim")
    return Principal(sub, role, dept)


@route(bp, "POST", "/auth/login")
def login() -> Response:
    """Exchange username + password for a bearer token."""
    body = json_body()
    username = get_str(body, "username", max_len=100)
    password = get_str(body, "password", max_len=200, secret=True)
    st = state()
    row = st.db.one(
        "SELECT username, role, department, password_hash, active FROM users WHERE username = ?", (username,)
    )
    ok = passwords.verify_async(password or "", row["password_hash"] if row else None)
    if row is None or not ok or not row["active"]:
        raise _unauthorized("wrong username or password")
    who = Principal(row["username"], row["role"], row["department"])
    token = issue_token(who, st.jwt_secret, st.config.token_ttl)
    return reply(
        {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": st.config.token_ttl,
            "user": who.to_json(),
        }
    )


@route(bp, "GET", "/auth/me")
def me() -> Response:
    """The caller as the token names it."""
    return reply(user().to_json())
