"""Role users carry no ERP path or ERP-specific field name: every one of them is in the API map.

Read with `ast` (string constants, f-string parts and bytes, docstrings excepted; comments are not
code), over lib/erpload/users/ and lib/erpload/roles/. What the role users may still write, and why:

- canonical field names (`items`, `total`, `quantity`, `work_order_id`, `page_size`, ...): the
  canonical API of docs/erp-api.md, which the map translates to and from each ERP's names;
- operation names (`claim_work_order`): the map's keys;
- `username` / `password`: the keys of erpload's own credentials file, not the ERP's login fields
  (those are `login.fields` in the map);
- `Idempotency-Key`: a header of the canonical stock adjustment, sent as the canonical API defines it;
- URL schemes (`http://` -> `ws://`) and generic HTTP header names of the transport;
- `Authorization` in users/transport.py only: Locust's own HTTP Basic auth (`auth=(user, pw)`, or
  credentials in the host URL), which ErpSession.request keeps as FastHttpSession.request has it.

Forbidden: anything that looks like an ERP path (`/something`), and the login/auth/envelope names
the map owns: the login path, token and expiry fields, the auth header and its scheme, the
WebSocket token parameter, the list envelope's other names.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIRS = (ROOT / "lib" / "erpload" / "users", ROOT / "lib" / "erpload" / "roles")
PATH_LIKE = re.compile(r"(?:^|[\s\"'(=])/[A-Za-z_{\[]")  # "/production/cutting", "x /auth/me", "{id}" ...
FORBIDDEN = (
    "/auth/",
    "access_token",
    "expires_in",
    "token_type",
    "bearer",
    "authorization",
    "token=",
)


def sources() -> list[Path]:
    return sorted(p for d in DIRS for p in d.rglob("*.py"))


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants (module, class, function): prose may name paths."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def offences(source: str, where: str) -> list[str]:
    """Every string literal in `source` that looks like an ERP path or names an ERP-owned field."""
    tree = ast.parse(source, where)
    skip = docstrings(tree)
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in skip:
            continue
        value = node.value
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str):
            continue
        low = value.lower()
        hits = [w for w in FORBIDDEN if w in low]
        if PATH_LIKE.search(value):
            hits.append("an ERP path")
        if hits:
            out.append(f"{where}:{node.lineno}: {value!r} ({', '.join(hits)})")
    return out


# (file, literal): allowed, see the module docstring
ALLOWED = {("lib/erpload/users/transport.py", "'Authorization' (authorization)")}


def test_role_users_write_no_erp_path_or_field_name() -> None:
    files = sources()
    assert len(files) >= 15, files  # the scan sees the packages (users/*.py, roles/*.py)
    found = [o for p in files for o in offences(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    found = [o for o in found if (o.split(":", 1)[0], o.split(": ", 1)[1]) not in ALLOWED]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    "code",
    [
        'self.get("/production/work-orders")',
        'x = f"/production/{dept}"',
        'NAME = "/warehouse/stock/[sku]/adjust"',
        'h = {"Authorization": "Bearer " + t}',
        'body["access_token"]',
        'ttl = body.get("expires_in")',
        'url = f"{host}/ws/events?token={t}"',
        'p = b"/auth/login"',
        'def f():\n    """Doc."""\n    return "/qc/tests"',
    ],
)
def test_the_scan_catches_what_it_forbids(code: str) -> None:
    assert offences(code, "x.py"), code


@pytest.mark.parametrize(
    "code",
    [
        'def f():\n    """Calls POST /production/cutting (prose may name paths)."""',
        'self.call("claim_work_order", path={"id": 1}, required=("items", "total"))',
        'expected = "/".join(map(str, expect))',
        'url = host.replace("https://", "wss://").replace("http://", "ws://").rstrip("/")',
        'json = {"work_order_id": 1, "quantity": 5, "page_size": 50}',
        'headers = {"Idempotency-Key": key}',
        'entry = {"username": u, "password": p}',
    ],
)
def test_the_scan_lets_the_canonical_model_through(code: str) -> None:
    assert offences(code, "x.py") == [], code
