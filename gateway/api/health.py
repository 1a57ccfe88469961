"""Liveness and readiness for load balancers and orchestrators."""

from flask import Blueprint

from gateway.api import json_response
from gateway.db.migrations import pending_migrations
from gateway.errors import DatabaseUnavailable
from gateway.runtime import runtime

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    """The process answers."""
    return json_response({"status": "ok"})


@bp.get("/ready")
def ready():
    """Database reachable, migrations current, routes loaded: 200; otherwise 503 with the reason."""
    rt = runtime()
    checks = {"database": "ok", "migrations": "ok", "routes_loaded": len(rt.registry.routes)}
    try:
        with rt.db.connection() as conn:
            pending = pending_migrations(conn)
        if pending:
            checks["migrations"] = f"{len(pending)} pending"
    except DatabaseUnavailable:
        checks["database"] = checks["migrations"] = "unavailable"
    healthy = checks["database"] == "ok" and checks["migrations"] == "ok"
    return json_response({"status": "ready" if healthy else "not ready", "checks": checks}, 200 if healthy else 503)
