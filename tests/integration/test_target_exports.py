"""The reference ERP's exports, imports and bulk adjustments: CSV shapes, streaming, 422 rows, ledger booking."""

from __future__ import annotations

import socket

import pytest

from helpers import Api, Target

CSV = {"Content-Type": "text/csv"}


def _import(n: int, bad: dict[int, tuple[str, str]] | None = None) -> bytes:
    lines = [["mo_number", "department", "quantity", "note"]]
    lines += [[f"MO-{i % 9000 + 1:06d}", "cutting", str(10 + i % 50), "plan"] for i in range(n)]
    for row, (col, value) in (bad or {}).items():  # row: spreadsheet row (header = 1)
        lines[row - 1][lines[0].index(col)] = value
    return ("\n".join(",".join(cells) for cells in lines) + "\n").encode()


@pytest.fixture(scope="module")
def s(app_target):
    return {
        k: Api(app_target, u) for k, u in (("admin", "admin01"), ("ppic", "ppic01"), ("wh", "warehouse01"))
    }


def test_stock_export_10k_rows(s):
    r = s["ppic"].get("/warehouse/exports/stock", params={"limit": 10000})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    lines = r.text.splitlines()
    assert lines[0] == "sku,name,quantity,location,updated_at" and len(lines) == 10_001
    assert lines[1].startswith("ACC-000001,") and lines[-1].startswith("ACC-010000,")  # by SKU, no gaps
    prefixed = s["wh"].get("/warehouse/exports/stock", params={"prefix": "FG-"}).text.splitlines()
    assert len(prefixed) - 1 >= 10_000 and all(x.startswith("FG-") for x in prefixed[1:])
    assert s["wh"].get("/warehouse/exports/stock", params={"limit": 0}).status_code == 422


def test_audit_export_year_and_bad_range(s):
    r = s["admin"].get("/admin/audit-log/export")
    lines = r.text.splitlines()
    assert lines[0] == "id,at,username,action,entity,entity_id,detail" and len(lines) > 70_000
    ats = [line.split(",")[1] for line in lines[1:]]
    assert ats == sorted(ats)  # oldest first, across chunk boundaries
    bad = s["admin"].get("/admin/audit-log/export", params={"from": "2020-01-01", "to": "2022-01-01"})
    assert bad.status_code == 422 and bad.json()["field"] == "to"
    assert s["ppic"].get("/admin/audit-log/export").status_code == 403


def test_rbac_report_csv_and_json(s):
    csv_lines = s["admin"].get("/admin/rbac/report").text.splitlines()
    assert csv_lines[0].startswith("username,role,department,active,GET /auth/me,")
    assert len(csv_lines) == 391  # every seeded account
    body = s["admin"].get("/admin/rbac/report", params={"format": "json"}).json()
    ops = body["operations"]
    users = {u["username"]: u["access"] for u in body["users"]}
    assert users["cutting001"][ops.index("POST /production/cutting")] == "yes"
    assert users["sewing001"][ops.index("POST /production/cutting")] == "no"
    assert users["sewing001"][ops.index("GET /production/work-orders")] == "own department"
    assert users["warehouse01"][ops.index("GET /admin/rbac/report")] == "no"


def test_import_1000_rows_and_the_422_names_exactly_the_bad_rows(s):
    bad = {5: ("department", "knitting"), 17: ("quantity", "0"), 230: ("mo_number", "NO-SUCH")}
    r = s["ppic"].post("/production/work-orders/import", data=_import(1000, bad), headers=CSV)
    assert r.status_code == 422, r.text
    body = r.json()
    assert sorted({x["row"] for x in body["rows"]}) == [5, 17, 230] and body["invalid_rows"] == 3
    assert {(x["row"], x["field"]) for x in body["rows"]} == {
        (5, "department"),
        (17, "quantity"),
        (230, "mo_number"),
    }
    assert "rows 5, 17, 230" in body["detail"]
    before = s["ppic"].ok("GET", "/production/work-orders", params={"page_size": 1})["total"]
    ok = s["ppic"].post("/production/work-orders/import", data=_import(1000), headers=CSV)
    assert ok.status_code == 201 and ok.json()["imported"] == 1000, ok.text
    after = s["ppic"].ok("GET", "/production/work-orders", params={"page_size": 1})["total"]
    assert after == before + 1000  # the failed file imported nothing, the good one everything
    assert s["ppic"].post("/production/work-orders/import", json={}).status_code == 415
    assert s["wh"].post("/production/work-orders/import", data=_import(1), headers=CSV).status_code == 403


def test_bulk_adjust_is_atomic_idempotent_and_booked_like_single_adjusts(s):
    wh = s["wh"]

    def qty(sku):
        return wh.ok("GET", f"/warehouse/stock/{sku}")["quantity"]

    q1, q2 = qty("TRM-000301"), qty("TRM-000302")
    batch = {
        "adjustments": [
            {"sku": "TRM-000301", "delta": 7, "reason": "count", "idempotency_key": "bulk-a"},
            {"sku": "TRM-000302", "delta": -2, "reason": "count", "idempotency_key": "bulk-b"},
        ]
    }
    first = wh.ok("POST", "/warehouse/adjustments", json=batch)
    assert first["applied"] == 2 and [x["quantity"] for x in first["results"]] == [q1 + 7, q2 - 2]
    again = wh.ok("POST", "/warehouse/adjustments", json=batch)  # a retry: replayed, not applied twice
    assert again["applied"] == 0 and again["replayed"] == 2 and qty("TRM-000301") == q1 + 7
    broken = {
        "adjustments": [
            {"sku": "TRM-000301", "delta": 1, "reason": "x"},
            {"sku": "NOPE", "delta": 1, "reason": "x"},
        ]
    }
    r = wh.post("/warehouse/adjustments", json=broken)
    assert r.status_code == 422 and [x["row"] for x in r.json()["rows"]] == [2]
    assert qty("TRM-000301") == q1 + 7  # row 1 rolled back with the batch
    log = s["admin"].ok("GET", "/admin/audit-log", params={"action": "stock.adjust", "page_size": 5})
    assert any("bulk" in a["detail"] and a["entity_id"] == "TRM-000302" for a in log["items"])


def test_exports_are_streamed_chunked(target: Target):
    """Over a real socket: no Content-Length, chunked transfer encoding, many chunks."""
    token = target.login("admin01")
    with socket.create_connection(("127.0.0.1", target.port), timeout=30) as sock:
        sock.sendall(
            f"GET /admin/audit-log/export HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"200" in head.split(b"\r\n")[0] and b"transfer-encoding: chunked" in head.lower()
    assert b"content-length" not in head.lower()
    assert body.count(b"\r\n") > 100 and body.endswith(b"0\r\n\r\n")
