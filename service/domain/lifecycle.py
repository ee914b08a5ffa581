"""The only door through which a comment's status changes.

``transition`` checks the move against the lifecycle table, writes the audit entry,
adjusts the article's approved count and the author's tallies, and writes the outbox
event, all in the caller's transaction: either everything happens or nothing does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from service.domain.errors import InvalidTransition
from service.domain.events import comment_payload, emit
from service.models import Article, AuditEntry, Author, Comment, CommentStatus, utcnow
from service.models.article import new_thread_version

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
    current = comment.status
    if current == target:
        return False
    if not can_transition(current, target):
        raise InvalidTransition(f"a {current} comment cannot become {target}")

    delta = (target == S.APPROVED) - (current == S.APPROVED)
    # The counter updates touch other rows only: no need to flush pending work first
    # (which would also turn a batch's inserts into one statement each).
    with session.no_autoflush:
        if current in THREAD_VISIBLE or target in THREAD_VISIBLE:
            # Atomic increments: concurrent transitions on one article never lose an
            # update. The version names the thread's content for caches and ETags.
            count, version = session.execute(
                update(Article)
                .where(Article.id == comment.article_id)
                .values(approved_count=Article.approved_count + delta,
                        thread_version=new_thread_version())
                .returning(Article.approved_count, Article.thread_version)
                .execution_options(synchronize_session=False)
            ).one()
            set_committed_value(comment.article, "approved_count", count)
            set_committed_value(comment.article, "thread_version", version)
        _adjust_author(session, comment, current, target)

    comment.status = target
    comment.status_reason = reason
    if target != S.PENDING:
        comment.decided_at = utcnow()
    session.add(
        AuditEntry(
            site_id=comment.site_id,
            subject_type="comment",
            subject_id=str(comment.id),
            action=f"comment.{target}",
            from_status=str(current),
            to_status=str(target),
            actor_type=actor.type,
            actor_id=actor.id,
            reason=reason,
            details=details or {},
        )
    )
    emit(session, comment.site_id, f"comment.{target}", str(comment.id), comment_payload(comment))
    return True


def record_creation(session: Session, comment: Comment, actor: Actor) -> None:
    """Audit and announce a new comment (its first status is set by the submitter)."""
    session.add(
        AuditEntry(
            site_id=comment.site_id,
            subject_type="comment",
            subject_id=str(comment.id),
            action="comment.created",
            from_status=None,
            to_status=str(comment.status),
            actor_type=actor.type,
            actor_id=actor.id,
        )
    )
    emit(session, comment.site_id, "comment.created", str(comment.id), comment_payload(comment))


def _adjust_author(session: Session, comment: Comment, current: CommentStatus,
                   target: CommentStatus) -> None:
    approved = (target == S.APPROVED) - (current == S.APPROVED)
    rejected = (target in _REJECTED_LIKE) - (current in _REJECTED_LIKE)
    if approved or rejected:
        counts = session.execute(
            update(Author)
            .where(Author.id == comment.author_id)
            .values(
                approved_count=Author.approved_count + approved,
                rejected_count=Author.rejected_count + rejected,
            )
            .returning(Author.approved_count, Author.rejected_count)
            .execution_options(synchronize_session=False)
        ).one()
        set_committed_value(comment.author, "approved_count", counts[0])
        set_committed_value(comment.author, "rejected_count", counts[1])
