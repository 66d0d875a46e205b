"""Reference ERP: a runnable implementation of docs/erp-api.md, served by gevent for load tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - import only for type checkers
    from .app import create_app
    from .config import TargetConfig

__all__ = ["TargetConfig", "create_app"]


def __getattr__(name: str) -> Any:
    """Import Flask-based names lazily so `python -m erp_target` can monkey-patch before Flask loads."""
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "TargetConfig":
        from .config import TargetConfig

        return TargetConfig
    raise AttributeError(f"module 'erp_target' has no attribute {name!r}")
