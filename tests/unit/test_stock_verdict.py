"""Lost / duplicated stock updates: one SKU's verdict and the run's report (erpload.core.stockcheck)."""

from __future__ import annotations

from erpload.core.stockcheck import MAX_NAMED_SKUS, MAX_SUM_SPAN, stock_report, stock_verdict, units_note


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


def test_many_unanswered_adjustments_are_still_checked_exactly() -> None:
    """An outage leaves dozens unanswered: a loss must not hide inside their range (it did, as 'ok')."""
    pending = {f"k{i}": 10 for i in range(30)} | {"neg1": -5, "neg2": -4}  # sums: 10k - {0, 4, 5, 9}
    ledger = {"delta": 0, "pending": pending}
    for diff in (0, 300, 10, -9, 291, 295, 296):  # every one a subset sum
        assert stock_verdict("FAB-1", 100, 100 + diff, ledger)["status"] == "ok", diff
    assert stock_verdict("FAB-1", 100, 100 - 13, ledger)["status"] == "lost"  # 13 units lost: no subset
    assert stock_verdict("FAB-1", 100, 100 + 13, ledger)["status"] == "duplicated"  # inside, unreachable
    assert stock_verdict("FAB-1", 100, 100 + 301, ledger)["status"] == "duplicated"  # above every subset
    assert stock_verdict("FAB-1", 100, 100 - 10, ledger)["status"] == "lost"  # below every subset
    assert stock_verdict("FAB-1", 100, 100 - 13, ledger)["unanswered"] == 32


def test_an_absurd_span_of_unanswered_deltas_accepts_the_range() -> None:
    ledger = {"delta": 0, "pending": {"k1": MAX_SUM_SPAN, "k2": 7}}
    assert stock_verdict("FAB-1", 0, 3, ledger)["status"] == "ok"  # not enumerated: inside the extremes
    assert stock_verdict("FAB-1", 0, -1, ledger)["status"] == "lost"


def test_lost_updates_report_units_beside_the_skus() -> None:
    """2 SKUs with lost updates can be 139 units: the report says both, and names the SKUs (worst first)."""
    rows = [
        stock_verdict("FAB-1", 100, 125, {"delta": 100, "count": 30}),  # 75 units lost
        stock_verdict("FAB-2", 50, 86, {"delta": 100, "count": 40}),  # 64 units lost
        stock_verdict("FAB-3", 10, 14, {"delta": 1, "count": 1}),  # 3 units applied twice
        stock_verdict("FAB-4", 10, 10, {}),
    ]
    report = stock_report(rows)
    assert report["lost_updates"] == 2 and report["lost_units"] == 139 and report["missing_units"] == 139
    assert report["lost_skus"] == ["FAB-1", "FAB-2"]
    assert report["duplicated_updates"] == 1 and report["duplicated_units"] == 3
    assert report["duplicated_skus"] == ["FAB-3"]
    assert units_note("lost_updates", report) == "139 unit(s) lost on 2 SKU(s): FAB-1 -75, FAB-2 -64"
    assert units_note("duplicated_updates", report) == "3 unit(s) duplicated on 1 SKU(s): FAB-3 +3"
    assert units_note("p95", report) == "" and units_note("lost_updates", {"checked": False}) == ""
    clean = stock_report([stock_verdict("FAB-4", 10, 10, {})])
    assert units_note("lost_updates", clean) == "0 units lost on 1 SKU(s)"


def test_many_lost_skus_are_named_up_to_a_bound() -> None:
    rows = [stock_verdict(f"FAB-{i:03d}", 10, 10 + i, {"delta": 100, "count": 1}) for i in range(40)]
    report = stock_report(rows)
    assert report["lost_updates"] == 40 and len(report["lost_skus"]) == MAX_NAMED_SKUS
    assert report["lost_skus"][0] == "FAB-000"  # the most units lost first
    assert units_note("lost_updates", report).endswith(" and 35 more")
