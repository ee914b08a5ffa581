"""Accepting a comment: validate against the site's rules, store, audit, announce.

Nothing here runs a check: the web process stores and commits, the worker decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.domain.errors import Conflict, DomainError, NotFound
from service.domain.lifecycle import Actor, record_creation, transition
from service.domain.rendering import clean_text, fingerprint, render_html
from service.domain.security import hash_email, new_token, token_digest
from service.models import (
    Article,
    Author,
    Comment,
    CommentStatus,
    ModerationMode,
    Site,
    utcnow,
)

POST_MODERATION_REASON = "published at once; checks may still pull it back"


@dataclass(frozen=True)
class Submission:
    article: str
    body: str
    author_name: str = "Anonymous"
    author_email: str | None = None
    article_url: str | None = None
    article_title: str | None = None
    parent_id: int | None = None
    honeypot: str | None = None
    elapsed_ms: int | None = None


@dataclass(frozen=True)
class ClientInfo:
    ip_hash: str | None = None
    # The plain address: given only while Akismet is enabled (it needs user_ip).
    ip_address: str | None = None
    user_agent: str | None = None
    author_token: str | None = None
    idempotency_key: str | None = None
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Accepted:
    comment: Comment
    author_token: str
    created: bool  # False when an Idempotency-Key replayed an earlier submission


def get_site(session: Session, site_id: str) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound(f"no site {site_id!r}")
    return site


def submit_comment(session: Session, site: Site, data: Submission, client: ClientInfo,
                   *, max_depth: int, max_body_chars: int) -> Accepted:
    """Store a new comment as pending (or approved on a post-moderated site)."""
    if client.idempotency_key:
        earlier = session.scalar(
            select(Comment).where(
                Comment.site_id == site.id, Comment.idempotency_key == client.idempotency_key
            )
        )
        if earlier is not None:
            return _replay(earlier, client)

    body = clean_text(data.body)
    if not body:
        raise DomainError("the comment is empty", fields={"body": ["Comment text is empty."]})
    if len(body) > max_body_chars:
        raise DomainError(
            f"the comment is longer than {max_body_chars} characters",
            fields={"body": [f"Longer than {max_body_chars} characters."]},
        )
    article = _article_for(session, site, data)
    if not article.is_open or _too_old(site, article):
        raise Conflict(f"comments are closed on {article.key!r}")
    parent = _parent_for(session, article, data.parent_id, site.max_depth or max_depth)
    author, token = _author_for(session, site, data, client.author_token)

    comment = Comment(
        site_id=site.id,
        article_id=article.id,
        parent_id=parent.id if parent else None,
        root_id=parent.root_id if parent else None,
        depth=parent.depth + 1 if parent else 0,
        author_name=clean_text(data.author_name)[:80] or "Anonymous",
        body=body,
        html=render_html(body),
        fingerprint=fingerprint(body),
        status=CommentStatus.PENDING,
        ip_hash=client.ip_hash,
        ip_address=(client.ip_address or "")[:45] or None,
        user_agent=(client.user_agent or "")[:300] or None,
        client_signals=_client_signals(data),
        idempotency_key=client.idempotency_key,
        request_id=client.request_id,
        # Marked as sent now; if the send after commit is lost, the sweep finds it stale.
        enqueued_at=utcnow(),
    )
    comment.article = article
    comment.author = author
    session.add(comment)
    session.flush()
    if comment.root_id is None:
        comment.root_id = comment.id
    record_creation(session, comment, Actor("author", str(author.id)))
    if site.mode == ModerationMode.POST:
        transition(session, comment, CommentStatus.APPROVED, Actor.system("post-moderation"),
                   POST_MODERATION_REASON)
    return Accepted(comment, token, created=True)


def _replay(earlier: Comment, client: ClientInfo) -> Accepted:
    token = client.author_token
    if token is None or token_digest(token) != earlier.author.token_hash:
        raise Conflict("this Idempotency-Key was already used by another submission")
    return Accepted(earlier, client.author_token, created=False)


def _too_old(site: Site, article: Article) -> bool:
    if site.close_after_days is None or article.created_at is None:
        return False
    return utcnow() - article.created_at > timedelta(days=site.close_after_days)


def _client_signals(data: Submission) -> dict[str, Any]:
    signals: dict[str, Any] = {"honeypot": bool(data.honeypot and data.honeypot.strip())}
    if data.elapsed_ms is not None:
        signals["elapsed_ms"] = data.elapsed_ms
    return signals


def _article_for(session: Session, site: Site, data: Submission) -> Article:
    key = data.article.strip()
    article = session.scalar(select(Article).where(Article.site_id == site.id, Article.key == key))
    if article is not None:
        return article
    if not site.auto_create_articles:
        raise NotFound(f"no article {key!r} on site {site.id!r}",
                       fields={"article": ["Unknown article."]})
    article = Article(site_id=site.id, key=key, url=data.article_url, title=data.article_title,
                      approved_count=0, is_open=True)
    try:
        # A savepoint: two first comments racing on a new article must not fail the loser.
        with session.begin_nested():
            session.add(article)
    except IntegrityError:
        article = session.scalars(
            select(Article).where(Article.site_id == site.id, Article.key == key)
        ).one()
    return article


def _parent_for(session: Session, article: Article, parent_id: int | None,
                max_depth: int) -> Comment | None:
    if parent_id is None:
        return None
    parent = session.get(Comment, parent_id)
    if parent is None or parent.article_id != article.id:
        raise DomainError("the parent comment is not on this article",
                          fields={"parent_id": ["No such comment on this article."]})
    if parent.status in {CommentStatus.DELETED, CommentStatus.REJECTED, CommentStatus.SPAM}:
        raise Conflict("the parent comment cannot be replied to")
    if parent.depth + 1 > max_depth:
        raise DomainError(f"replies nest at most {max_depth} deep",
                          fields={"parent_id": [f"Replies nest at most {max_depth} deep."]})
    return parent


def _author_for(session: Session, site: Site, data: Submission,
                token: str | None) -> tuple[Author, str]:
    """Reuse the author behind a valid token; otherwise start a new identity."""
    if token:
        author = session.scalar(
            select(Author).where(Author.token_hash == token_digest(token),
                                 Author.site_id == site.id)
        )
        if author is not None:
            name = clean_text(data.author_name)[:80]
            if name:
                author.display_name = name
            return author, token
    token = new_token("at")
    author = Author(
        site_id=site.id,
        display_name=clean_text(data.author_name)[:80] or "Anonymous",
        email_hash=hash_email(data.author_email),
        token_hash=token_digest(token),
        approved_count=0,
        rejected_count=0,
    )
    session.add(author)  # inserted with the comment (one flush: the relationship orders them)
    return author, token
