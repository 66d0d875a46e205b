"""junit.xml: one testcase per SLA rule, so any CI shows the verdict rule by rule.

A run that is not a plain pass/fail (invalid, aborted, error) adds a failing `run` testcase, so
CI never shows an untrustworthy run as green just because its rules passed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from erpload.core.units import fmt_observed, fmt_value
from erpload.report.summary import RunSummary

FILENAME = "junit.xml"
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(value: object) -> str:
    """Text XML 1.0 can carry: ElementTree escapes markup but not control characters."""
    return _NOT_XML.sub("\ufffd", str(value))


def render_junit(summary: RunSummary) -> str:
    """JUnit XML text (ElementTree does the escaping)."""
    profile = summary.profile.name or "erpload"
    root = ET.Element("testsuites", name="erpload")
    suite = ET.SubElement(root, "testsuite", name=_x(f"erpload.{profile}"))
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("verdict", summary.verdict),
        ("exit_code", summary.exit_code),
        ("profile", profile),
        ("profile_file", summary.profile.file),
        ("host", summary.host),
        ("workers", summary.workers),
        ("requests", summary.total.count),
        ("failures", summary.total.failures),
        ("schema_version", summary.schema_version),
    ):
        ET.SubElement(props, "property", name=key, value=_x(value))
    failures = 0
    for entry in summary.sla:
        case = ET.SubElement(
            suite, "testcase", classname=_x(profile), name=_x(entry.name or entry.rule), time="0"
        )
        if not entry.passed:
            failures += 1
            observed = fmt_observed(entry.kind, entry.observed, entry.op, entry.threshold)
            threshold = f"{entry.op} {fmt_value(entry.kind, entry.threshold)}"
            message = f"{entry.rule}: observed {observed}, threshold {threshold}"
            failure = ET.SubElement(case, "failure", message=_x(message), type="SLABreach")
            failure.text = _x(entry.detail)
    if summary.verdict not in ("pass", "fail"):
        failures += 1
        case = ET.SubElement(suite, "testcase", classname=_x(profile), name="run", time="0")
        reason = "; ".join(summary.notes) or "see summary.json"
        failure = ET.SubElement(
            case, "failure", message=f"run {summary.verdict} (exit {summary.exit_code})", type=summary.verdict
        )
        failure.text = _x(reason)
    suite.set("tests", str(len(suite.findall("testcase"))))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    suite.set("skipped", "0")
    suite.set("time", f"{summary.duration_s:.3f}")
    if summary.started_at:
        suite.set("timestamp", _x(summary.started_at))
    if summary.host:
        suite.set("hostname", _x(summary.host))
    for key in ("tests", "failures", "errors", "time"):
        root.set(key, suite.get(key, "0"))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
