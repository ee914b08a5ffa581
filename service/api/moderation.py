"""Moderator routes: queues, decisions, authors, audit, stats, dry runs."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import RAISE

from service.api.auth import check_site, current_key, requires, scoped_site_ids
from service.api.blueprint import Blueprint, no_query_params
from service.domain import moderation as mod
from service.domain.errors import DomainError, NotFound
from service.domain.lifecycle import Actor
from service.domain.rendering import clean_text, require_usable_text
from service.extensions import db
from service.models import Role, Site
from service.schemas.moderation import (
    AuditPageSchema,
    AuditQuerySchema,
    AuthorOutSchema,
    BanSchema,
    BulkDecisionSchema,
    BulkOutSchema,
    DecisionOutSchema,
    DecisionSchema,
    QueueItemSchema,
    QueuePageSchema,
    QueueQuerySchema,
    ReasonSchema,
    SimulateOutSchema,
    SimulateSchema,
    StatsQuerySchema,
    StatsSchema,
    SuspendSchema,
)

blp = Blueprint("moderation", __name__, url_prefix="/api/v1/moderation",
                description="Moderator API (Authorization: Bearer <key>)")

AUTH = {"security": [{"bearerAuth": []}]}


def _sites(site: str | None) -> list[str] | None:
    """The site filter a request may use: the one asked for (if the key covers it)."""
    if site is not None:
        check_site(site)
        return [site]
    return scoped_site_ids()


def _one_site(site: str | None) -> str:
    if site is None:
        site = current_key().site_id
        if site is None:
            raise DomainError("this key covers every site: say which with `site` (a query "
                              "parameter on reads, a body field on writes)",
                              fields={"site": ["Required for an all-sites key."]})
    check_site(site)
    if db.session.get(Site, site) is None:
        # 404 as for a site outside a scoped key: the same answer whatever key asks.
        raise NotFound(f"no site {site!r}")
    return site


def _actor() -> Actor:
    key = current_key()
    return Actor(str(key.role), f"key:{key.prefix}")


def _item(comment: Any) -> dict[str, Any]:
    return mod.describe(db.session, [comment])[0]


@blp.route("/comments")
class Queue(MethodView):
    @requires(Role.MODERATOR)
    @blp.arguments(QueueQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, QueuePageSchema)
    @blp.doc(**AUTH)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """A review queue by status, oldest first; filters by site, article, author, the
        check that fired, and date."""
        flt = mod.QueueFilter(status=args["status"], site_ids=_sites(args["site"]),
                              article=args["article"], author_id=args["author"],
                              check=args["check"], since=args["since"], until=args["until"],
                              order=args["order"])
        items, next_cursor = mod.queue_page(db.session, flt, args["cursor"], args["limit"])
        return {"items": items, "next_cursor": next_cursor}


@blp.route("/comments/<int:comment_id>")
class QueueItem(MethodView):
    @requires(Role.MODERATOR)
    @blp.response(200, QueueItemSchema)
    @blp.doc(**AUTH)
    @no_query_params
    def get(self, comment_id: int) -> dict[str, Any]:
        """One comment with everything a moderator needs to decide."""
        return _item(mod.get_comment(db.session, comment_id, scoped_site_ids()))


@blp.route("/comments/<int:comment_id>/decision")
class Decision(MethodView):
    @requires(Role.MODERATOR)
    @blp.arguments(DecisionSchema)
    @blp.response(200, DecisionOutSchema)
    @blp.alt_response(409, description="The lifecycle forbids it (e.g. a deleted comment)")
    @blp.doc(**AUTH)
    def post(self, args: dict[str, Any], comment_id: int) -> dict[str, Any]:
        """Approve, reject or mark as spam; repeating a decision changes nothing (unless
        readers reported the comment since: that review is audited), and undo is another
        decision."""
        comment = mod.get_comment(db.session, comment_id, scoped_site_ids())
        changed = mod.decide_comment(db.session, comment, args["action"], _actor(),
                                     args["reason"])
        db.session.commit()
        return {"changed": changed, "comment": _item(comment)}


@blp.route("/decisions")
class BulkDecision(MethodView):
    @requires(Role.MODERATOR)
    @blp.arguments(BulkDecisionSchema)
    @blp.response(200, BulkOutSchema)
    @blp.doc(**AUTH)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """The same action on up to 100 comments; each id succeeds or fails on its own."""
        results = mod.bulk_decide(db.session, args["ids"], args["action"], _actor(),
                                  args["reason"], scoped_site_ids())
        db.session.commit()
        return {"results": results}


def _author_out(author: Any, **extra: Any) -> dict[str, Any]:
    history = mod.author_histories(db.session, {author.id})[author.id]
    return {**history, **extra}


@blp.route("/authors/<int:author_id>")
class AuthorView(MethodView):
    @requires(Role.MODERATOR)
    @blp.response(200, AuthorOutSchema)
    @blp.doc(**AUTH)
    @no_query_params
    def get(self, author_id: int) -> dict[str, Any]:
        """An author's standing and history (comments by status)."""
        return _author_out(mod.get_author(db.session, author_id, scoped_site_ids()))


@blp.route("/authors/<int:author_id>/ban")
class Ban(MethodView):
    @requires(Role.MODERATOR)
    @blp.arguments(BanSchema)
    @blp.response(200, AuthorOutSchema)
    @blp.doc(**AUTH)
    def post(self, args: dict[str, Any], author_id: int) -> dict[str, Any]:
        """Ban: new comments are rejected; waiting ones are rejected too unless
        remove_pending is false."""
        author = mod.get_author(db.session, author_id, scoped_site_ids())
        removed = mod.ban_author(db.session, author, _actor(), args["reason"],
                                 args["remove_pending"])
        db.session.commit()
        return _author_out(author, removed_pending=removed)


@blp.route("/authors/<int:author_id>/suspend")
class Suspend(MethodView):
    @requires(Role.MODERATOR)
    @blp.arguments(SuspendSchema)
    @blp.response(200, AuthorOutSchema)
    @blp.doc(**AUTH)
    def post(self, args: dict[str, Any], author_id: int) -> dict[str, Any]:
        """Suspend until a time: comments meanwhile are rejected."""
        author = mod.get_author(db.session, author_id, scoped_site_ids())
        mod.suspend_author(db.session, author, _actor(), args["until"], args["reason"])
        db.session.commit()
        return _author_out(author)


@blp.route("/authors/<int:author_id>/trust")
class Trust(MethodView):
    @requires(Role.MODERATOR)
    @blp.arguments(ReasonSchema)
    @blp.response(200, AuthorOutSchema)
    @blp.doc(**AUTH)
    def post(self, args: dict[str, Any], author_id: int) -> dict[str, Any]:
        """Trust: low-scoring comments skip the hold band (high scores still reject)."""
        author = mod.get_author(db.session, author_id, scoped_site_ids())
        mod.trust_author(db.session, author, _actor(), args["reason"])
        db.session.commit()
        return _author_out(author)


@blp.route("/authors/<int:author_id>/reset")
class Reset(MethodView):
    @requires(Role.MODERATOR)
    @blp.arguments(ReasonSchema)
    @blp.response(200, AuthorOutSchema)
    @blp.doc(**AUTH)
    def post(self, args: dict[str, Any], author_id: int) -> dict[str, Any]:
        """Lift bans and suspensions and return to ordinary trust."""
        author = mod.get_author(db.session, author_id, scoped_site_ids())
        mod.reset_author(db.session, author, _actor(), args["reason"])
        db.session.commit()
        return _author_out(author)


@blp.route("/audit")
class Audit(MethodView):
    @requires(Role.MODERATOR)
    @blp.arguments(AuditQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, AuditPageSchema)
    @blp.doc(**AUTH)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every transition and standing change, newest first; entries are never edited (an
        author's erasure replaces their reasons with "[erased]")."""
        entries, next_cursor = mod.audit_page(db.session, _sites(args.pop("site")), args,
                                              args["cursor"], args["limit"])
        return {"items": entries, "next_cursor": next_cursor}


@blp.route("/stats")
class Stats(MethodView):
    @requires(Role.MODERATOR)
    @blp.arguments(StatsQuerySchema, location="query", unknown=RAISE)
    @blp.response(200, StatsSchema)
    @blp.alt_response(400, description="An all-sites key without `site`")
    @blp.alt_response(404, description="No such site, or not one the key covers")
    @blp.doc(**AUTH)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Queue sizes, decisions per day by actor and outcome, median wait in held."""
        return mod.site_stats(db.session, _one_site(args["site"]), args["days"])


@blp.route("/simulate")
class Simulate(MethodView):
    @requires(Role.MODERATOR)
    @blp.arguments(SimulateSchema)
    @blp.response(200, SimulateOutSchema)
    @blp.alt_response(400, description="An all-sites key without `site` (a text with "
                      "nothing left after cleaning is a 422, as a submit answers)")
    @blp.alt_response(404, description="No such site or author, or not one the key covers")
    @blp.doc(**AUTH)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Run a text through the current checks and the site's policy; store nothing.

        The text is cleaned as a submit cleans it: the checks see what would be stored."""
        from workers.simulation import simulate

        text = require_usable_text(clean_text(args["text"]), field="text")
        site = db.session.get(Site, _one_site(args["site"]))
        assert site is not None
        author = None
        if args["author"] is not None:
            author = mod.get_author(db.session, args["author"], [site.id])
        return simulate(site, text, args["parent_text"], author,
                        user_ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))
