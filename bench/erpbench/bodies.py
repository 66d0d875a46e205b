"""ERP-shaped JSON bodies (docs/erp-api.md) for the nginx target, and the bench accounts.

Lists hold 50 objects of the documented shape (a page of `page_size=50`), so body sizes are those
of the real API: 8-14 KB per list, a few hundred bytes per object. Everything is deterministic
(seeded) so two bench runs serve byte-identical bodies.

One account per role: nginx cannot look users up, so the login maps the username's role prefix
to a role token, and every answer that names "me" (claim, /auth/me) uses that role's username.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

ROLE_KEYS = ("admin", "ppic", "cutting", "sewing", "finishing", "qc", "warehouse")
DEPARTMENTS = ("cutting", "sewing", "finishing")
USERNAMES = {
    "admin": "admin01",
    "ppic": "ppic01",
    "cutting": "cutting001",
    "sewing": "sewing001",
    "finishing": "finishing001",
    "qc": "qc01",
    "warehouse": "warehouse01",
}
PASSWORD = "bench-only-password"
ROLE_OF = {
    "admin": "admin",
    "ppic": "ppic",
    "qc": "qc",
    "warehouse": "warehouse",
    "cutting": "operator",
    "sewing": "operator",
    "finishing": "operator",
}
WO_BASE = {"cutting": 100000, "sewing": 200000, "finishing": 300000}
STYLES = ("POLO", "TEE", "HOODIE", "JACKET", "CHINO", "JEANS", "DRESS", "SKIRT", "SHIRT", "BLAZER")
CUSTOMERS = ("Nordic Apparel", "Urban Outfitters", "Coastal Retail", "Alpine Wear", "Metro Stores")
_T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def dumps(obj: Any) -> str:
    """Compact JSON as an ERP would send it (ASCII only: safe inside a single-quoted nginx string)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)


def credentials() -> dict[str, list[dict[str, str]]]:
    """The $ERPLOAD_CREDENTIALS file content: one account per role."""
    return {role: [{"username": USERNAMES[role], "password": PASSWORD}] for role in ROLE_KEYS}


def token(role: str) -> str:
    """A JWT-shaped (three base64url parts, ~230 chars) token that names the role; fixed per role."""
    rnd = random.Random(f"token-{role}")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    middle = "".join(rnd.choice(alphabet) for _ in range(150))
    sig = "".join(rnd.choice(alphabet) for _ in range(43))
    return f"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{role}.{middle}.{sig}"


def _ts(rnd: random.Random) -> str:
    """A random ISO-8601 UTC timestamp in March 2026."""
    return (_T0 + timedelta(seconds=rnd.randint(0, 30 * 86400))).isoformat().replace("+00:00", "Z")


def work_order(
    wo_id: int, department: str, status: str, assignee: str | None, rnd: random.Random
) -> dict[str, Any]:
    """A WO object."""
    quantity = rnd.randint(20, 60) * 10
    done = 0 if status == "open" else rnd.randint(0, quantity // 20) * 10
    return {
        "id": wo_id,
        "mo_id": wo_id % 100000 // 3 + 1,
        "department": department,
        "quantity": quantity,
        "quantity_done": done,
        "status": status,
        "assignee": assignee,
        "updated_at": _ts(rnd),
    }


def manufacturing_order(mo_id: int, rnd: random.Random, status: str | None = None) -> dict[str, Any]:
    """An MO object."""
    style = f"{rnd.choice(STYLES)}-{rnd.randint(0, 99):03d}"
    due = date(2026, 4, 1) + timedelta(days=rnd.randint(0, 90))
    return {
        "id": mo_id,
        "number": f"MO-{mo_id:06d}",
        "style": style,
        "product_sku": f"FG-{mo_id % 500:06d}",
        "customer": rnd.choice(CUSTOMERS),
        "quantity": rnd.randint(4, 30) * 10,
        "due_date": due.isoformat(),
        "status": status or rnd.choice(("planned", "in_progress", "completed")),
        "created_at": _ts(rnd),
    }


def stock_item(i: int, rnd: random.Random) -> dict[str, Any]:
    """A STOCK object (fabrics, trims, accessories and finished goods)."""
    kind, name = rnd.choice(
        (
            ("FAB", "Denim 12oz Indigo"),
            ("FAB", "Cotton Pique Navy"),
            ("TRM", "Zipper YKK 18cm"),
            ("ACC", "Poly Bag 30x40"),
            ("FG", "Polo Shirt Navy M"),
            ("FG", "Chino Khaki 32"),
        )
    )
    return {
        "sku": f"{kind}-{i:06d}",
        "name": name,
        "quantity": rnd.randint(150, 5000),
        "location": f"WH{rnd.randint(1, 4)}-A{rnd.randint(1, 20):02d}-R{rnd.randint(1, 10):02d}",
        "updated_at": _ts(rnd),
    }


def page(items: list[dict[str, Any]], total: int) -> dict[str, Any]:
    """The list envelope."""
    return {"items": items, "total": total, "page": 1, "page_size": 50}


def static_files() -> dict[str, str]:
    """Relative path under the web root -> JSON text, for the GET endpoints nginx serves as files."""
    rnd = random.Random(20260302)
    files: dict[str, str] = {}
    for dept in DEPARTMENTS:
        base = WO_BASE[dept]
        files[f"lists/wo-{dept}-open.json"] = dumps(
            page([work_order(base + i, dept, "open", None, rnd) for i in range(50)], 812)
        )
        mine = [work_order(base + 90000 + i, dept, "in_progress", USERNAMES[dept], rnd) for i in range(3)]
        others = [
            work_order(base + 80000 + i, dept, "in_progress", f"{dept}{i + 2:03d}", rnd) for i in range(37)
        ]
        files[f"lists/wo-{dept}-in_progress.json"] = dumps(page(others[:20] + mine + others[20:], 40))
    files["lists/wo-all.json"] = dumps(
        page(
            [
                work_order(WO_BASE[rnd.choice(DEPARTMENTS)] + i, rnd.choice(DEPARTMENTS), "open", None, rnd)
                for i in range(50)
            ],
            2411,
        )
    )
    files["lists/mo.json"] = dumps(page([manufacturing_order(1000 + i, rnd) for i in range(50)], 1630))
    files["lists/qc.json"] = dumps(
        page(
            [
                {
                    "id": 5000 + i,
                    "mo_id": 1000 + i,
                    "work_order_id": 300000 + i,
                    "quantity": rnd.randint(4, 30) * 10,
                    "status": "pending",
                    "defects": 0,
                    "inspector": None,
                    "updated_at": _ts(rnd),
                }
                for i in range(50)
            ],
            377,
        )
    )
    files["lists/receipts.json"] = dumps(
        page(
            [
                {
                    "id": 7000 + i,
                    "mo_id": 1000 + i,
                    "qc_test_id": 5000 + i,
                    "sku": f"FG-{i:06d}",
                    "quantity": rnd.randint(4, 30) * 10,
                    "status": "pending",
                    "received_by": None,
                    "updated_at": _ts(rnd),
                }
                for i in range(50)
            ],
            95,
        )
    )
    files["lists/stock.json"] = dumps(page([stock_item(i, rnd) for i in range(50)], 2500))
    files["lists/users.json"] = dumps(
        page(
            [
                {
                    "username": f"{r}{i:03d}",
                    "role": ROLE_OF[r],
                    "department": r if r in DEPARTMENTS else None,
                    "active": True,
                }
                for i, r in enumerate(rnd.choice(ROLE_KEYS) for _ in range(50))
            ],
            390,
        )
    )
    actions = ("claim", "step", "qc_result", "receive", "adjust", "mo_create", "login")
    files["lists/audit.json"] = dumps(
        page(
            [
                {
                    "id": 90000 - i,
                    "at": _ts(rnd),
                    "username": rnd.choice(list(USERNAMES.values())),
                    "action": rnd.choice(actions),
                    "entity": "work_order",
                    "entity_id": rnd.randint(1, 99999),
                    "detail": "quantity 40 recorded on bundle 7 of 12",
                }
                for i in range(50)
            ],
            90000,
        )
    )
    ops = [{"method": m, "path": p, "roles": list(r)} for m, p, r in RBAC_MATRIX]
    files["admin/rbac.json"] = dumps({"roles": [*sorted(set(ROLE_OF.values()))], "operations": ops})
    files["exports/rbac-report.csv"] = rbac_report_csv()
    return files


def rbac_report_csv() -> str:
    """GET /admin/rbac/report?format=csv: one row per bench account, one column per operation (yes/no/own)."""
    lines = [",".join(("username", "role", "department", "active", *(f"{m} {p}" for m, p, _ in RBAC_MATRIX)))]
    for key, username in USERNAMES.items():
        role, dept = ROLE_OF[key], key if key in DEPARTMENTS else ""
        cells = []
        for _, _, allowed in RBAC_MATRIX:
            ok = role in allowed or f"operator:{dept}" in allowed or ("operator:*" in allowed and dept)
            cells.append("own" if "operator:=" in allowed and dept else ("yes" if ok else "no"))
        lines.append(",".join((username, role, dept, "1", *cells)))
    return "\n".join(lines) + "\n"


RBAC_MATRIX: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("GET", "/auth/me", ("admin", "ppic", "operator", "qc", "warehouse")),
    ("GET", "/dashboard", ("admin", "ppic", "operator", "qc", "warehouse")),
    ("GET", "/ppic/manufacturing-orders", ("admin", "ppic")),
    ("POST", "/ppic/manufacturing-orders", ("admin", "ppic")),
    ("GET", "/ppic/manufacturing-orders/{id}", ("admin", "ppic")),
    ("GET", "/production/work-orders", ("admin", "ppic", "operator:*")),
    ("POST", "/production/work-orders/{id}/claim", ("operator:=",)),
    ("PATCH", "/production/work-orders/{id}", ("operator:=",)),
    ("POST", "/production/cutting", ("operator:cutting",)),
    ("POST", "/production/sewing", ("operator:sewing",)),
    ("POST", "/production/finishing", ("operator:finishing",)),
    ("GET", "/qc/tests", ("admin", "ppic", "qc")),
    ("POST", "/qc/tests/{id}/result", ("qc",)),
    ("GET", "/warehouse/receipts", ("admin", "warehouse")),
    ("POST", "/warehouse/receipts/{id}/receive", ("warehouse",)),
    ("GET", "/warehouse/stock", ("admin", "ppic", "warehouse")),
    ("GET", "/warehouse/stock/{sku}", ("admin", "ppic", "warehouse")),
    ("POST", "/warehouse/stock/{sku}/adjust", ("admin", "warehouse")),
    ("POST", "/reports/production", ("admin", "ppic")),
    ("GET", "/admin/users", ("admin",)),
    ("GET", "/admin/audit-log", ("admin",)),
    ("GET", "/admin/rbac", ("admin",)),
)


def inline_bodies() -> dict[str, str]:
    """Placeholder name -> JSON text for the answers nginx builds with `return`/`echo` (POST/PATCH, items).

    `$wo`, `$sku`, `$me_user`, `$role`, `$qc_status` and `$import_bad_*` are nginx variables filled
    per request; the `import_maps` entries (map lines, not JSON) are filled in the same way.
    """
    rnd = random.Random(4242)
    mo = manufacturing_order(2001, rnd, "planned")
    mo["work_orders"] = [work_order(100777, "cutting", "open", None, rnd)]
    mo_detail = manufacturing_order(1007, rnd, "in_progress")
    mo_detail["work_orders"] = [
        work_order(WO_BASE[d] + 7, d, s, a, rnd)
        for d, s, a in (
            ("cutting", "done", "cutting004"),
            ("sewing", "in_progress", "sewing011"),
            ("finishing", "open", None),
        )
    ]
    wo = work_order(0, "cutting", "in_progress", None, rnd)
    cards = {
        "open_work_orders": 812,
        "in_progress_work_orders": 131,
        "pending_qc": 37,
        "pending_receipts": 12,
        "open_manufacturing_orders": 96,
        "low_stock_items": 8,
    }
    rows = [
        {
            "key": f"2026-03-{d:02d}",
            "work_orders": rnd.randint(40, 90),
            "quantity": rnd.randint(4000, 9000),
            "quantity_done": rnd.randint(2000, 4000),
        }
        for d in range(1, 31)
    ]
    report = {
        "from": "2026-02-01",
        "to": "2026-03-02",
        "group_by": "day",
        "rows": rows,
        "totals": {
            "work_orders": sum(r["work_orders"] for r in rows),
            "quantity": sum(r["quantity"] for r in rows),
            "quantity_done": sum(r["quantity_done"] for r in rows),
        },
    }
    marker = "@@{}@@"  # placeholders for nginx variables inside dumped JSON

    def with_vars(obj: Any, **fields: str) -> str:
        """Dump `obj`, then replace the quoted markers by nginx variables (unquoted numbers or quoted strings)."""
        text = dumps(obj)
        for key, var in fields.items():
            text = text.replace(dumps(marker.format(key)), var)
        return text

    claim = {
        **wo,
        "id": marker.format("id"),
        "department": marker.format("dept"),
        "assignee": marker.format("me"),
    }
    step_wo = {
        **wo,
        "id": marker.format("id"),
        "quantity": 400,
        "quantity_done": 120,
        "status": marker.format("status"),
        "assignee": marker.format("me"),
    }
    return {
        "LOGIN": '{"access_token":"$login_token","token_type":"bearer","expires_in":3600,'
        '"user":{"username":"$login_user","role":"$login_role","department":null}}',
        "ME": '{"username":"$me_user","role":"$role","department":null}',
        "DASHBOARD": with_vars(
            {
                "user": {"username": marker.format("me"), "role": marker.format("role"), "department": None},
                "role": marker.format("role"),
                "cards": cards,
                "generated_at": "2026-03-02T08:15:00Z",
            },
            me='"$me_user"',
            role='"$role"',
        ),
        "MO_CREATED": dumps(mo),
        "MO_DETAIL": with_vars({**mo_detail, "id": marker.format("id")}, id="$mo"),
        "CLAIM": with_vars(claim, id="$wo", dept='"$role"', me='"$me_user"'),
        "WO_NOTE": with_vars({**claim, "note": "bundle checked"}, id="$wo", dept='"$role"', me='"$me_user"'),
        "STEP": with_vars(
            {"work_order": step_wo, "next": None}, id="1", status='"$step_status"', me='"$me_user"'
        ),
        "QC_RESULT": with_vars(
            {
                "test": {
                    "id": marker.format("id"),
                    "mo_id": 1007,
                    "work_order_id": 300007,
                    "quantity": 240,
                    "status": marker.format("st"),
                    "defects": 1,
                    "inspector": "qc01",
                    "updated_at": "2026-03-02T08:15:00Z",
                },
                "next": {"type": "receipt", "id": 7123},
            },
            id="$qc",
            st='"$qc_status"',
        ),
        "RECEIVE": with_vars(
            {
                "receipt": {
                    "id": marker.format("id"),
                    "mo_id": 1007,
                    "qc_test_id": 5007,
                    "sku": "FG-000007",
                    "quantity": 240,
                    "status": "received",
                    "received_by": "warehouse01",
                    "updated_at": "2026-03-02T08:15:00Z",
                },
                "stock": {
                    "sku": "FG-000007",
                    "name": "Polo Shirt Navy M",
                    "quantity": 1480,
                    "location": "WH1-A01-R01",
                    "updated_at": "2026-03-02T08:15:00Z",
                },
            },
            id="$rcpt",
        ),
        "STOCK_ITEM": with_vars({**stock_item(7, rnd), "sku": marker.format("sku")}, sku='"$sku"'),
        "ADJUST": with_vars(
            {
                "sku": marker.format("sku"),
                "quantity": 1234,
                "delta": 5,
                "adjustment_id": 88231,
                "replayed": False,
            },
            sku='"$sku"',
        ),
        "REPORT": dumps(report),
        "IMPORTED": dumps({"imported": IMPORT_ROWS, "first_id": 400001, "last_id": 400000 + IMPORT_ROWS}),
        "IMPORT_REFUSED": with_vars(
            {
                "error": "validation",
                "detail": "rows are invalid; nothing was applied: fix them and send it again",
                "field": "rows",
                "rows": [
                    {"row": marker.format("first"), "field": "row", "detail": "invalid value"},
                    {"row": marker.format("last"), "field": "row", "detail": "invalid value"},
                ],
                "invalid_rows": 2,
                "truncated": False,
            },
            first="$import_bad_first",
            last="$import_bad_last",
        ),
        "BULK_ITEM": dumps(
            {"sku": "FG-000007", "quantity": 1480, "delta": 5, "adjustment_id": 88231, "replayed": False}
        ),
        **import_maps(),
        "FORBIDDEN": '{"error":"forbidden","detail":"role $role may not call $request_method $uri"}',
        "UNAUTHORIZED": '{"error":"unauthorized","detail":"missing or invalid bearer token"}',
    }


IMPORT_ROWS = 50  # PpicPlanner.import_rows: nginx cannot count CSV rows, so it answers this count
# BAD_CELLS of erpload.roles.planning, as they appear in a row (mo_number first)
_BAD_ROW = "(?:NO-SUCH-ORDER,|[^[:cntrl:]]*,(?:knitting|0|ten),)"
_LINE = "[^[:cntrl:]]*[[:cntrl:]]"  # one CSV line and its newline ([[:cntrl:]]: no backslash in the config)
BULK_MAX = 50  # StockController's batch; WarehouseClerk sends 5-20


def import_maps() -> dict[str, str]:
    """nginx `map` entries over the request body (no quote or backslash: they are filled into the config).

    IMPORT_FIRST_MAP / IMPORT_LAST_MAP: the spreadsheet row number (header = 1) of the first / last
    row holding one of the planner's deliberately bad cells, rows 2..IMPORT_ROWS+1 (0: none), so a
    422 names exactly the bad rows (one or two). BULK_COUNT_MAP: how many adjustments a bulk request
    carries (1..BULK_MAX; atomic groups, so a miss costs one linear scan); BULK_MORE_MAP: that count
    minus one as `x,x,...` for echo_foreach_split (the first result is echoed before the loop).
    """
    rows = range(2, IMPORT_ROWS + 2)

    def row_entry(n: int) -> str:
        return f'        "~^(?:{_LINE}){{{n - 1}}}{_BAD_ROW}" {n};'

    counts = range(BULK_MAX, 0, -1)
    return {
        "IMPORT_FIRST_MAP": "\n".join(row_entry(n) for n in rows),
        "IMPORT_LAST_MAP": "\n".join(row_entry(n) for n in reversed(rows)),
        "BULK_COUNT_MAP": "\n".join(f'        "~^(?>.*?idempotency_key){{{n}}}" {n};' for n in counts),
        "BULK_MORE_MAP": "\n".join(f'        {n} "{",".join("x" * (n - 1))}";' for n in counts),
    }


def body_sizes() -> dict[str, int]:
    """Bytes per static body (for the docs)."""
    return {k: len(v) for k, v in static_files().items()}
