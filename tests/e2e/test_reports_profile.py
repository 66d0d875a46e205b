"""The shipped `reports` profile, scaled down, against the reference ERP: exit 0 and every rule evaluated.

The rules are the shipped file's own (read from it, only the stages shortened), so a rule naming an
endpoint no role user calls would come out "no samples" and fail here. Also checked: the imports'
rows/s and the exports' bytes/s reached summary.json (`load.transfers`), the stock take over the
bulk adjustments came out clean, and no request failed (the deliberately bad import files got
their 422 naming exactly the bad rows, else they would be failures).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from helpers import ROOT, Target, copy_db, load_summary, run_locust

SHIPPED = ROOT / "profiles" / "reports.yaml"


def test_reports_profile_scaled_down(tmp_path: Path, seeded_erp_db: Path) -> None:
    doc = yaml.safe_load(SHIPPED.read_text())
    doc["stages"] = [
        {"name": "ramp-up", "duration": "4s", "users": 14, "spawn_rate": 7},
        {"name": "steady", "duration": "26s", "users": 14},
    ]
    profile = tmp_path / "reports-short.yaml"
    profile.write_text(yaml.safe_dump(doc, sort_keys=False))
    target = Target(tmp_path, db=copy_db(seeded_erp_db, tmp_path))
    try:
        rc, proc, report_dir = run_locust(tmp_path, target.url, profile, timeout=150)
    finally:
        target.stop()
    out = proc.output
    assert rc == 0, out[-3000:]
    assert "Traceback" not in out
    summary = load_summary(report_dir)
    rules = summary["sla"]
    assert len(rules) == len(doc["sla"]), rules
    for row in rules:
        assert row["passed"] is True and row["observed"] is not None, row  # evaluated, with samples
    transfers = summary["load"]["transfers"]
    imports = transfers["POST /production/work-orders/import"]
    assert imports["count"] >= 1 and imports["rows"] == 1000 * imports["count"], imports
    assert imports["rows_per_s"] > 1000, imports  # < 1 s per 1,000 rows
    stock = transfers["GET /warehouse/exports/stock"]
    assert stock["rows"] == 10_000 * stock["count"] and stock["bytes_per_s"] > 0, stock
    assert transfers["GET /admin/audit-log/export"]["rows"] >= 70_000, transfers
    assert summary["correctness"]["stock"]["checked"] is True, summary["correctness"]
