"""`--seed-scale N`: N manufacturing orders with their rows in the default seed's proportions, a progress
bar on stderr, a reusable --db, lists and totals served right at the larger size, bad N exits 2."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import requests

from erp_target.seed_scale import stage_counts

from helpers import PY, Proc, Target, copy_db

pytestmark = pytest.mark.e2e
N = 20_000  # twice the default: every per-order proportion must double exactly


def seed_only(tmp: Path, *args: str, name: str = "seed") -> Proc:
    return Proc([PY, "-m", "erp_target", "--seed-only", *args], name=name, log_dir=tmp)


def rows(db: Path, sql: str, *params: object) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchone()[0]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("seed-scale")
    db = tmp / "erp-20k.db"
    proc = seed_only(tmp, "--db", str(db), "--seed-scale", "20k")
    assert proc.wait(120) == 0, proc.tail()
    m = proc.expect(r"^seeded (\d+) manufacturing orders, (\d+) work orders, (\d+) QC tests, (\d+) receipts")
    assert tuple(int(x) for x in m.groups()) == (N, 46_600, 7_800, 5_200)  # 2 x the default 10k seed
    proc.expect(r"seed \[#+\] 100% 20,000/20,000 orders")  # the progress bar (one line per 10 % off a tty)
    proc.expect(r"seed: indexes")
    return db


def test_counts_and_proportions_scale_with_n(seeded: Path) -> None:
    assert rows(seeded, "SELECT value FROM meta WHERE key = 'seed_scale'") == str(N)
    for stage, count in stage_counts(N):
        assert count == 2 * dict(stage_counts(10_000))[stage]
    assert rows(seeded, "SELECT count(*) FROM manufacturing_orders WHERE status = 'planned'") == 4_000
    assert rows(seeded, "SELECT count(*) FROM receipts WHERE status = 'received'") == 3_200
    audit = rows(seeded, "SELECT count(*) FROM audit_log")
    assert 5.0 * N < audit < 8.0 * N  # one create per MO plus the WO/QC/receipt trail
    assert rows(seeded, "SELECT count(*) FROM stock_items") == 50_000  # the catalogue does not grow
    assert rows(seeded, "PRAGMA journal_mode") == "wal"  # restored after the bulk-load journal
    assert rows(seeded, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'mo_status'") == 1


def test_the_target_serves_lists_and_totals_at_scale(tmp_path: Path, seeded: Path) -> None:
    target = Target(tmp_path, "--seed-scale", "20000", db=copy_db(seeded, tmp_path))  # same N: reused
    try:
        target.proc.expect(r"reusing seeded db .*20000 manufacturing orders")
        s = requests.Session()
        s.headers["Authorization"] = "Bearer " + target.login("ppic01")
        url = target.url

        def get(path: str, **params: object) -> dict:
            r = s.get(url + path, params=params, timeout=30)
            assert r.status_code == 200, r.text[:300]
            return r.json()

        first = get("/ppic/manufacturing-orders", page_size=200)
        assert first["total"] == N and first["items"][0]["number"] == f"MO-{N:06d}"
        last = get("/ppic/manufacturing-orders", page_size=200, page=N // 200)
        assert [i["id"] for i in last["items"]] == list(range(200, 0, -1))
        assert get("/ppic/manufacturing-orders", page_size=200, page=N // 200 + 1)["items"] == []
        for q in ("POLO-01", "Metro Wear", f"MO-0{N // 2}"):
            want = rows(
                seeded,
                "SELECT count(*) FROM manufacturing_orders WHERE number LIKE ?1 OR style LIKE ?1 OR customer LIKE ?1",
                f"%{q}%",
            )
            got = get("/ppic/manufacturing-orders", q=q, page_size=50)
            assert got["total"] == want > 0, q
            assert all(q.lower() in (i["number"] + i["style"] + i["customer"]).lower() for i in got["items"])
        planned = get("/ppic/manufacturing-orders", status="planned")
        assert planned["total"] == 4_000
        both = get("/ppic/manufacturing-orders", q="Nordic", status="planned", page_size=200, page=2)
        want = rows(
            seeded,
            "SELECT count(*) FROM manufacturing_orders WHERE customer LIKE '%nordic%' AND status = 'planned'",
        )
        assert both["total"] == want > 200 and all(i["status"] == "planned" for i in both["items"])
        ids = [i["id"] for i in both["items"]]
        assert ids == sorted(ids, reverse=True) and len(ids) == min(200, want - 200)
        for q in ("PO", "50%", 'a"b'):  # 2 characters: the LIKE fallback; wildcards and quotes are literal
            want = rows(
                seeded,
                "SELECT count(*) FROM manufacturing_orders WHERE number LIKE ?1 OR style LIKE ?1 OR customer LIKE ?1",
                f"%{q}%",
            )
            assert get("/ppic/manufacturing-orders", q=q)["total"] == (want if q == "PO" else 0), q
        made = s.post(
            url + "/ppic/manufacturing-orders",
            json={"style": "ZZTOP-777", "quantity": 10, "due_date": "2030-01-31"},
            timeout=30,
        )
        assert made.status_code == 201, made.text[:300]
        found = get("/ppic/manufacturing-orders", q="ztop-77")  # a new order is in the index at once
        assert found["total"] == 1 and found["items"][0]["id"] == made.json()["id"]
        wos = get("/production/work-orders", department="sewing", status="open", page_size=1)
        want = rows(
            seeded, "SELECT count(*) FROM work_orders WHERE department = 'sewing' AND status = 'open'"
        )
        assert wos["total"] == want == 3_000
        s.headers["Authorization"] = "Bearer " + target.login("qc01")
        assert get("/qc/tests", status="pending")["total"] == 2_000
        s.headers["Authorization"] = "Bearer " + target.login("warehouse01")
        assert get("/warehouse/receipts", status="pending")["total"] == 2_000
    finally:
        assert target.stop() == 0


def test_a_reused_db_of_another_scale_is_refused(tmp_path: Path, seeded: Path) -> None:
    proc = seed_only(tmp_path, "--db", str(seeded), "--seed-scale", "10k", name="mismatch")
    assert proc.wait(60) == 1
    proc.expect(
        r"--seed-scale 10000: the database file was seeded with --seed-scale 20000; pass another --db"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "5",
            r"--seed-scale: must be 10,000\.\.1,000,000 manufacturing orders, got 5 \('5'\); e\.g\. --seed-scale 100k",
        ),
        ("2M", r"--seed-scale: must be 10,000\.\.1,000,000 manufacturing orders, got 2,000,000"),
        (
            "lots",
            r"--seed-scale: must be a count of manufacturing orders like 100000, 100k or 1M, got 'lots'",
        ),
        ("1.5k5", r"--seed-scale: must be a count .* got '1\.5k5'"),
    ],
)
def test_bad_n_exits_2_with_where_what_and_how(tmp_path: Path, value: str, message: str) -> None:
    for cmd in ([PY, "-m", "erp_target"], [PY, "-m", "erpload.cli", "target"]):
        proc = Proc(
            [*cmd, "--seed-only", "--db", str(tmp_path / "x.db"), "--seed-scale", value], log_dir=tmp_path
        )
        assert proc.wait(60) == 2, proc.tail()
        proc.expect(message)
        assert not (tmp_path / "x.db").exists()  # refused before any file is created
