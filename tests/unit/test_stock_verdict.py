"""Lost / duplicated stock updates: one SKU's verdict and the run's report (erpload.core.stockcheck)."""

from __future__ import annotations

from erpload.core.stockcheck import MAX_PENDING_EXACT, stock_report, stock_verdict


def test_exact_match_passes() -> None:
    row = stock_verdict("FAB-1", 100, 113, {"delta": 5, "count": 3, "received": 8, "receipts": 1})
    assert row["status"] == "ok" and row["expected"] == 113 and row["difference"] == 0
    report = stock_report([row])
    assert report["lost_updates"] == 0 and report["duplicated_updates"] == 0 and report["checked"] is True


def test_no_ledger_and_unchanged_stock_passes() -> None:
    assert stock_verdict("FAB-1", 40, 40, {})["status"] == "ok"


def test_a_missing_unit_is_one_lost_update_with_per_sku_evidence() -> None:
    rows = [
        stock_verdict("FAB-1", 100, 104, {"delta": 5, "count": 5}),  # one +1 confirmed but not applied
        stock_verdict("FAB-2", 50, 53, {"delta": 3, "count": 3}),
    ]
    report = stock_report(rows)
    assert report["lost_updates"] == 1 and report["duplicated_updates"] == 0
    assert report["missing_units"] == 1 and report["surplus_units"] == 0
    assert report["skus"] == 2 and report["confirmed_adjustments"] == 8
    lost = report["per_sku"][0]
    assert lost == {
        "sku": "FAB-1",
        "status": "lost",
        "initial": 100,
        "final": 104,
        "expected": 105,
        "difference": -1,
        "confirmed_delta": 5,
        "adjustments": 5,
        "received": 0,
        "receipts": 0,
        "unanswered": 0,
    }
    assert report["per_sku"][1]["status"] == "ok"


def test_surplus_is_a_duplicated_update() -> None:
    report = stock_report([stock_verdict("FAB-1", 100, 107, {"delta": 5, "count": 2})])
    assert report["duplicated_updates"] == 1 and report["lost_updates"] == 0
    assert report["surplus_units"] == 2 and report["per_sku"][0]["status"] == "duplicated"


def test_unanswered_adjustments_explaining_the_difference_are_ok() -> None:
    ledger = {"delta": 5, "count": 2, "pending": {"k1": 3, "k2": -2}}
    for final in (105, 108, 103, 106):  # none, +3, -2, both applied
        assert stock_verdict("FAB-1", 100, final, ledger)["status"] == "ok", final
    assert stock_verdict("FAB-1", 100, 108, ledger)["unanswered"] == 2
    assert stock_verdict("FAB-1", 100, 102, ledger)["status"] == "lost"  # below every possible subset
    assert stock_verdict("FAB-1", 100, 109, ledger)["status"] == "duplicated"  # above every possible subset
    # inside the range but not a subset sum: the sign of the difference decides
    assert stock_verdict("FAB-1", 100, 104, ledger)["status"] == "lost"
    assert stock_verdict("FAB-1", 100, 107, ledger)["status"] == "duplicated"


def test_too_many_unanswered_accepts_the_whole_range() -> None:
    pending = {f"k{i}": 1 for i in range(MAX_PENDING_EXACT + 1)}
    ledger = {"delta": 0, "pending": pending}
    assert stock_verdict("FAB-1", 0, MAX_PENDING_EXACT + 1, ledger)["status"] == "ok"
    assert stock_verdict("FAB-1", 0, MAX_PENDING_EXACT + 2, ledger)["status"] == "duplicated"
    assert stock_verdict("FAB-1", 0, -1, ledger)["status"] == "lost"
