"""Every error leaves as ``{"error": {"code", "message", "fields"?}}``, mapped here only."""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from limits.errors import StorageError
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from service.domain.errors import DomainError

log = logging.getLogger("warden.errors")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}

# Bytes of an oversized request read and thrown away before answering 413, so the client
# is not reset mid-upload and actually sees the JSON error (bounded: not a sink for DoS).
_DRAIN_LIMIT = 8 * 1024 * 1024


def error_response(status: int, code: str, message: str,
                   fields: dict[str, Any] | None = None) -> tuple[Response, int]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    if g.get("request_id"):
        body["request_id"] = g.request_id
    return jsonify({"error": body}), status


def _webargs_fields(exc: HTTPException) -> dict[str, Any] | None:
    """webargs puts messages under their location ("json", "query"); flatten one level."""
    messages = (getattr(exc, "data", None) or {}).get("messages")
    if not isinstance(messages, dict):
        return None
    flat: dict[str, Any] = {}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            flat.update(errors)
        else:
            flat[location] = errors
    return flat or None


def handle_http(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    fields = _webargs_fields(exc)
    message = exc.description or exc.name
    if status == 413:
        _drain_request()
        limit = current_app.config.get("MAX_CONTENT_LENGTH")  # handlers run in the app
        if limit:
            message = f"The request body is larger than the {limit:,} bytes allowed."
    if fields and status == 422:
        message = "The request has invalid fields: " + ", ".join(sorted(fields))
    if fields and "json" in fields and status == 400:
        message = "The request body is not valid JSON."
    response, status = error_response(status, HTTP_CODES.get(status, "http_error"), message,
                                      fields)
    headers = dict(exc.get_headers())
    for header in ("Retry-After", "Allow"):
        if header in headers:
            response.headers[header] = headers[header]
    if status == 429:
        _add_rate_limit_headers(response)
    return response, status


# Seconds to wait when the limit's window cannot be read (its store went away after the hit).
_FALLBACK_RETRY_AFTER = 60


def _add_rate_limit_headers(response: Response) -> None:
    """Retry-After and X-RateLimit-* on a refused request only.

    The limiter's own headers are off: on every accepted submit they cost one more Redis
    round trip per limit (0.75 ms of the request's CPU with one limit, measured), to tell
    the widget a quota it does not show. A refusal is rare and needs Retry-After.
    """
    from service.extensions import limiter

    breached = limiter.current_limit
    retry_after = _FALLBACK_RETRY_AFTER
    if breached is not None:
        try:
            reset_at = breached.reset_at
        except (StorageError, RedisError, OSError):
            log.warning("rate-limit window unreadable; Retry-After %ss", retry_after)
        else:
            retry_after = max(1, reset_at - int(time.time()))
            response.headers["X-RateLimit-Limit"] = str(breached.limit.amount)
            response.headers["X-RateLimit-Remaining"] = str(breached.remaining)
            response.headers["X-RateLimit-Reset"] = str(reset_at)
    response.headers["Retry-After"] = str(retry_after)


def handle_domain(exc: DomainError) -> tuple[Response, int]:
    return error_response(exc.status, exc.code, exc.message, exc.fields)


def handle_database_down(exc: DBAPIError) -> tuple[Response, int]:
    """The database is unreachable: say so with 503 instead of a trace."""
    from service.extensions import db

    db.session.rollback()
    log.warning("database unavailable: %s", type(exc.orig).__name__)
    response, status = error_response(503, "unavailable",
                                      "The database is unavailable; try again shortly.")
    response.headers["Retry-After"] = "5"
    return response, status


def release_session(_exc: BaseException | None) -> None:
    """End the request's session even when the database died under it.

    Flask-SQLAlchemy's own teardown rolls back the session's open transaction; if the
    server has just dropped the connection (PostgreSQL restarting) that ROLLBACK raises
    from teardown, after the view has answered, and gunicorn replaces a committed 202 with
    a bare 500. The connection is already invalidated by then; the second remove() only
    releases what the first left behind. Registered after Flask-SQLAlchemy, so it runs first.
    """
    from service.extensions import db

    try:
        db.session.remove()
    except DBAPIError as exc:
        log.warning("database connection lost while ending the session: %s",
                    type(exc.orig).__name__)
        db.session.remove()


def handle_unexpected(exc: Exception) -> tuple[Response, int]:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal_error",
                          "Something went wrong on our side; it has been logged.")


def _drain_request() -> None:
    stream = request.environ.get("wsgi.input")
    if stream is None:
        return
    remaining = _DRAIN_LIMIT
    try:
        while remaining > 0:
            chunk = stream.read(min(65536, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
    except (OSError, ValueError):
        return


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(DomainError, handle_domain)
    app.register_error_handler(OperationalError, handle_database_down)
    app.register_error_handler(Exception, handle_unexpected)
    app.teardown_appcontext(release_session)
