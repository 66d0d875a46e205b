"""SLA rules: the metric registry, the rule grammar (BNF in grammar.py) and evaluation against a snapshot.

Pure: imports only erpload.core (enforced by the import contract in pyproject.toml).
"""

from erpload.sla.evaluation import (
    LiveAbortTracker,
    RuleResult,
    Trip,
    evaluate,
    evaluate_rule,
    exit_code_for,
    verdict_lines,
)
from erpload.sla.grammar import Rule, parse_rule, parse_rules
from erpload.sla.metrics import MetricSpec, known_metrics, metric_spec, percentile_of, register_metric

__all__ = [
    "LiveAbortTracker",
    "MetricSpec",
    "Rule",
    "RuleResult",
    "Trip",
    "evaluate",
    "evaluate_rule",
    "exit_code_for",
    "known_metrics",
    "metric_spec",
    "parse_rule",
    "parse_rules",
    "percentile_of",
    "register_metric",
    "verdict_lines",
]
