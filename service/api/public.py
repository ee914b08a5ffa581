"""Widget-facing routes: submit, thread, counts, one's own comment."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, current_app, g, request, url_for
from flask.views import MethodView

from service.api.blueprint import Blueprint, no_input
from service.dbpool import shared_autocommit
from service.domain.authoring import (
    FLAG_LABELS,
    delete_comment,
    edit_comment,
    flag_comment,
    own_comment,
)
from service.domain.errors import InvalidValue, Unauthorized
from service.domain.security import hash_ip, referrer_without_query, token_digest
from service.domain.sites import site_view
from service.domain.submissions import (
    ClientInfo,
    Submission,
    get_site,
    render_submission,
    site_policy,
    submit_comment,
)
from service.domain.threads import approved_counts, thread_page
from service.extensions import db, limiter, limits_unless_off
from service.models import Comment, CommentStatus
from service.schemas.public import (
    AcceptedSchema,
    CountsQuerySchema,
    CountsSchema,
    EditSchema,
    FlagInSchema,
    FlagOutSchema,
    FlagReasonsSchema,
    OwnCommentSchema,
    SiteInfoSchema,
    SubmitSchema,
    ThreadQuerySchema,
    ThreadSchema,
)
from workers.dispatch import wake_moderation

blp = Blueprint("public", __name__, url_prefix="/api/v1", description="Widget-facing API")

STATUS_MESSAGES = {
    CommentStatus.PENDING: "Your comment is awaiting moderation.",
    CommentStatus.APPROVED: "Your comment is published.",
    CommentStatus.HELD: "Your comment is waiting for a moderator.",
    CommentStatus.REJECTED: "Your comment was not published because it breaks the site's rules.",
    CommentStatus.SPAM: "Your comment was not published.",
    CommentStatus.DELETED: "Your comment was deleted.",
}


# Browsers revalidate every time (a 304 is cheap and never stale); shared caches such as
# a CDN may serve a page for a few seconds.
PUBLIC_READ_CACHE = "public, max-age=0, s-maxage=5, must-revalidate"


def _render(doc: Any) -> bytes:
    return current_app.json.dumps(doc).encode()


def _cacheable(body: bytes, etag: str) -> Response:
    """Answer with a weak ETag; 304 when the client already has this content."""
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        response = Response(body, mimetype="application/json")
    response.set_etag(etag, weak=True)
    response.headers["Cache-Control"] = PUBLIC_READ_CACHE
    return response


def _settings() -> Any:
    return current_app.config["WARDEN"]


def _submit_limit() -> str:
    limit = _settings().rate_limit_submit
    # "off" never reaches the limiter (limits_unless_off); the string must still parse.
    return "1/second" if limit == "off" else limit


def _submit_limit_off() -> bool:
    return _settings().rate_limit_submit == "off"


def _author_key() -> str:
    """The same limit per author too: rotating addresses does not buy a spammer more."""
    return "author:" + token_digest(request.headers.get("X-Author-Token", ""))[:32]


def _without_author_token() -> bool:
    """The per-author limit counts only readers who send their token."""
    return not request.headers.get("X-Author-Token")


def _header(name: str, description: str, *, required: bool = False) -> dict[str, Any]:
    return {"in": "header", "name": name, "required": required,
            "schema": {"type": "string"}, "description": description}


_TOKEN_OPTIONAL = _header("X-Author-Token", "the reader's token from an earlier submit "
                          "answer: the comment is theirs (rate limits also count per author)")
_TOKEN_REQUIRED = _header("X-Author-Token", "the token from the submit answer",
                          required=True)
_IDEMPOTENCY_KEY = _header("Idempotency-Key", "a fresh random key per comment (at most 100 "
                           "characters): a retry with the same key and text returns the "
                           "first comment and its author token instead of a duplicate")


@blp.route("/sites/<string:site_id>")
class SiteInfo(MethodView):
    @blp.response(200, SiteInfoSchema)
    def get(self, site_id: str) -> dict[str, Any]:
        """Public configuration the widget needs (limits, mode), readable from any page.

        Any origin may read it (nothing here is private), so a widget embedded on a page
        the site does not allow, or naming a site that does not exist, can say so instead
        of failing like a network error: ``origin_allowed`` answers for the request's
        Origin.
        """
        g.cors_any_origin = True  # the 404 for an unknown site too
        site = get_site(db.session, site_id)
        g.cors_site = site
        settings = _settings()
        origin = request.headers.get("Origin")
        return {"id": site.id, "name": site.name, "mode": str(site.mode),
                "origin_allowed": site.allows_origin(origin) if origin else None,
                "max_body_chars": settings.max_body_chars,
                "max_depth": (settings.max_depth if site.max_depth is None
                              else site.max_depth),
                "edit_window_seconds": site.edit_window_seconds}


@blp.route("/sites/<string:site_id>/comments")
class Comments(MethodView):
    @blp.arguments(ThreadQuerySchema, location="query")
    @blp.response(200, ThreadSchema)
    @blp.alt_response(304, description="Unchanged since the ETag sent in If-None-Match")
    def get(self, args: dict[str, Any], site_id: str) -> Response:
        """The article's approved comments, threaded; roots paginated by cursor."""
        site = site_view(db.session, site_id)
        g.cors_site = site
        page = thread_page(db.session, site.id, args["article"], sort=args["sort"],
                           cursor=args["cursor"], limit=args["limit"] or _settings().page_size,
                           render=_render, close_after_days=site.close_after_days,
                           creates_articles=site.creates_articles)
        return _cacheable(page.body, page.etag)

    @limits_unless_off(_submit_limit_off,
                       limiter.limit(_submit_limit),
                       limiter.limit(_submit_limit, key_func=_author_key,
                                     exempt_when=_without_author_token))
    @blp.arguments(SubmitSchema)
    @blp.response(202, AcceptedSchema)
    @blp.alt_response(400, description="Parent not on this article, or replies nested too "
                      "deep (a body with nothing visible after cleaning, or longer than "
                      "`max_body_chars`, is a 422 like the schema's own refusals)")
    @blp.alt_response(404, description="Unknown site, or unknown article on a site that "
                      "does not create articles on first comment")
    @blp.alt_response(409, description="Comments closed, a reply to a comment that is not "
                      "published (waiting, held, removed or deleted), or an "
                      "Idempotency-Key used for another comment")
    @blp.doc(parameters=[_TOKEN_OPTIONAL, _IDEMPOTENCY_KEY])
    def post(self, args: dict[str, Any], site_id: str) -> tuple[dict[str, Any], int]:
        """Submit a comment or a reply; it is decided in the background."""
        settings = _settings()
        data = Submission(
            article=args["article"], body=args["body"], author_name=args["author_name"],
            author_email=args["author_email"], article_url=args["article_url"],
            article_title=args["article_title"], parent_id=args["parent_id"],
            honeypot=args["website"], elapsed_ms=args["elapsed_ms"],
        )
        client = ClientInfo(
            ip_hash=hash_ip(request.remote_addr, settings.secret_key),
            ip_address=request.remote_addr if settings.akismet_enabled else None,
            user_agent=request.headers.get("User-Agent"),
            referrer=(referrer_without_query(request.headers.get("Referer"))
                      if settings.akismet_enabled else None),
            author_token=request.headers.get("X-Author-Token") or None,
            idempotency_key=_idempotency_key(),
            request_id=g.get("request_id"),
        )
        # Markdown and sanitising before the transaction: the shorter it is, the less other
        # writers wait (on SQLite a submit holds the write lock from its first statement).
        rendered = render_submission(data, settings.max_body_chars)
        # A root comment without an Idempotency-Key is usually stored by one statement after
        # the read: the two share one pooled connection.
        one_statement = data.parent_id is None and not client.idempotency_key
        with shared_autocommit(db.session, enabled=one_statement):
            site = site_policy(db.session, site_id, args["article"], client.author_token,
                               reserve_ids=one_statement)
            g.cors_site = site
            accepted = submit_comment(db.session, site, data, client,
                                      max_depth=settings.max_depth,
                                      max_body_chars=settings.max_body_chars,
                                      rendered=rendered, secret_key=settings.secret_key)
        session = db.session()
        if session.in_transaction():  # not after the one-statement insert: nothing is open
            session.commit()
        # The answer is made of values held in memory: nothing is read back after the commit
        # (a database gone by then must not turn a stored comment into a 503).
        answer = {
            "id": accepted.id,
            "status": str(accepted.status),
            "author_token": accepted.author_token,
            "article": accepted.article_key,
            "parent_id": accepted.parent_id,
            "created_at": accepted.created_at,
            "status_url": url_for("public.OwnComment", comment_id=accepted.id),
        }
        if accepted.created:
            wake_moderation(accepted.id)  # after commit; the sweep covers a lost wake
        return answer, 202


@blp.route("/sites/<string:site_id>/counts")
class Counts(MethodView):
    @blp.arguments(CountsQuerySchema, location="query")
    @blp.response(200, CountsSchema)
    @blp.alt_response(304, description="Unchanged since the ETag sent in If-None-Match")
    def get(self, args: dict[str, Any], site_id: str) -> Response:
        """Approved comment counts for many articles in one request."""
        site = site_view(db.session, site_id)
        g.cors_site = site
        body = _render({"counts": approved_counts(db.session, site.id, args["article"])})
        return _cacheable(body, "c" + hashlib.blake2b(body, digest_size=8).hexdigest())


MAX_IDEMPOTENCY_KEY = Comment.__table__.c.idempotency_key.type.length  # String(100)


def _idempotency_key() -> str | None:
    """The whole key or a 422: cut to its first 100 characters, two keys that differ
    later would be one (the second comment answered with the first, or a 409)."""
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidValue(f"Idempotency-Key is at most {MAX_IDEMPOTENCY_KEY} characters",
                           fields={"Idempotency-Key": [
                               f"At most {MAX_IDEMPOTENCY_KEY} characters."]})
    return key


def _author_token() -> str:
    token = request.headers.get("X-Author-Token")
    if not token:
        raise Unauthorized("send the author token from the submit answer as X-Author-Token")
    return token


def _own_document(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "site_id": comment.site_id,
        "article": comment.article,
        "parent_id": comment.parent_id,
        "author_name": comment.author_name,
        "body": comment.body,
        "html": comment.html,
        "status": str(comment.status),
        "message": STATUS_MESSAGES[comment.status],
        "created_at": comment.created_at,
        "updated_at": comment.updated_at,
        "decided_at": comment.decided_at,
    }


@blp.route("/comments/<int:comment_id>")
class OwnComment(MethodView):
    @blp.response(200, OwnCommentSchema)
    @blp.alt_response(401, description="X-Author-Token header missing")
    @blp.alt_response(404, description="No such comment, or not yours")
    @blp.doc(parameters=[_TOKEN_REQUIRED])
    def get(self, comment_id: int) -> dict[str, Any]:
        """The author's own comment, whatever its status (needs X-Author-Token)."""
        comment = own_comment(db.session, comment_id, _author_token())
        g.cors_site_id = comment.site_id
        return _own_document(comment)

    @blp.arguments(EditSchema)
    @blp.response(200, OwnCommentSchema)
    @blp.alt_response(409, description="Edit window closed, or the comment cannot change")
    @blp.doc(parameters=[_TOKEN_REQUIRED])
    def patch(self, args: dict[str, Any], comment_id: int) -> dict[str, Any]:
        """Edit one's own comment within the site's window; it is moderated again.

        A body with nothing visible after cleaning, or longer than ``max_body_chars``, is a
        422 on ``body``, as on submit."""
        comment = own_comment(db.session, comment_id, _author_token())
        g.cors_site_id = comment.site_id
        edit_comment(db.session, comment, args["body"],
                     max_body_chars=_settings().max_body_chars)
        needs_check = comment.checked_at is None
        db.session.commit()
        if needs_check:
            wake_moderation(comment.id)
        return _own_document(comment)

    @blp.response(204)
    @blp.alt_response(409, description="Edit window closed")
    @blp.doc(parameters=[_TOKEN_REQUIRED])
    @no_input
    def delete(self, comment_id: int) -> None:
        """Delete one's own comment within the site's window (replies stay, under a
        placeholder)."""
        comment = own_comment(db.session, comment_id, _author_token())
        g.cors_site_id = comment.site_id
        delete_comment(db.session, comment)
        db.session.commit()


def _flag_limit() -> str:
    limit = _settings().rate_limit_flag
    return "1/second" if limit == "off" else limit


def _flag_limit_off() -> bool:
    return _settings().rate_limit_flag == "off"


@blp.route("/comments/<int:comment_id>/flags")
class Flags(MethodView):
    @limits_unless_off(_flag_limit_off,
                       limiter.limit(_flag_limit),
                       limiter.limit(_flag_limit, key_func=_author_key,
                                     exempt_when=_without_author_token))
    @blp.arguments(FlagInSchema)
    @blp.response(201, FlagOutSchema)
    @blp.alt_response(409, description="This reader already reported the comment "
                      "(`already_flagged`), or the token is the comment's author's "
                      "(`own_comment`)")
    @blp.doc(parameters=[_TOKEN_OPTIONAL])
    def post(self, args: dict[str, Any], comment_id: int) -> dict[str, Any]:
        """Report a published comment (once per reader)."""
        outcome = flag_comment(
            db.session, comment_id, args["reason"], args["note"],
            author_token=request.headers.get("X-Author-Token") or None,
            ip_hash=hash_ip(request.remote_addr, _settings().secret_key))
        g.cors_site_id = outcome.flag.site_id
        db.session.commit()
        return {"comment_id": comment_id, "reason": str(outcome.flag.reason),
                "counted": outcome.flag.counted, "created_at": outcome.flag.created_at}


@blp.route("/flag-reasons")
class FlagReasons(MethodView):
    @blp.response(200, FlagReasonsSchema)
    def get(self) -> dict[str, Any]:
        """The reasons a reader can pick when reporting a comment."""
        return {"reasons": [{"id": str(r), "label": label} for r, label in FLAG_LABELS.items()]}
