"""The correctness section of summary.md / report.html (erpload.report.correctness_report / _html)."""

from __future__ import annotations

import json

from erpload.core.stockcheck import stock_report, stock_verdict
from erpload.report.correctness_html import html_section
from erpload.report.correctness_report import MAX_SKU_ROWS, markdown_lines, parts
from erpload.report.html import render_html
from erpload.report.markdown import MAX_BYTES, _table, cell, render_markdown
from erpload.report.summary import EndpointSummary, RunSummary

EVIL = '<script>alert("x")</script> | pipe'


def _correctness(n_ok_skus: int = 2) -> dict:
    rows = [
        stock_verdict("FAB-LOST" + EVIL, 100, 104, {"delta": 5, "count": 5}),
        stock_verdict("FAB-DUP", 10, 13, {"delta": 1, "count": 1}),
    ]
    rows += [stock_verdict(f"FAB-{i:06d}", 0, 0, {}) for i in range(n_ok_skus)]
    return {
        "rbac_probes": 40,
        "rbac_violations": {"Cutter" + EVIL: 3, "Supervisor": 0},
        "stock": stock_report(rows),
        "recovery": {
            "recovery_s": None,  # never recovered (infinity in JSON)
            "sustain_s": 5,
            "max_error_rate": 0.01,
            "episodes": [
                {
                    "from_s": 20.0,
                    "first_failure_s": 20.4,
                    "recovered_s": 24.0,
                    "recovery_s": 4.0,
                    "recovered": True,
                    "failures": 40,
                },
                {
                    "from_s": 60.0,
                    "first_failure_s": 61.0,
                    "recovered_s": None,
                    "recovery_s": None,
                    "recovered": False,
                    "failures": 900,
                },
            ],
            "faults": [
                {
                    "fault": "outage 5s at 20s",
                    "action": "outage",
                    "at_s": 20.0,
                    "duration_s": 5.0,
                    "ok": True,
                },
                {
                    "fault": "slow" + EVIL,
                    "action": "slow_db",
                    "at_s": 60.0,
                    "duration_s": 10.0,
                    "ok": False,
                    "error": "HTTP 404 " + EVIL,
                },
            ],
        },
    }


WS = [
    EndpointSummary(
        "WS", "WS work-order-event", count=120, failures=1, p50=12.0, p95=48.0, p99=80.0, max=95.0
    ),
    EndpointSummary("GET", "/dashboard", count=10),
]


def test_markdown_section_has_the_numbers_and_escapes() -> None:
    text = "\n".join(markdown_lines(_correctness(), _table, cell, WS))
    assert "## Correctness" in text
    assert (
        '1 unit(s) lost on 1 SKU(s): FAB-LOST&lt;script&gt;alert("x")&lt;/script&gt; \\| pipe -1; '
        "2 unit(s) duplicated on 1 SKU(s): FAB-DUP +2 (of 4 hot SKU(s); 6 confirmed adjustments)"
    ) in text
    assert (
        "| FAB-LOST&lt;script&gt;" in text
        and "\\| pipe | lost | 100 | 5 | 0 | 105 | 104 | -1 | 5 | 0 |" in text
    )
    assert "| FAB-DUP | duplicated | 10 | 1 | 0 | 11 | 13 | 2 | 1 | 0 |" in text
    assert (
        "40 probe(s) sent; 3 probe(s) answered 2xx" in text
        and "| Cutter&lt;script&gt;" in text
        and "| Supervisor | 0 |" in text
    )
    assert "Recovery (worst episode): not recovered" in text
    assert "| 20 | 20.4 | 24 | 4s | 40 |" in text and "| 60 | 61 | – | not recovered | 900 |" in text
    assert "| outage 5s at 20s | outage |" in text and "| NO | HTTP 404 &lt;script&gt;" in text
    assert (
        "### WebSocket" in text
        and "| WS work-order-event | 120 | 1 | 12ms | 48ms | 80ms | 95ms |" in text
        and "/dashboard" not in text
    )
    assert "<script>" not in text


def test_sku_rows_are_capped_failing_first() -> None:
    text = "\n".join(markdown_lines(_correctness(n_ok_skus=MAX_SKU_ROWS * 3), _table, cell))
    assert f"Showing {MAX_SKU_ROWS} of {MAX_SKU_ROWS * 3 + 2} SKUs" in text
    assert text.count("| ok |") == MAX_SKU_ROWS - 2 and "| lost |" in text and "| duplicated |" in text
    html = html_section(_correctness(n_ok_skus=MAX_SKU_ROWS * 3))
    assert html.count("<tr") - html.count("<tr><th") <= MAX_SKU_ROWS + 10


def test_absent_without_correctness_data() -> None:
    assert markdown_lines({}, _table, cell) == [] and markdown_lines(None, _table, cell) == []
    assert markdown_lines({"recovery": {"episodes": []}}, _table, cell, [WS[1]]) == []
    assert html_section({}) == "" and html_section(None, [WS[1]]) == ""
    plain = RunSummary(verdict="pass", exit_code=0)
    assert "Correctness" not in render_markdown(plain)
    assert 'id="correctness"' not in render_html(plain)


def test_unchecked_stock_says_why() -> None:
    data = {"stock": {"checked": False, "error": "initial stock not fetched: HTTP 500 " + EVIL}}
    text = "\n".join(markdown_lines(data, _table, cell))
    assert "Stock check not done: initial stock not fetched: HTTP 500 &lt;script&gt;" in text
    assert "&lt;script&gt;" in html_section(data) and "<script>" not in html_section(data)


def test_html_section_tables_and_escaping() -> None:
    html = html_section(_correctness(), WS)
    for hook in ("correctness", "stock-table", "rbac-table", "recovery-table", "faults-table", "ws-table"):
        assert f'id="{hook}"' in html
    assert "<script>" not in html and "FAB-LOST&lt;script&gt;alert(&quot;x&quot;)" in html
    assert '<tr class="fail"><td>FAB-LOST' in html and "not recovered" in html
    assert "<td>48" in html  # the WS event p95


def test_full_reports_show_the_section_and_stay_under_the_limit() -> None:
    summary = RunSummary(verdict="fail", exit_code=1, requests=WS, correctness=_correctness(n_ok_skus=5000))
    md = render_markdown(summary)
    assert "## Correctness" in md and "1 unit(s) lost on 1 SKU(s)" in md
    assert len(md.encode()) < MAX_BYTES
    assert md.index("## Correctness") < md.index("## Requests")
    html = render_html(summary)
    assert 'id="correctness"' in html and "<script>alert" not in html
    roundtrip = RunSummary.from_dict(json.loads(summary.to_json()))
    assert "## Correctness" in render_markdown(roundtrip)


def test_a_part_appears_only_when_its_check_ran() -> None:
    """A team's own locustfile: no probes, no fault plan, no hot SKUs -> no RBAC, Recovery or Stock part."""
    nothing_ran = {"rbac_probes": 0, "rbac_violations": {}}
    assert parts(nothing_ran) == {} and markdown_lines(nothing_ran, _table, cell) == []
    assert html_section(nothing_ran) == ""
    only_probes = {"rbac_probes": 12, "rbac_violations": {}}
    text = "\n".join(markdown_lines(only_probes, _table, cell))
    assert "### RBAC violations" in text and "12 probe(s) sent; 0 probe(s) answered 2xx" in text
    assert "### Recovery" not in text and "### Stock" not in text
    html = html_section(only_probes)
    assert "RBAC violations" in html and 'id="rbac-table"' not in html and "Recovery" not in html
    with_faults = {"recovery": _correctness()["recovery"]}
    assert set(parts(with_faults)) == {"recovery"}
    for summary in (RunSummary(verdict="pass", exit_code=0, correctness=nothing_ran),):
        assert "RBAC" not in render_markdown(summary) and "RBAC" not in render_html(summary)
        assert "Recovery" not in render_markdown(summary) and "Recovery" not in render_html(summary)
