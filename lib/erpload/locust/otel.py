"""Locust's OpenTelemetry export (`locust --otel`, `pip install erpload[otel]`) with RBAC-probe names folded.

Locust 2.47's OTel request listener (locust/opentelemetry.py) labels `locust.client.duration` with
the request name and keeps only the first MAX_REQUEST_NAMES (20) names per process; every later name
is exported as "Too many unique request names". The smoke profile has 34 names, 13 of them RBAC
probes ("GET /admin/users [rbac-probe]"), which are expected 403s, not business traffic. Locust
offers no option for this, so `fold_probe_names` wraps that one listener: every probe name reaches
it as the single name PROBE_NAME, and probes take one of the 20 slots instead of up to 13.
The cap itself stays (Locust's), first come first served: docs/observability.md says which names
a run keeps, and that erpload's own /metrics has no cap.
"""

from __future__ import annotations

import logging
from typing import Any

from locust.env import Environment

from erpload.users.checks import PROBE_SUFFIX

__all__ = ["PROBE_NAME", "fold_probe_names", "folded"]
log = logging.getLogger("erpload")

PROBE_NAME = "[rbac-probe]"  # what every RBAC probe is called in Locust's OTel metrics
OTEL_MODULE = "locust.opentelemetry"


def folded(name: str) -> str:
    """The name Locust's OTel listener sees: every RBAC probe as PROBE_NAME, others unchanged."""
    return PROBE_NAME if isinstance(name, str) and name.endswith(PROBE_SUFFIX) else name


def fold_probe_names(environment: Environment) -> bool:
    """Wrap Locust's OTel request listener (when `--otel` installed it) so probes share one name."""
    hook = environment.events.request
    handlers: list[Any] = getattr(hook, "_handlers", [])
    for i, fn in enumerate(handlers):
        if getattr(fn, "__module__", "") != OTEL_MODULE or getattr(fn, "_erpload_folded", False):
            continue

        def listener(*args: Any, _otel: Any = fn, **kwargs: Any) -> Any:
            if "name" in kwargs:
                kwargs["name"] = folded(kwargs["name"])
            return _otel(*args, **kwargs)

        listener._erpload_folded = True  # type: ignore[attr-defined]
        handlers[i] = listener
        log.info("erpload: OpenTelemetry: RBAC probe names folded into %r", PROBE_NAME)
        return True
    return False
