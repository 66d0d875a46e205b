"""Per-app runtime state (DB, faults, metrics, token secret), its accessors and the JSON reply helper."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Response, current_app, g

from .rbac import Principal

if TYPE_CHECKING:  # pragma: no cover
    from .config import TargetConfig
    from .db import Database
    from .faults import Faults
    from .metrics import Metrics
    from .seed import SeedCounts

EXTENSION = "erp_target"


@dataclass
class State:
    """Everything a request handler may need, attached to the Flask app."""

    config: TargetConfig
    db: Database
    faults: Faults
    metrics: Metrics
    jwt_secret: str
    counts: SeedCounts
    reused_db: bool
    temp_dir: str | None = None
    search_totals: dict[Any, Any] = field(default_factory=dict)  # stock text-search counts (see warehouse)
    started: float = field(default_factory=time.monotonic)


def state() -> State:
    """The State of the current app."""
    return current_app.extensions[EXTENSION]


def user() -> Principal:
    """The authenticated caller (set by the RBAC hook before any protected view runs)."""
    return g.principal


def reply(body: Any, status: int = 200) -> Response:
    """A compact JSON response (no key sorting, no pretty-printing: cheaper under load)."""
    return Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")
