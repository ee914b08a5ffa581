"""CORS for the public API, limited to each site's allowed origins.

Moderator, admin and ops routes never get CORS headers: only the widget's routes do.
Unsafe requests that carry a foreign Origin are refused outright (CSRF).
"""

from __future__ import annotations

from typing import Protocol

from flask import Response, g, request

from service.domain.errors import NotFound
from service.domain.sites import site_view
from service.errors import error_response
from service.extensions import db
from service.models import Comment

PUBLIC_PREFIXES = ("/api/v1/sites/", "/api/v1/comments/")
SITE_INDEPENDENT = frozenset({"/api/v1/flag-reasons"})
ALLOW_HEADERS = "Content-Type, X-Author-Token, Idempotency-Key, X-Request-ID"
ALLOW_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"
EXPOSE_HEADERS = "X-Request-ID, Retry-After, ETag"


class _HasOrigins(Protocol):
    id: str

    def allows_origin(self, origin: str) -> bool: ...


def _site_of_request() -> _HasOrigins | None:
    """The site whose origins apply: the view's, else the cached ``site_view``.

    The cache (``SITE_CACHE_SECONDS``, dropped at once in the process that changes a site)
    keeps the check before a submit from opening the transaction early; on SQLite that
    would take the write lock before the request has done its text work.
    """
    site = g.get("cors_site")
    if site is not None:
        return site
    args = request.view_args or {}
    site_id = args.get("site_id") or g.get("cors_site_id")
    if site_id is None and "comment_id" in args:
        comment = db.session.get(Comment, args["comment_id"])  # the view reuses it
        site_id = comment.site_id if comment else None
    if not isinstance(site_id, str):
        return None
    try:
        return site_view(db.session, site_id)
    except NotFound:
        return None


def _is_public() -> bool:
    return request.path.startswith(PUBLIC_PREFIXES)


def refuse_foreign_origin() -> tuple[Response, int] | None:
    origin = request.headers.get("Origin")
    if not origin or request.method in {"GET", "HEAD", "OPTIONS"} or not _is_public():
        return None
    site = _site_of_request()
    if site is None or site.allows_origin(origin):
        return None  # unknown sites answer 404 from the view
    return error_response(403, "origin_not_allowed",
                          f"Origin {origin} is not allowed to post to site {site.id!r}.")


def add_headers(response: Response) -> Response:
    origin = request.headers.get("Origin")
    if origin and request.path in SITE_INDEPENDENT:
        response.headers["Access-Control-Allow-Origin"] = "*"  # static, no credentials
        return response
    if not _is_public():
        return response
    # Also on answers to requests without Origin: a shared cache must not hand a copy
    # without the CORS headers to the widget (it would fail), nor one with them to others.
    # (The site's settings answer ``origin_allowed`` for the Origin: they vary too.)
    response.vary.add("Origin")
    if origin and g.get("cors_any_origin"):
        # Public settings, no credentials: any page may read them (``SiteInfo``).
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        return response
    if not origin:
        return response
    site = _site_of_request()
    if site is None or not site.allows_origin(origin):
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return response
