"""Application factory: it only assembles extensions, blueprints and handlers."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from config import Settings
from service import cors, sqlite
from service.dbpool import ping_when_idle
from service.errors import error_response, register_error_handlers
from service.extensions import api, db, limiter, migrate
from service.jsonguard import BadJson, check_json, check_text
from service.logs import configure_logging, request_id_var
from service.metrics import init_metrics
from workers.celery_setup import make_celery

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
API_TITLE = "Comment Warden"
API_VERSION = "v1"


class DatabaseIdConverter(IntegerConverter):
    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


class IsoJSONProvider(DefaultJSONProvider):
    """ISO 8601 times everywhere (Flask's default is the HTTP date format)."""

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = Flask(__name__, instance_path=settings.instance_dir, instance_relative_config=False)
    app.json = IsoJSONProvider(app)
    # Ids in paths are database integers: a 20-digit id is a 404, not an overflow (500).
    app.url_map.converters["int"] = DatabaseIdConverter
    app.config.update(_flask_config(settings))
    app.config["WARDEN"] = settings
    if settings.trusted_proxies:
        # Behind a reverse proxy the peer is the proxy: every reader would share one
        # address (one rate-limit bucket, one report). Believe that many hops, no more.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies,  # type: ignore[method-assign]
                                x_proto=settings.trusted_proxies)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    api.init_app(app)
    limiter.init_app(app)
    app.extensions["warden_celery"] = make_celery(settings, set_as_current=False)
    if settings.is_sqlite:
        with app.app_context():
            sqlite.configure(db.engine)
    else:
        with app.app_context():
            ping_when_idle(db.engine)

    from service.api import admin, moderation, ops, public, webhooks, widget

    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer",
                       "description": "an API key from `warden keys create`"})
    api.register_blueprint(public.blp)
    api.register_blueprint(webhooks.blp)
    api.register_blueprint(moderation.blp)
    api.register_blueprint(admin.blp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(widget.bp)
    register_error_handlers(app)
    init_metrics(app)
    ops.document(api.spec, app)
    app.before_request(_start_request)
    app.after_request(_finish_request)
    return app


def _flask_config(settings: Settings) -> dict[str, Any]:
    engine_options: dict[str, Any] = {}
    if settings.is_sqlite:
        engine_options = {"connect_args": {"timeout": 30}}
    else:
        engine_options.update(pool_size=10, max_overflow=10, pool_timeout=5,
                              connect_args={"connect_timeout": 3})
    return {
        "SQLALCHEMY_DATABASE_URI": settings.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
        "MAX_CONTENT_LENGTH": settings.max_request_bytes,
        "JSON_SORT_KEYS": False,
        "API_TITLE": API_TITLE,
        "API_VERSION": API_VERSION,
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/",
        "API_SPEC_OPTIONS": {
            "info": {"description": "Comment moderation API. Errors: "
                     '{"error": {"code", "message", "fields"?, "request_id"}} '
                     "(request_id absent only on what the HTTP server refuses before the "
                     "app runs: 414, 431, a malformed request line). A query parameter "
                     "that takes one value, given twice, is a 422."},
        },
        "RATELIMIT_ENABLED": limits_in_process(settings),
        "RATELIMIT_STORAGE_URI": settings.redis_url or "memory://",
        "RATELIMIT_HEADERS_ENABLED": False,  # only a 429 gets them (service.errors)
        "RATELIMIT_SWALLOW_ERRORS": True,  # a Redis blip must not turn submits into 500s
        # ... nor switch the limits off: with Redis away each process counts on its own
        # (logged by flask-limiter, shown by /readyz) until Redis answers again.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    }


def limits_in_process(settings: Settings) -> bool:
    """Whether the limiter runs in this process at all.

    With every limit "off" it is not installed: its per-request hooks cost about 0.15 ms
    of CPU even when each limit is exempt. The switch belongs to the one process-wide
    limiter, not to an app, so once any app of the process has a limit it stays on, and
    ``_exempt_when_limits_off`` exempts the requests of apps without one (several apps
    share a process only in tests; a server builds one).
    """
    global _LIMITS_SEEN
    _LIMITS_SEEN = _LIMITS_SEEN or not _limits_off(settings)
    return _LIMITS_SEEN


_LIMITS_SEEN = False


def _limits_off(settings: Settings) -> bool:
    return settings.rate_limit_submit == "off" and settings.rate_limit_flag == "off"


@limiter.request_filter
def _exempt_when_limits_off() -> bool:
    return _limits_off(current_app.config["WARDEN"])


def _migrations_dir() -> Any:
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"


def _start_request() -> Response | tuple[Response, int] | None:
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
    request_id_var.set(g.request_id)
    sqlite.write_intent.set(request.method in {"POST", "PUT", "PATCH", "DELETE"})
    sends_body = _sends_body()
    if sends_body and request.path.startswith("/api/") and not request.is_json:
        # Also CSRF protection: a cross-site form or text/plain POST never gets through.
        return error_response(415, "unsupported_media_type",
                              "Send the request body as application/json.")
    try:
        for name, value in request.args.items(multi=True):
            check_text(name, "the query string")
            check_text(value, "the query string")
        for value in (request.view_args or {}).values():
            if isinstance(value, str):
                check_text(value, "the path")
    except BadJson as exc:
        return error_response(400, "bad_request", f"The request is not usable: {exc}.")
    if sends_body and request.is_json:
        try:
            check_json(request.get_data(cache=True))
        except BadJson as exc:
            return error_response(400, "bad_request", f"The request body is not usable: {exc}.")
    return cors.refuse_foreign_origin()


def _sends_body() -> bool:
    """Whether the request has a body the checks above must see.

    A chunked body has no Content-Length (werkzeug reports None), so it is read to find
    out (the checks read it anyway). Without this a chunked body skipped the 415 and JSON
    checks.
    """
    if request.method not in {"POST", "PUT", "PATCH"}:
        return False
    if request.content_length is not None:
        return request.content_length > 0
    if "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
        return False
    return bool(_read_chunked_body())


def _read_chunked_body() -> bytes:
    """The chunked body, cached for the view; 413 past MAX_CONTENT_LENGTH.

    werkzeug stops reading a chunked body at the limit without a word, and the view would
    parse the truncated body; one byte more tells a body that fits from one that does not.
    (The server terminates the stream: gunicorn sets ``wsgi.input_terminated``; without it
    werkzeug reads nothing.)
    """
    data = request.get_data(cache=True)
    limit = request.max_content_length
    if limit is not None and len(data) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()
    return data


def _finish_request(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.status_code == 204:  # no body, so no media type (flask-smorest sets JSON)
        response.headers.pop("Content-Type", None)
    return cors.add_headers(response)

