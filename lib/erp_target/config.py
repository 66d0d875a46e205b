"""Target configuration: one frozen dataclass, built from CLI flags (`python -m erp_target --help`)."""

from __future__ import annotations

import argparse
import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .faults import FaultError, FaultState
from .seed_scale import parse_scale

DEFAULT_SEED_PASSWORD = "erpload-demo"
DIALECTS = ("reference", "v1")  # the API it speaks: docs/erp-api.md, or its "v1 dialect" section


@dataclass(frozen=True)
class TargetConfig:
    """Everything `create_app` and the server need; defaults match a plain `python -m erp_target`."""

    host: str = "127.0.0.1"
    port: int = 0
    db_path: str | None = None  # None: a temporary file removed at exit
    seed_password: str = field(default=DEFAULT_SEED_PASSWORD, repr=False)  # never shown in logs
    jwt_secret: str | None = field(default=None, repr=False)  # None: random per process
    token_ttl: int = 3600
    access_log: bool = False
    faults: FaultState = field(default_factory=FaultState)
    fault_seed: int | None = None
    seed_only: bool = False
    seed_scale: int | None = None  # --seed-scale: manufacturing orders to seed (None: the default 10k)
    log_level: str = "INFO"
    dialect: str = "reference"

    def __post_init__(self) -> None:
        if self.dialect not in DIALECTS:
            raise ValueError(f"dialect: must be one of {', '.join(DIALECTS)}, got {self.dialect!r}")


# (flag, fault key, argparse type, help) — the fault flags of the contract's table, in its order.
_FAULT_FLAGS: tuple[tuple[str, str, Any, str], ...] = (
    ("--latency-ms", "latency_ms", float, "sleep N ms before handling each request"),
    ("--latency-jitter-ms", "latency_jitter_ms", float, "add uniform +-J ms to --latency-ms"),
    ("--latency-path", "latency_path", str, "regex: only delay matching paths"),
    ("--error-rate", "error_rate", float, "share of requests answered 500 (0..1)"),
    ("--error-path", "error_path", str, "regex: only fail matching paths"),
    ("--hang-rate", "hang_rate", float, "share of requests never answered (0..1)"),
    ("--hang-path", "hang_path", str, "regex: only hang matching paths"),
    ("--malformed-rate", "malformed_rate", float, "share of requests answered 200 with truncated JSON"),
    ("--malformed-path", "malformed_path", str, "regex: only corrupt matching paths"),
    ("--reset-rate", "reset_rate", float, "share of requests whose connection is reset mid-body"),
    ("--reset-path", "reset_path", str, "regex: only reset matching paths"),
    ("--leak-kb", "leak_kb", int, "retain N KiB of memory per request (never freed)"),
    ("--slow-db-ms", "slow_db_ms", float, "sleep N ms per database query"),
    (
        "--rbac-hole",
        "rbac_hole_path",
        str,
        "regex: any authenticated role may call matching paths (broken RBAC)",
    ),
    ("--ws-drop-rate", "ws_drop_rate", float, "share of WebSocket events not sent on a connection (0..1)"),
    (
        "--ws-reorder-rate",
        "ws_reorder_rate",
        float,
        "share of WebSocket events sent after the next one (0..1)",
    ),
    ("--capacity-slots", "capacity_slots", int, "serve at most N requests at once (a capacity limit)"),
    ("--capacity-ms", "capacity_ms", float, "each request holds its --capacity-slots slot N ms"),
)


def build_parser(prog: str = "python -m erp_target") -> argparse.ArgumentParser:
    """The CLI of the reference ERP (also used by `erpload target`)."""
    p = argparse.ArgumentParser(
        prog=prog, description="Reference garment-manufacturing ERP (docs/erp-api.md)."
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="TCP port; 0 picks a free one (default 8080)")
    p.add_argument(
        "--db",
        dest="db_path",
        metavar="PATH",
        help="SQLite file; reused if already seeded, seeded otherwise (default: a temp file)",
    )
    p.add_argument(
        "--seed-password",
        default=None,
        help="password of every seeded account (default: $ERP_SEED_PASSWORD, else erpload-demo)",
    )
    p.add_argument("--seed-only", action="store_true", help="seed (or check) --db, print the counts and exit")
    p.add_argument(
        "--seed-scale",
        metavar="N",
        default=None,
        help="seed N manufacturing orders (10k..1M, e.g. 100k or 1M) with their work orders, QC tests, "
        "receipts and audit rows in the default seed's proportions; progress on stderr "
        "(default: 10,000; a reused --db must have been seeded with the same N)",
    )
    p.add_argument("--jwt-secret", default=None, help="HS256 secret (default: random per process)")
    p.add_argument("--token-ttl", type=int, default=3600, help="token lifetime in seconds (default 3600)")
    p.add_argument("--access-log", action="store_true", help="log every request (off: it drowns load tests)")
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    p.add_argument(
        "--dialect",
        choices=DIALECTS,
        default=None,
        help="API dialect: reference (docs/erp-api.md) or v1 (base path /api/v1, form login, "
        "{data, meta} lists, renamed paths: docs/erp-api.md 'v1 dialect') "
        "(default: $ERP_DIALECT, else reference)",
    )
    g = p.add_argument_group("fault switches (also at run time: PUT /admin/faults)")
    for flag, key, typ, text in _FAULT_FLAGS:
        g.add_argument(flag, dest=key, type=typ, default=None, help=text)
    g.add_argument(
        "--racy-stock",
        dest="racy_stock",
        action="store_true",
        default=None,
        help="stock adjust does an unlocked read-modify-write (loses concurrent updates)",
    )
    g.add_argument("--fault-seed", type=int, default=None, help="seed of the fault RNG (default: random)")
    return p


def parse_args(argv: Sequence[str] | None = None) -> TargetConfig:
    """Parse CLI flags into a TargetConfig; exits 2 with a message naming the bad flag."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    changes = {key: getattr(ns, key) for _, key, _, _ in _FAULT_FLAGS if getattr(ns, key) is not None}
    if ns.racy_stock:
        changes["racy_stock"] = True
    try:
        faults = FaultState().updated(changes)
    except FaultError as e:
        parser.error(f"--{e.field.replace('_', '-')}: {e.detail}")
    if not 0 <= ns.port <= 65535:
        parser.error(f"--port: must be 0..65535, got {ns.port}")
    if ns.token_ttl <= 0:
        parser.error(f"--token-ttl: must be > 0 seconds, got {ns.token_ttl}")
    seed_scale = None
    if ns.seed_scale is not None:
        try:
            seed_scale = parse_scale(ns.seed_scale)
        except ValueError as e:
            parser.error(f"--seed-scale: {e}")
    password = ns.seed_password or os.environ.get("ERP_SEED_PASSWORD") or DEFAULT_SEED_PASSWORD
    dialect = ns.dialect or os.environ.get("ERP_DIALECT") or "reference"
    if dialect not in DIALECTS:
        near = difflib.get_close_matches(dialect.lower(), DIALECTS, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        parser.error(f"$ERP_DIALECT: must be one of {', '.join(DIALECTS)}, got {dialect!r}{hint}")
    return TargetConfig(
        host=ns.host,
        port=ns.port,
        db_path=ns.db_path,
        seed_password=password,
        jwt_secret=ns.jwt_secret,
        token_ttl=ns.token_ttl,
        access_log=ns.access_log,
        faults=faults,
        fault_seed=ns.fault_seed,
        seed_only=ns.seed_only,
        seed_scale=seed_scale,
        log_level=ns.log_level,
        dialect=dialect,
    )
