"""Admin routes: sites and their policy, word and link lists, API keys, articles.

Sites are created only with an all-sites (operator) key; everything else needs an admin
key covering the site. Every change is audited.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import RAISE
from sqlalchemy import select

from service import sqlite
from service.api.auth import check_site, current_key, requires, scoped_site_ids
from service.api.blueprint import Blueprint, no_input, no_query_params
from service.domain import privacy
from service.domain import sites as site_domain
from service.domain.errors import Forbidden, NotFound
from service.domain.lifecycle import Actor
from service.domain.threads import Cursor
from service.extensions import db
from service.models import ApiKey, Article, AuditEntry, Author, Role, Site
from service.models.article import new_thread_version
from service.schemas.admin import (
    ArticleAdminSchema,
    ArticlePageSchema,
    ArticlePatchSchema,
    ArticleQuerySchema,
    AuthorExportSchema,
    EraseOutSchema,
    EraseSchema,
    KeyCreatedSchema,
    KeyCreateSchema,
    KeyListSchema,
    KeySchema,
    ListsSchema,
    SiteCreateSchema,
    SiteListSchema,
    SitePatchSchema,
    SiteSchema,
)

blp = Blueprint("admin", __name__, url_prefix="/api/v1/admin",
                description="Admin API (Authorization: Bearer <admin key>)")

AUTH = {"security": [{"bearerAuth": []}]}


def _actor_id() -> str:
    return f"key:{current_key().prefix}"


def _site(site_id: str) -> Site:
    check_site(site_id)
    site = db.session.get(Site, site_id)
    if site is None:
        raise NotFound(f"no site {site_id!r}")
    return site


@blp.route("/sites")
class Sites(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, SiteListSchema)
    @blp.doc(**AUTH)
    @no_query_params
    def get(self) -> dict[str, Any]:
        """The sites this key administers."""
        query = select(Site).order_by(Site.id)
        scope = scoped_site_ids()
        if scope is not None:
            query = query.where(Site.id.in_(scope))
        return {"items": list(db.session.scalars(query))}

    @requires(Role.ADMIN)
    @blp.arguments(SiteCreateSchema)
    @blp.response(201, SiteSchema)
    @blp.doc(**AUTH)
    def post(self, args: dict[str, Any]) -> Site:
        """Create a site (needs an all-sites admin key)."""
        if current_key().site_id is not None:
            raise Forbidden("creating sites needs an all-sites admin key")
        site = site_domain.create_site(db.session, args["id"], args["allowed_origins"],
                                       mode=args.get("mode", "auto"), name=args.get("name"),
                                       actor_id=_actor_id())
        site_domain.update_site(db.session, site, args, _actor_id())
        db.session.commit()
        return site


@blp.route("/sites/<string:site_id>")
class SiteView(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, SiteSchema)
    @blp.doc(**AUTH)
    @no_query_params
    def get(self, site_id: str) -> Site:
        """A site's settings and moderation policy."""
        return _site(site_id)

    @requires(Role.ADMIN)
    @blp.arguments(SitePatchSchema)
    @blp.response(200, SiteSchema)
    @blp.doc(**AUTH)
    def patch(self, args: dict[str, Any], site_id: str) -> Site:
        """Change origins, mode, thresholds, first-time-author and flag policy, closing of
        old articles, the edit window (audited)."""
        site = _site(site_id)
        site_domain.update_site(db.session, site, args, _actor_id())
        db.session.commit()
        return site


@blp.route("/sites/<string:site_id>/lists")
class Lists(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, ListsSchema)
    @blp.doc(**AUTH)
    @no_query_params
    def get(self, site_id: str) -> Site:
        """Blocked and suspect words; allowed and blocked link domains."""
        return _site(site_id)

    @requires(Role.ADMIN)
    @blp.arguments(ListsSchema)
    @blp.response(200, ListsSchema)
    @blp.doc(**AUTH)
    def put(self, args: dict[str, Any], site_id: str) -> Site:
        """Replace the given lists (omitted lists stay as they are)."""
        site = _site(site_id)
        cleaned = {name: sorted({v.strip().lower() for v in values if v.strip()})
                   for name, values in args.items()}
        site_domain.update_site(db.session, site, cleaned, _actor_id(),
                                fields=site_domain.LIST_FIELDS)
        db.session.commit()
        return site


@blp.route("/sites/<string:site_id>/keys")
class Keys(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, KeyListSchema)
    @blp.doc(**AUTH)
    @no_query_params
    def get(self, site_id: str) -> dict[str, Any]:
        """The site's keys (prefixes only; keys themselves are never stored)."""
        _site(site_id)
        keys = db.session.scalars(select(ApiKey).where(ApiKey.site_id == site_id)
                                  .order_by(ApiKey.id))
        return {"items": list(keys)}

    @requires(Role.ADMIN)
    @blp.arguments(KeyCreateSchema)
    @blp.response(201, KeyCreatedSchema)
    @blp.doc(**AUTH)
    def post(self, args: dict[str, Any], site_id: str) -> dict[str, Any]:
        """Create a key for the site; the answer is the only time it is shown."""
        _site(site_id)
        key, plain = site_domain.create_api_key(db.session, site_id, args["role"],
                                                args["label"], actor=_actor_id())
        db.session.commit()
        return {"id": key.id, "site_id": key.site_id, "role": str(key.role),
                "prefix": key.prefix, "label": key.label, "created_at": key.created_at,
                "revoked_at": None, "last_used_at": None, "key": plain}


@blp.route("/keys/<int:key_id>")
class KeyView(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, KeySchema)
    @blp.doc(**AUTH)
    @no_input
    def delete(self, key_id: int) -> ApiKey:
        """Revoke a key (it stops working at once; the row stays for the audit trail)."""
        key = db.session.get(ApiKey, key_id)
        scope = scoped_site_ids()
        if key is None or (scope is not None and key.site_id not in scope):
            raise NotFound(f"no key {key_id}")
        site_domain.revoke_api_key(db.session, key, _actor_id())
        db.session.commit()
        return key


@blp.route("/sites/<string:site_id>/articles")
class Articles(MethodView):
    @requires(Role.ADMIN)
    @blp.arguments(ArticleQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, ArticlePageSchema)
    @blp.doc(**AUTH)
    def get(self, args: dict[str, Any], site_id: str) -> dict[str, Any]:
        """The site's articles, newest first."""
        _site(site_id)
        query = select(Article).where(Article.site_id == site_id)
        if args["cursor"]:
            query = query.where(Article.id < Cursor.decode(args["cursor"], "newest").after_id)
        rows = list(db.session.scalars(query.order_by(Article.id.desc()).limit(args["limit"] + 1)))
        more = len(rows) > args["limit"]
        rows = rows[: args["limit"]]
        return {"items": rows,
                "next_cursor": Cursor("newest", rows[-1].id).encode() if more else None}


@blp.route("/sites/<string:site_id>/articles/<int:article_id>")
class ArticleView(MethodView):
    @requires(Role.ADMIN)
    @blp.arguments(ArticlePatchSchema)
    @blp.response(200, ArticleAdminSchema)
    @blp.doc(**AUTH)
    def patch(self, args: dict[str, Any], site_id: str, article_id: int) -> Article:
        """Open or close an article for comments, fix its title or URL (audited)."""
        _site(site_id)
        article = db.session.get(Article, article_id)
        if article is None or article.site_id != site_id:
            raise NotFound(f"no article {article_id} on site {site_id!r}")
        fields = ("is_open", "title", "url")
        before = {name: getattr(article, name) for name in fields}
        for name in fields:
            if name in args:
                setattr(article, name, args[name])
        after = {name: getattr(article, name) for name in fields}
        if after == before:
            return article  # nothing changed: no new page, nothing to audit
        article.thread_version = new_thread_version()  # the thread shows them: new page
        db.session.add(AuditEntry(site_id=site_id, subject_type="article",
                                  subject_id=str(article.id), action="article.updated",
                                  actor_type="admin", actor_id=_actor_id(),
                                  details={"before": before, "after": after}))
        db.session.commit()
        return article


def _author(site_id: str, author_id: int) -> Author:
    _site(site_id)
    author = db.session.get(Author, author_id)
    if author is None or author.site_id != site_id:
        raise NotFound(f"no author {author_id} on site {site_id!r}")
    return author


@blp.route("/sites/<string:site_id>/authors/<int:author_id>/export")
class AuthorExport(MethodView):
    @requires(Role.ADMIN)
    @blp.response(200, AuthorExportSchema)
    @blp.doc(**AUTH)
    @no_query_params
    def get(self, site_id: str, author_id: int) -> dict[str, Any]:
        """Everything held about an author: profile, comments, reports made (audited)."""
        author = _author(site_id, author_id)
        document = privacy.export_author(db.session, author)
        with sqlite.writes_after_reading(db.session):
            db.session.add(AuditEntry(site_id=site_id, subject_type="author",
                                      subject_id=str(author_id), action="author.exported",
                                      actor_type="admin", actor_id=_actor_id()))
        return document


@blp.route("/sites/<string:site_id>/authors/<int:author_id>/erase")
class AuthorErase(MethodView):
    @requires(Role.ADMIN)
    @blp.arguments(EraseSchema)
    @blp.response(200, EraseOutSchema)
    @blp.doc(**AUTH)
    def post(self, args: dict[str, Any], site_id: str, author_id: int) -> dict[str, Any]:
        """Erase an author's personal data; comments become placeholders (or are removed
        when nobody replied and remove_unreplied is true); counts follow."""
        author = _author(site_id, author_id)
        counts = privacy.erase_author(db.session, author, Actor("admin", _actor_id()),
                                      remove_unreplied=args["remove_unreplied"])
        db.session.commit()
        return counts
