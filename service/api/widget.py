"""The reader-facing widget: embed.js, count.js, widget.css and the demo pages.

Plain files from ``service/static`` served by the service itself, so a site embeds one
``<script>`` tag and needs no build step. Scripts and CSS carry a short public cache (the
URLs are not versioned: a fix must reach readers within minutes) plus an ETag, so a
revalidation is a 304. The demo pages send a strict Content Security Policy: no inline
script or style anywhere, and Trusted Types so the widget's one HTML sink is enforced.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, render_template_string, request, send_file

STATIC = Path(__file__).resolve().parent.parent / "static"

bp = Blueprint("widget", __name__)

ASSETS = {
    "embed.js": "text/javascript",
    "count.js": "text/javascript",
    "widget.css": "text/css",
    "demo.css": "text/css",
}
ASSET_CACHE = "public, max-age=300, stale-while-revalidate=86400"

DEMO_CSP = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "require-trusted-types-for 'script'",
    "trusted-types warden",
))
THEMES = ("auto", "light", "dark")


def _asset(name: str) -> Response:
    response = send_file(STATIC / name, mimetype=ASSETS[name], conditional=True, etag=True,
                         max_age=300)
    response.headers["Cache-Control"] = ASSET_CACHE
    # Other sites load these cross-origin; allow it even where they send COEP require-corp.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@bp.get("/embed.js")
def embed_js() -> Response:
    """The comment thread widget: one script tag plus a div on the article page."""
    return _asset("embed.js")


@bp.get("/count.js")
def count_js() -> Response:
    """Fills ``[data-warden-count]`` elements on list pages in one request per 100 keys."""
    return _asset("count.js")


@bp.get("/widget.css")
def widget_css() -> Response:
    """The widget's styles; loaded by embed.js, themed by CSS custom properties."""
    return _asset("widget.css")


@bp.get("/demo/demo.css")
def demo_css() -> Response:
    """Styles of the demo pages themselves (the host site, not the widget)."""
    return _asset("demo.css")


@cache
def _demo_articles() -> list[dict[str, Any]]:
    return list(json.loads((STATIC / "demo-articles.json").read_text(encoding="utf-8")))


@cache
def _template(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _page(template: str, **context: Any) -> Response:
    theme = request.args.get("theme", "auto")
    html = render_template_string(_template(template), theme=theme if theme in THEMES else "auto",
                                  articles=_demo_articles(), **context)
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DEMO_CSP
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    return response


@bp.get("/demo")
@bp.get("/demo/<string:slug>")
def demo(slug: str | None = None) -> Response:
    """A demo article of the seeded ``demo`` site, with the widget and counts."""
    articles = _demo_articles()
    article = articles[0] if slug is None else next(
        (a for a in articles if a["slug"] == slug), None)
    if article is None:
        abort(404)
    return _page("demo.html", article=article)


@bp.get("/demo/list")
def demo_list() -> Response:
    """A front page listing the demo articles, their counts filled by count.js."""
    return _page("demo-list.html")
