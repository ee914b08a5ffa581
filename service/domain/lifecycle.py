"""The only door through which a comment's status changes.

``transition`` checks the move against the lifecycle table, writes the audit entry,
adjusts the article's approved count and the author's tallies, and writes the outbox
event, all in the caller's transaction: either everything happens or nothing does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from service.domain.errors import InvalidTransition
from service.domain.events import (
    INSERT_EVENT,
    ArticleFacts,
    CommentFacts,
    comment_payload,
    emitted,
    event_row,
    payload_of,
)
from service.models import Article, AuditEntry, Author, Comment, CommentStatus, Event, utcnow
from service.models.article import new_thread_version
from service.models.audit import AUDIT_ACTIONS

S = CommentStatus

ALLOWED: dict[CommentStatus, frozenset[CommentStatus]] = {
    S.PENDING: frozenset({S.APPROVED, S.REJECTED, S.HELD, S.SPAM, S.DELETED}),
    # -> pending: the author edited the text, so it is moderated again.
    S.HELD: frozenset({S.APPROVED, S.REJECTED, S.SPAM, S.DELETED, S.PENDING}),
    # Post-moderation checks and reader flags can pull a published comment back.
    S.APPROVED: frozenset({S.REJECTED, S.SPAM, S.HELD, S.DELETED, S.PENDING}),
    # A false positive is undone by another decision.
    S.REJECTED: frozenset({S.APPROVED, S.SPAM, S.DELETED}),
    S.SPAM: frozenset({S.APPROVED, S.REJECTED, S.DELETED}),
    S.DELETED: frozenset(),
}

_REJECTED_LIKE = {S.REJECTED, S.SPAM}
# What the public thread shows: approved comments, and deleted ones as placeholders.
THREAD_VISIBLE = frozenset({S.APPROVED, S.DELETED})


@dataclass(frozen=True)
class Actor:
    """Who made a change: the system (a check, a sweep), the author, or a key holder."""

    type: str
    id: str | None = None

    @classmethod
    def system(cls, what: str = "moderation") -> Actor:
        return cls("system", what)


def can_transition(current: CommentStatus, target: CommentStatus) -> bool:
    return target in ALLOWED[current]


def transition(
    session: Session,
    comment: Comment,
    target: CommentStatus,
    actor: Actor,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> bool:
    """Move ``comment`` to ``target``; return False (and change nothing) if it is there."""
    batch: _CounterBatch | None = session.info.get(_BATCH)
    if batch is None:
        # A worker batch (batched_counters) has claimed and re-read its comments already.
        lock_current(session, comment)
    current = comment.status
    if current == target:
        return False
    if not can_transition(current, target):
        raise InvalidTransition(f"a {current} comment cannot become {target}")

    if batch is None:
        # One way to change counters: a lone transition is a batch of one.
        with batched_counters(session):
            return transition(session, comment, target, actor, reason, details)
    delta = (target == S.APPROVED) - (current == S.APPROVED)
    thread_changed = current in THREAD_VISIBLE or target in THREAD_VISIBLE
    approved, rejected = _author_deltas(current, target)
    batch.add(comment, delta if thread_changed else None, approved, rejected)

    now = utcnow()
    if target == S.DELETED:
        comment.deleted_from = current
    comment.status = target
    comment.status_reason = reason
    # Back to pending (an author's edit) is no decision: the old one's time must not stay.
    comment.decided_at = None if target == S.PENDING else now
    batch.audit.append(audit_row(comment.site_id, str(comment.id), f"comment.{target}",
                                 current, target, actor, reason, details or {}, now))
    batch.events.append((event_row(comment.site_id, f"comment.{target}", str(comment.id),
                                   comment_payload(comment)), comment.article_id))
    emitted(session)
    return True


def lock_current(session: Session, comment: Comment) -> None:
    """On PostgreSQL, lock the comment's row and re-read its status before changing it.

    Web requests read comments without a lock, and a worker batch may decide the comment
    before the request writes. Acting on the stale status would move the counters from the
    wrong place and audit the wrong "from"; and taking the article and author rows before
    the comment's would deadlock with that batch, which holds the comment first. So the
    order everywhere is comment, then article, then author. SQLite needs none of this: a
    writing request starts with BEGIN IMMEDIATE, so nothing can change under it.
    """
    if not inspect(comment).persistent or session.get_bind().dialect.name != "postgresql":
        return
    session.refresh(comment, ["status"], with_for_update=True)


def lock_comments(session: Session, ids: Iterable[int]) -> None:
    """Lock several comments in id order before changing them one by one (see
    ``lock_current``): taking them one at a time, between counter updates, could deadlock
    with a batch holding a later one."""
    ordered = sorted(set(ids))
    if ordered and session.get_bind().dialect.name == "postgresql":
        session.execute(select(Comment.id).where(Comment.id.in_(ordered))
                        .order_by(Comment.id).with_for_update())


_audit, _events = AuditEntry.__table__, Event.__table__
_INSERT_AUDIT = insert(_audit)
# PostgreSQL: the audit entry and the outbox event in one round trip (a data-modifying CTE
# runs exactly once, referenced or not).
_INSERT_AUDIT_AND_EVENT_PG = insert(_events).values(
    {c.name: bindparam(f"e_{c.name}", type_=c.type) for c in _events.c}
).add_cte(insert(_audit).values(
    {c.name: bindparam(f"a_{c.name}", type_=c.type) for c in _audit.c if c.name != "id"}
).cte("new_audit_entry"))


def audit_row(site_id: str, subject_id: str, action: str, from_status: CommentStatus | None,
              to_status: CommentStatus, actor: Actor, reason: str | None,
              details: dict[str, Any], created_at: datetime) -> dict[str, Any]:
    """A comment's ``audit_entries`` row, for the prebuilt INSERT (``_INSERT_AUDIT``),
    which ``AuditEntry``'s own check of the action does not see."""
    assert action in AUDIT_ACTIONS, action
    return {"site_id": site_id, "subject_type": "comment", "subject_id": subject_id,
            "action": action, "from_status": None if from_status is None else str(from_status),
            "to_status": str(to_status), "actor_type": actor.type, "actor_id": actor.id,
            "reason": reason, "details": details, "created_at": created_at}


def creation_rows(comment: CommentFacts, article: ArticleFacts,
                  actor: Actor) -> tuple[dict[str, Any], dict[str, Any]]:
    """The audit entry and the outbox event of a new comment, as prebuilt INSERTs take them."""
    audit = audit_row(comment.site_id, str(comment.id), "comment.created", None,
                      comment.status, actor, None, {}, utcnow())
    event = event_row(comment.site_id, "comment.created", str(comment.id),
                      payload_of(comment, article))
    return audit, event


def record_creation(session: Session, comment: CommentFacts, article: ArticleFacts,
                    actor: Actor) -> None:
    """Audit and announce a new comment (its first status is set by the submitter).

    Prebuilt INSERTs in the caller's transaction rather than ORM objects: this runs on
    every submit, where the unit of work cost more than the statements themselves.
    """
    audit, event = creation_rows(comment, article, actor)
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(_INSERT_AUDIT_AND_EVENT_PG,
                           {**{f"a_{k}": v for k, v in audit.items()},
                            **{f"e_{k}": v for k, v in event.items()}})
    else:
        connection.execute(_INSERT_AUDIT, audit)
        connection.execute(INSERT_EVENT, event)
    emitted(session)


def _author_deltas(current: CommentStatus, target: CommentStatus) -> tuple[int, int]:
    """Changes to the author's tallies. A rejection stays in the tally when the comment is
    deleted (by its author, or an erasure): a spammer must not clear a suspect history by
    deleting what was rejected. A moderator who approves it instead does take it out."""
    approved = (target == S.APPROVED) - (current == S.APPROVED)
    if target == S.DELETED:
        return approved, 0
    rejected = (target in _REJECTED_LIKE) - (current in _REJECTED_LIKE)
    return approved, rejected


_BATCH = "warden_counter_batch"


@dataclass
class _CounterBatch:
    """Counter changes of many transitions, applied together when the batch ends."""

    articles: dict[int, int] = field(default_factory=dict)  # id -> approved delta
    authors: dict[int, list[int]] = field(default_factory=dict)  # id -> [approved, rejected]
    audit: list[dict[str, Any]] = field(default_factory=list)  # audit_entries rows
    events: list[tuple[dict[str, Any], int]] = field(default_factory=list)  # (row, article)

    def add(self, comment: Comment, article_delta: int | None, approved: int,
            rejected: int) -> None:
        if article_delta is not None:
            self.articles[comment.article_id] = (self.articles.get(comment.article_id, 0)
                                                 + article_delta)
        if approved or rejected:
            tally = self.authors.setdefault(comment.author_id, [0, 0])
            tally[0] += approved
            tally[1] += rejected


@contextmanager
def batched_counters(session: Session) -> Iterator[None]:
    """Transitions inside collect their counter changes; leaving applies them at once.

    A worker records a whole batch of decisions in one transaction (a lone transition is a
    batch of one): per-transition updates would cost two round trips per comment. The articles and
    the authors each get one executemany (in id order), one read of the final counts fills
    in the events' ``approved_count``, and every event of an article in the batch carries
    the count after the batch. Nothing is flushed until then (the events are still
    pending when their payloads are completed).
    """
    batch = _CounterBatch()
    session.info[_BATCH] = batch
    try:
        with session.no_autoflush:
            yield
            _apply(session, batch)
    finally:
        session.info.pop(_BATCH, None)


def _apply(session: Session, batch: _CounterBatch) -> None:
    articles, authors = Article.__table__, Author.__table__
    connection = session.connection()
    if batch.articles:
        connection.execute(
            update(articles).where(articles.c.id == bindparam("b_id"))
            .values(approved_count=articles.c.approved_count + bindparam("b_delta"),
                    thread_version=bindparam("b_version")),
            [{"b_id": article_id, "b_delta": delta, "b_version": new_thread_version()}
             for article_id, delta in sorted(batch.articles.items())])
        rows = connection.execute(select(articles.c.id, articles.c.approved_count,
                                         articles.c.thread_version)
                                  .where(articles.c.id.in_(batch.articles))).all()
        final = {row.id: row for row in rows}
        for article_id, row in final.items():
            article = session.identity_map.get(identity_key(Article, article_id))
            if article is not None:
                set_committed_value(article, "approved_count", row.approved_count)
                set_committed_value(article, "thread_version", row.thread_version)
        for event, article_id in batch.events:
            if article_id in final:
                event["payload"]["data"]["article"]["approved_count"] = final[
                    article_id].approved_count
    if batch.authors:
        connection.execute(
            update(authors).where(authors.c.id == bindparam("b_id"))
            .values(approved_count=authors.c.approved_count + bindparam("b_approved"),
                    rejected_count=authors.c.rejected_count + bindparam("b_rejected")),
            [{"b_id": author_id, "b_approved": tally[0], "b_rejected": tally[1]}
             for author_id, tally in sorted(batch.authors.items())])
        for author_id in batch.authors:
            author = session.identity_map.get(identity_key(Author, author_id))
            if author is not None:
                session.expire(author, ["approved_count", "rejected_count"])
    # The entries and events as two multi-row INSERTs rather than two ORM objects per
    # transition (in a worker batch their unit of work cost more than the checks). Whatever
    # the caller added before is flushed first, so audit ids keep the order things happened.
    session.flush()
    if batch.audit:
        connection.execute(_INSERT_AUDIT, batch.audit)
    if batch.events:
        connection.execute(INSERT_EVENT, [event for event, _ in batch.events])
