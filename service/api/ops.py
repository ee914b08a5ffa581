"""Operator routes: liveness, readiness."""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from service.extensions import db
from workers.dispatch import broker_reachable

bp = Blueprint("ops", __name__)


def document(spec: Any, app: Flask) -> None:
    """Put the operator routes in /openapi.json (they are plain Flask routes: no schemas)."""
    def op(summary: str, responses: dict[str, str], content: str = "application/json",
           schema: str = "object") -> dict[str, Any]:
        body = {content: {"schema": {"type": schema}}}
        return {"get": {"tags": ["ops"], "summary": summary, "responses": {
            code: {"description": text, "content": body} for code, text in responses.items()}}}

    rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    spec.path(rule=rules["ops.healthz"], operations=op(
        "Liveness: the process answers (no dependency is touched)", {"200": "up"}))
    spec.path(rule=rules["ops.readyz"], operations=op(
        "Readiness: the database and the broker answer",
        {"200": "ready", "503": "a dependency is unreachable (named in checks)"}))
    if "metrics" in rules:
        spec.path(rule=rules["metrics"], operations=op(
            "Prometheus metrics of this process and the moderation state",
            {"200": "text exposition format"}, content="text/plain", schema="string"))


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up (no dependency is touched)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """The database and the broker answer; 503 names what does not."""
    checks: dict[str, Any] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        db.session.rollback()
        checks["database"] = f"unreachable: {type(exc).__name__}"
    checks["broker"] = "ok" if broker_reachable() else "unreachable"
    ready = all(v == "ok" for v in checks.values())
    # Not a reason to take the process out of service (every process would go at once):
    # the limits fall back to per-process counters, and this says so.
    checks["rate_limits"] = _rate_limit_storage()
    return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), (
        200 if ready else 503
    )


def _rate_limit_storage() -> str:
    settings = current_app.config["WARDEN"]
    if not settings.redis_url:
        return "ok (per process: no WARDEN_REDIS_URL)"
    try:
        # Short: a probe must not hang on a blackholed Redis.
        client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=0.25,
                                      socket_timeout=0.25)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        return f"degraded: Redis unreachable ({type(exc).__name__}), counting per process"
    return "ok"
