"""Read side: the approved thread of an article and comment counts for many articles.

These are the hottest paths. They read approved rows (and placeholders for the comments
approved replies hang from) through the ``ix_comments_thread`` index, in two queries per
page whatever the thread's size.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ARRAY, String, any_, bindparam, column, func, or_, select
from sqlalchemy.orm import Session, aliased

from service.dbpool import single_read
from service.domain.errors import DomainError
from service.domain.pagecache import PageCache
from service.models import Article, Comment, CommentStatus, utcnow

SORTS = ("oldest", "newest")
MAX_COUNT_KEYS = 100


@dataclass(frozen=True)
class Cursor:
    sort: str
    after_id: int

    def encode(self) -> str:
        raw = json.dumps({"s": self.sort, "a": self.after_id}, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, sort: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            doc = json.loads(raw)
            cursor = cls(sort=str(doc["s"]), after_id=int(doc["a"]))
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise DomainError("the cursor is not valid", fields={"cursor": ["Invalid cursor."]}) \
                from None
        if cursor.sort != sort:
            raise DomainError("the cursor belongs to another sort order",
                              fields={"cursor": ["Cursor was made for another sort order."]})
        return cursor


_THREAD_COLUMNS = (Comment.id, Comment.parent_id, Comment.root_id, Comment.author_name,
                   Comment.html, Comment.created_at, Comment.status)
# Deleted comments are read too, so that one with approved replies stays as a placeholder.
_VISIBLE = (CommentStatus.APPROVED, CommentStatus.DELETED)


@dataclass(frozen=True)
class Page:
    """A rendered public page and the validator that names its content."""

    body: bytes
    etag: str


PAGES = PageCache(max_bytes=32 * 1024 * 1024)


class ArticleHeader(Protocol):
    """What a thread page needs of its article (a row of ``_ARTICLE``)."""

    id: int
    key: str
    url: str | None
    title: str | None
    is_open: bool
    approved_count: int
    thread_version: str
    created_at: datetime | None


_ARTICLE = select(Article.id, Article.key, Article.url, Article.title, Article.is_open,
                  Article.approved_count, Article.thread_version, Article.created_at).where(
    Article.site_id == bindparam("site_id"), Article.key == bindparam("key"))


@dataclass(frozen=True)
class Openness:
    """Whether an article takes comments now: its own flag, and the site's
    ``close_after_days`` counted from its first comment. The one rule for the thread's
    ``is_open`` and the submit path's 409."""

    is_open: bool
    closes_at: datetime | None

    @classmethod
    def of(cls, is_open: bool, created_at: datetime | None,
           close_after_days: int | None) -> Openness:
        if close_after_days is None or created_at is None:
            return cls(is_open, None)
        closes_at = created_at + timedelta(days=close_after_days)
        return cls(is_open and utcnow() <= closes_at, closes_at)


def thread_page(session: Session, site_id: str, article_key: str, *, sort: str,
                cursor: str | None, limit: int, render: Callable[[Any], bytes],
                close_after_days: int | None = None, creates_articles: bool = True) -> Page:
    """The thread page as JSON bytes, from the cache when the thread has not changed.

    One query (the article and its version) on a hit; three on a miss. Whether the
    article is open is part of the page's key: closing by age changes no version.
    """
    after = Cursor.decode(cursor, sort) if cursor else None
    # A prebuilt Core statement for the one query of a cache hit (no ORM entity to build),
    # alone: a miss reads the comments in the session's transaction.
    with single_read(session) as connection:
        article = connection.execute(_ARTICLE, {"site_id": site_id, "key": article_key}
                                     ).first()
    if article is None:
        # Not commented on yet: an empty thread, not an error (every new article starts so).
        # Open only where a first comment creates the article: elsewhere a submit is a 404.
        doc = {"article": {"key": article_key, "url": None, "title": None,
                           "is_open": creates_articles, "closes_at": None,
                           "approved_count": 0},
               "comments": [], "next_cursor": None}
        return Page(render(doc), "t0" if creates_articles else "t0-closed")
    openness = Openness.of(article.is_open, article.created_at, close_after_days)
    key = (article.id, article.thread_version, sort, cursor or "", limit, openness)
    page_of = hashlib.blake2b(repr(key[2:]).encode(), digest_size=6).hexdigest()
    etag = f"t{article.id}-{article.thread_version}-{page_of}"
    body = PAGES.get(key)
    if body is None:
        body = render(approved_thread(session, article, sort=sort, after=after, limit=limit,
                                      openness=openness))
        PAGES.put(key, body)
    return Page(body, etag)


def approved_thread(session: Session, article: ArticleHeader, *, sort: str, after: Cursor | None,
                    limit: int, openness: Openness) -> dict[str, Any]:
    # A root is listed if it is approved or an approved reply hangs below it (a removed
    # root then shows as a placeholder): its replies are counted, so they must be shown.
    # Roots nothing would be shown of are not read, so they take no place on a page.
    below = aliased(Comment)
    roots_with_approved_replies = select(below.root_id).where(
        below.article_id == article.id,
        below.status == CommentStatus.APPROVED,
        below.parent_id.is_not(None),
    )
    roots_query = select(*_THREAD_COLUMNS).where(
        Comment.article_id == article.id,
        Comment.parent_id.is_(None),
        or_(Comment.status == CommentStatus.APPROVED,
            Comment.id.in_(roots_with_approved_replies)),
    )
    if sort == "oldest":
        if after:
            roots_query = roots_query.where(Comment.id > after.after_id)
        roots_query = roots_query.order_by(Comment.id.asc())
    else:
        if after:
            roots_query = roots_query.where(Comment.id < after.after_id)
        roots_query = roots_query.order_by(Comment.id.desc())
    roots = session.execute(roots_query.limit(limit + 1)).all()
    has_more = len(roots) > limit
    roots = roots[:limit]

    replies = []
    if roots:
        replies = session.execute(
            select(*_THREAD_COLUMNS)
            .where(
                Comment.article_id == article.id,
                Comment.status.in_(_VISIBLE),
                Comment.root_id.in_([r.id for r in roots]),
                Comment.parent_id.is_not(None),
            )
            .order_by(Comment.id.asc())
        ).all()

    return {
        "article": article_summary(article, openness),
        "comments": _nest(roots, replies),
        "next_cursor": Cursor(sort, roots[-1].id).encode() if has_more else None,
    }


def article_summary(article: Article | ArticleHeader, openness: Openness) -> dict[str, Any]:
    return {
        "key": article.key,
        "url": article.url,
        "title": article.title,
        "is_open": openness.is_open,
        "closes_at": openness.closes_at.isoformat() if openness.closes_at else None,
        "approved_count": article.approved_count,
    }


def _node(row: Any) -> dict[str, Any]:
    # Anything not approved (deleted by its author, rejected, spam, held, or waiting after
    # an edit) is read only as the placeholder approved replies hang from: nothing of its
    # own is shown, and all these look alike, so moving between them (which does not
    # change the thread's version) cannot change a cached page.
    deleted = row.status != CommentStatus.APPROVED
    return {
        "id": row.id,
        "parent_id": row.parent_id,
        "author_name": None if deleted else row.author_name,
        "html": "" if deleted else row.html,
        "deleted": deleted,
        "created_at": row.created_at.isoformat(),
        "replies": [],
    }


def _nest(roots: list[Any], replies: list[Any]) -> list[dict[str, Any]]:
    """Hang replies (oldest first) under their parents, then drop empty placeholders.

    A reply whose parent is not visible hangs from its thread's root instead, keeping its
    ``parent_id``, so an approved reply is never hidden by its parent's fate. A deleted
    comment (or a removed root) stays only as a placeholder for approved replies below it.
    """
    nodes = {row.id: _node(row) for row in roots}
    top = [nodes[row.id] for row in roots]
    for row in replies:
        nodes[row.id] = _node(row)
    for row in replies:
        parent = nodes.get(row.parent_id) or nodes.get(row.root_id)
        if parent is not None:
            parent["replies"].append(nodes[row.id])
    return [node for node in top if _prune(node)]


def _prune(node: dict[str, Any]) -> bool:
    """Keep ``node`` if it is approved or has an approved descendant."""
    node["replies"] = [child for child in node["replies"] if _prune(child)]
    return not node["deleted"] or bool(node["replies"])


# SQLite likewise takes them as one JSON array read by ``json_each``: an expanding ``IN``
# was rendered anew on every request (about a fifth of a counts request's CPU there).
_KEYS_OF_JSON = select(column("value", String)).select_from(
    func.json_each(bindparam("keys_json"))).scalar_subquery()
_COUNTS = select(Article.key, Article.approved_count).where(
    Article.site_id == bindparam("site_id"), Article.key.in_(_KEYS_OF_JSON))
# PostgreSQL takes the keys as one array: the same SQL text whatever the number of keys, so
# it is compiled once and prepared by the driver, where ``IN`` renders a new text per count.
_COUNTS_ARRAY = select(Article.key, Article.approved_count).where(
    Article.site_id == bindparam("site_id"),
    Article.key == any_(bindparam("keys", type_=ARRAY(String))))


def approved_counts(session: Session, site_id: str, keys: list[str]) -> dict[str, int]:
    """Stored counts (never a scan of comments); 0 for articles not seen yet. Keyed by the
    keys as asked (`` a ``), counted under the stored, stripped key (``a``)."""
    if len(keys) > MAX_COUNT_KEYS:
        raise DomainError(f"ask for at most {MAX_COUNT_KEYS} articles at once",
                          fields={"article": [f"At most {MAX_COUNT_KEYS} keys."]})
    counts = dict.fromkeys(keys, 0)
    if keys:
        # One prebuilt Core statement on the session's connection: the same SQL without
        # building the expression and going through the ORM on every call.
        with single_read(session) as connection:
            wanted = sorted({k.strip() for k in keys})
            if connection.dialect.name == "postgresql":
                rows = connection.execute(_COUNTS_ARRAY, {"site_id": site_id,
                                                          "keys": wanted}).all()
            else:
                rows = connection.execute(_COUNTS, {"site_id": site_id,
                                                    "keys_json": json.dumps(wanted)}).all()
        stored = {row.key: row.approved_count for row in rows}
        counts = {key: stored.get(key.strip(), 0) for key in counts}
    return counts
