"""Correctness tallies live per Environment: created on first use, independent, reset in place."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

from erpload.core import tallies as T
from erpload.core.tallies import Tallies, tallies_for


def test_tallies_for_creates_once_per_environment() -> None:
    a, b = SimpleNamespace(), SimpleNamespace()
    ta = tallies_for(a)
    assert isinstance(ta, Tallies) and a.erpload_tallies is ta and tallies_for(a) is ta
    assert tallies_for(b) is not ta


def test_two_environments_never_mix() -> None:
    a, b = tallies_for(SimpleNamespace()), tallies_for(SimpleNamespace())
    a.violations["qc"] += 2
    a.conflicts["POST /qc/tests/[id]/result"] += 1
    a.sessions["login"] += 3
    a.record_stock("FAB-1", delta=5)
    a.ws["lost"] += 1
    assert b.snapshot() == {
        "rbac_violations": {},
        "conflicts": {},
        "sessions": {},
        "ledger": {},
        "transfers": {},
        "ws": {},
    }
    assert a.snapshot() == {
        "rbac_violations": {"qc": 2},
        "conflicts": {"POST /qc/tests/[id]/result": 1},
        "sessions": {"login": 3},
        "ledger": {"FAB-1": {"delta": 5, "count": 1, "received": 0, "receipts": 0, "pending": {}}},
        "transfers": {},
        "ws": {"lost": 1},
    }


def test_ledger_pending_until_a_definite_answer() -> None:
    t = Tallies()
    t.begin_adjust("FAB-1", "k1", 4)
    t.begin_adjust("FAB-1", "k2", -2)
    assert t.stock_ledger()["FAB-1"]["pending"] == {"k1": 4, "k2": -2}
    t.end_adjust("FAB-1", "k1")
    t.record_stock("FAB-1", delta=4)
    t.record_stock("FAB-1", received=10)
    assert t.stock_ledger() == {
        "FAB-1": {"delta": 4, "count": 1, "received": 10, "receipts": 1, "pending": {"k2": -2}}
    }


def test_reset_clears_counts_in_place_and_keeps_the_run_setup() -> None:
    env = SimpleNamespace()
    t = tallies_for(env)
    read = t.snapshot  # what the plugin hands the exchange: must stay valid across runs
    t.set_hot_skus(["FAB-1", "FAB-2"])
    t.unavailable.add("qc")
    t.sessions["login"] += 1
    t.begin_adjust("FAB-1", "k", 1)
    t.ws["received"] += 3
    t.reset()
    assert tallies_for(env) is t
    assert read() == {
        "rbac_violations": {},
        "conflicts": {},
        "sessions": {},
        "ledger": {},
        "transfers": {},
        "ws": {},
    }
    assert t.hot_skus == ("FAB-1", "FAB-2") and t.pick_hot_sku() in ("FAB-1", "FAB-2")
    assert t.unavailable == {"qc"}
    t.set_hot_skus(())
    assert t.pick_hot_sku() is None


def test_no_module_level_tally_state() -> None:
    """Every count lives on a Tallies object: the module binds no mutable container at import."""
    tree = ast.parse(Path(T.__file__).read_text())
    mutable = (ast.Dict, ast.List, ast.Set, ast.Call, ast.DictComp, ast.ListComp, ast.SetComp)
    bound = [
        (n.targets[0].id if isinstance(n, ast.Assign) else n.target.id)  # type: ignore[union-attr]
        for n in tree.body
        if isinstance(n, ast.Assign | ast.AnnAssign) and isinstance(n.value, mutable)
    ]
    assert bound == []


def test_transfers_sum_across_workers_and_give_rates() -> None:
    from erpload.core.tallies import transfer_rates
    from erpload.locust.exchange import add_counts

    a, b = Tallies(), Tallies()
    a.record_transfer("POST /production/work-orders/import", 40_000, 1000, 0.5)
    b.record_transfer("POST /production/work-orders/import", 40_000, 1000, 0.3)
    merged = add_counts(add_counts({}, a.snapshot()), b.snapshot())["transfers"]
    got = transfer_rates(merged)["POST /production/work-orders/import"]
    assert got == {
        "count": 2,
        "bytes": 80_000,
        "rows": 2000,
        "seconds": 0.8,
        "bytes_per_s": 100_000.0,
        "rows_per_s": 2500.0,
    }
    a.reset()
    assert a.snapshot()["transfers"] == {}
