"""Flask app factory: blueprints, the RBAC hook, JSON error handlers, fault and metrics middleware."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import time

from flask import Blueprint, Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from . import admin, auth, bulk, dashboard, dialect, events, exports, ppic, production, qc, reports, warehouse
from .config import TargetConfig
from .db import Database
from .errors import ApiError, not_found
from .events import QUERY_TOKEN_PATHS
from .faults import Faults
from .metrics import Metrics
from .rbac import BY_ENDPOINT, BY_QUERY, BY_WORK_ORDER, ENDPOINTS, authorize, route
from .seed import open_or_seed
from .state import EXTENSION, State, reply, state

log = logging.getLogger(__name__)

core = Blueprint("core", __name__)
MAX_BODY = 1024 * 1024
HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation",
}


@route(core, "GET", "/health")
def health() -> Response:
    """Liveness plus a one-row DB probe."""
    st = state()
    try:
        st.db.conn.execute("SELECT 1").fetchone()
        db_ok = "ok"
    except Exception as e:  # noqa: BLE001 - health reports the failure instead of raising it
        db_ok = f"error: {e}"
    return reply(
        {
            "status": "ok" if db_ok == "ok" else "degraded",
            "db": db_ok,
            "uptime_s": round(time.monotonic() - st.started, 3),
        },
        200 if db_ok == "ok" else 503,
    )


@route(core, "GET", "/metrics")
def metrics() -> Response:
    """Prometheus text exposition of the app's own registry."""
    return Response(state().metrics.exposition(), mimetype="text/plain; version=0.0.4; charset=utf-8")


def _authorize() -> None:
    """before_request: 401 without a valid token, 403 unless the matrix allows the caller."""
    op = ENDPOINTS.get(request.endpoint or "")
    if op is None or not op.auth:
        return  # unrouted requests fall through to the 404/405 handlers; public rows need nothing
    st = state()
    header = request.headers.get("Authorization")
    if header is None and op.path in QUERY_TOKEN_PATHS and request.args.get("token"):
        header = "Bearer " + request.args["token"]  # browsers cannot set headers on a WebSocket handshake
    who = auth.authenticate(header, st.jwt_secret)
    g.principal = who
    if st.faults.rbac_hole(request.path):
        return  # the rbac_hole_path fault: authenticated is enough (a deliberately broken RBAC)
    dept: str | None = None
    if who.role == "operator":
        if op.operator_scope == BY_ENDPOINT:
            dept = op.department
        elif op.operator_scope == BY_QUERY:
            dept = request.args.get("department")
        elif op.operator_scope == BY_WORK_ORDER:
            wo_id = (request.view_args or {}).get("obj_id")
            dept = st.db.scalar("SELECT department FROM work_orders WHERE id = ?", (wo_id,))
            if dept is None:
                raise not_found(f"work order {wo_id} does not exist")
    authorize(op, who, dept)


def _api_error(e: ApiError) -> Response:
    return reply(e.body(), e.status)


def _http_error(e: HTTPException) -> Response:
    code = e.code or 500
    return reply({"error": HTTP_CODES.get(code, "http_error"), "detail": e.description or e.name}, code)


def _unexpected(e: Exception) -> Response:
    # A bug, not bad input: log it for us, answer the contract's body without a traceback.
    log.exception("unhandled error on %s %s", request.method, request.path)
    return reply({"error": "internal", "detail": f"internal error ({type(e).__name__})"}, 500)


def create_app(config: TargetConfig | None = None) -> Flask:
    """A ready app: DB opened (seeded or reused), blueprints, hooks and middleware installed."""
    config = config or TargetConfig()
    faults = Faults(config.faults, seed=config.fault_seed)
    temp_dir = None
    path = config.db_path
    if path is None:
        temp_dir = tempfile.mkdtemp(prefix="erp_target-")
        path = os.path.join(temp_dir, "erp.db")
    db: Database | None = None
    try:
        db = Database(path, delay=faults.db_delay)
        counts, reused = open_or_seed(db.conn, config.seed_password, config.seed_scale)
    except BaseException:
        if db is not None:
            db.conn.close()
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    app = Flask("erp_target", static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    conn = db.conn
    metrics_ = Metrics(faults, lambda: conn)
    app.extensions[EXTENSION] = State(
        config=config,
        db=db,
        faults=faults,
        metrics=metrics_,
        jwt_secret=config.jwt_secret or secrets.token_urlsafe(32),
        counts=counts,
        reused_db=reused,
        temp_dir=temp_dir,
    )
    for bp in (
        core,
        auth.bp,
        dashboard.bp,
        ppic.bp,
        production.bp,
        qc.bp,
        warehouse.bp,
        reports.bp,
        admin.bp,
        exports.bp,
        bulk.bp,
    ):
        app.register_blueprint(bp)
    events.install(app)  # GET /ws/events and the after_request hook that publishes changes
    app.before_request(_authorize)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)

    def template(endpoint: str) -> str | None:
        op = ENDPOINTS.get(endpoint)
        return op.path if op else None

    # Outermost: metrics (so injected faults are counted too), then the v1 dialect if on (translating
    # to the canonical API, so faults, RBAC and metric labels see canonical paths), faults, Flask.
    inner, routes = faults.middleware(app.wsgi_app), app.url_map
    if config.dialect == dialect.NAME:
        inner, routes = dialect.middleware(inner), dialect.CanonicalRoutes(app.url_map)  # type: ignore[assignment]
    app.wsgi_app = metrics_.middleware(inner, routes, template)  # type: ignore[method-assign,arg-type]
    return app


def close_app(app: Flask) -> None:
    """Release the DB (checkpointing the WAL) and remove a temporary DB directory."""
    st: State = app.extensions[EXTENSION]
    st.faults.stopping.set()
    st.db.close()
    if st.temp_dir:
        shutil.rmtree(st.temp_dir, ignore_errors=True)
