"""The resources table and charts in summary.md / report.html (erpload.report.resources_report)."""

from __future__ import annotations

from erpload.report.markdown import _table
from erpload.report.resources_report import html_section, markdown_lines

RES = {
    "processes": [
        {
            "key": "target",
            "host": "erp-1",
            "pid": 7,
            "cpu_avg_percent": 12.5,
            "cpu_max_percent": 40.0,
            "rss_first_mb": 90.0,
            "rss_last_mb": 250.0,
            "rss_peak_mb": 251.0,
            "cpu_series": [[1.0, 10.0], [2.0, 40.0]],
            "rss_series": [[1.0, 90.0], [2.0, 250.0]],
        },
        {
            "key": "worker:0",
            "host": "gen<1>",
            "pid": 8,
            "cpu_avg_percent": 50.0,
            "cpu_max_percent": 95.0,
            "rss_first_mb": 60.0,
            "rss_last_mb": 61.0,
            "rss_peak_mb": 61.0,
            "cpu_series": [],
            "rss_series": [],
        },
    ],
    "leaks": [
        {"key": "target", "verdict": "leak", "slope_mb_per_min": 160.2, "growth_pct": 97.7},
        {
            "key": "worker:0",
            "verdict": "inconclusive (too short)",
            "slope_mb_per_min": None,
            "growth_pct": None,
        },
    ],
    "warnings": ["target not sampled: ConnectionError"],
}


def test_markdown_table_has_a_row_per_process_with_its_leak_verdict():
    text = "\n".join(markdown_lines(RES, _table))
    assert "## Resources" in text
    assert (
        "| target | erp-1 | 12.5% | 40.0% | 90.0 MB | 250.0 MB | 251.0 MB | leak | 160.20 | 97.7% |" in text
    )
    assert "| worker:0 | gen&lt;1&gt; |" in text and "inconclusive (too short) | – | – |" in text
    assert "> target not sampled" in text
    assert markdown_lines({}, _table) == [] and markdown_lines(None, _table) == []


def test_html_section_has_table_and_charts_per_process_and_escapes():
    html = html_section(RES)
    for chart in (
        "chart-res-cpu-target",
        "chart-res-rss-target",
        "chart-res-cpu-worker-0",
        "chart-res-rss-worker-0",
    ):
        assert f'id="{chart}"' in html
    assert 'id="resources-table"' in html and "gen&lt;1&gt;" in html and "gen<1>" not in html
    assert "<polyline" in html  # the target has points; the worker's empty series says "no data"
    assert "no data" in html
    assert html_section({"processes": []}) == ""


def test_an_unavailable_target_row_says_so_with_the_reason():
    res = {
        **RES,
        "processes": [{**RES["processes"][0], "available": False, "unavailable_reason": "deadline 2 s"}],
    }
    text = "\n".join(markdown_lines(res, _table))
    assert "| target (unavailable) | erp-1 |" in text
    assert "- **target unavailable**: deadline 2 s" in text
    assert "target (unavailable)" in html_section(res)
    assert "unavailable" not in "\n".join(markdown_lines(RES, _table)).replace("target not sampled", "")
