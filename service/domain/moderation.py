"""Moderator work: queues, decisions (one and bulk), author standing, audit, stats.

Every status change still goes through ``lifecycle.transition``; this module only decides
which transitions a moderator's action means and gathers what a moderator needs to see.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from service.domain import feedback
from service.domain.errors import DomainError, InvalidTransition, InvalidValue, NotFound
from service.domain.events import comment_payload, emit
from service.domain.labels import record_label
from service.domain.lifecycle import Actor, lock_comments, lock_current, transition
from service.domain.threads import Cursor
from service.models import (
    Article,
    AuditEntry,
    Author,
    CheckResult,
    Comment,
    CommentStatus,
    Flag,
    TrustLevel,
    utcnow,
)

S = CommentStatus
ACTIONS = {"approve": S.APPROVED, "reject": S.REJECTED, "spam": S.SPAM}
QUEUES = ("held", "flagged", "pending", "approved", "rejected", "spam", "deleted")
MAX_BULK = 100
FIRED = 0.5  # a check "fired" when its score reached the policy's hold point


@dataclass(frozen=True)
class QueueFilter:
    status: str
    site_ids: list[str] | None  # None: every site
    article: str | None = None
    author_id: int | None = None
    check: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    order: str = "oldest"


def queue_page(session: Session, flt: QueueFilter, cursor: str | None,
               limit: int) -> tuple[list[dict[str, Any]], str | None]:
    query = _queue_query(flt)
    after = Cursor.decode(cursor, flt.order) if cursor else None
    if flt.order == "oldest":
        if after:
            query = query.where(Comment.id > after.after_id)
        query = query.order_by(Comment.id.asc())
    else:
        if after:
            query = query.where(Comment.id < after.after_id)
        query = query.order_by(Comment.id.desc())
    comments = list(session.scalars(query.limit(limit + 1)))
    has_more = len(comments) > limit
    comments = comments[:limit]
    items = describe(session, comments)
    next_cursor = Cursor(flt.order, comments[-1].id).encode() if has_more else None
    return items, next_cursor


def _queue_query(flt: QueueFilter) -> Select[tuple[Comment]]:
    query = select(Comment)
    if flt.status == "flagged":
        query = query.where(Comment.flagged_at.is_not(None), Comment.status != S.DELETED)
    else:
        query = query.where(Comment.status == S(flt.status))
    if flt.site_ids is not None:
        query = query.where(Comment.site_id.in_(flt.site_ids))
    if flt.article:
        query = query.join(Article, Article.id == Comment.article_id).where(
            Article.key == flt.article)
    if flt.author_id is not None:
        query = query.where(Comment.author_id == flt.author_id)
    if flt.check:
        fired = select(CheckResult.comment_id).where(CheckResult.check_name == flt.check,
                                                     CheckResult.score >= FIRED)
        query = query.where(Comment.id.in_(fired))
    if flt.since:
        query = query.where(Comment.created_at >= flt.since)
    if flt.until:
        query = query.where(Comment.created_at < flt.until)
    return query


def describe(session: Session, comments: Sequence[Comment]) -> list[dict[str, Any]]:
    """Queue items with check results, flags, parent and author history: a fixed number
    of queries per page, whatever its size."""
    if not comments:
        return []
    ids = [c.id for c in comments]
    results: dict[int, list[CheckResult]] = defaultdict(list)
    for result in session.scalars(select(CheckResult).where(CheckResult.comment_id.in_(ids))
                                  .order_by(CheckResult.check_name)):
        results[result.comment_id].append(result)
    flags: dict[int, list[Flag]] = defaultdict(list)
    for flag in session.scalars(select(Flag).where(Flag.comment_id.in_(ids)).order_by(Flag.id)):
        flags[flag.comment_id].append(flag)
    parent_ids = {c.parent_id for c in comments if c.parent_id}
    parents = {p.id: p for p in session.scalars(select(Comment).where(
        Comment.id.in_(parent_ids)))} if parent_ids else {}
    histories = author_histories(session, {c.author_id for c in comments})
    return [_item(c, results[c.id], flags[c.id], parents.get(c.parent_id or -1),
                  histories[c.author_id]) for c in comments]


def _item(comment: Comment, results: list[CheckResult], flags: list[Flag],
          parent: Comment | None, history: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": comment.id,
        "site": comment.site_id,
        "article": {"key": comment.article.key, "title": comment.article.title,
                    "url": comment.article.url},
        "parent": None if parent is None else {
            "id": parent.id, "author_name": parent.author_name, "body": parent.body,
            "status": str(parent.status)},
        "author_name": comment.author_name,
        "body": comment.body,
        "html": comment.html,
        "status": str(comment.status),
        "status_reason": comment.status_reason,
        "created_at": comment.created_at,
        "decided_at": comment.decided_at,
        "flag_count": comment.flag_count,
        "flagged_at": comment.flagged_at,
        "checks": [{"name": r.check_name, "version": r.check_version, "score": r.score,
                    "label": r.label, "reasons": r.reasons, "may_reject": r.may_reject}
                   for r in results],
        "flags": [{"reason": str(f.reason), "note": f.note, "counted": f.counted,
                   "created_at": f.created_at} for f in flags],
        "author": history,
    }


def author_histories(session: Session, author_ids: set[int]) -> dict[int, dict[str, Any]]:
    if not author_ids:
        return {}
    counts: dict[int, Counter[str]] = defaultdict(Counter)
    for author_id, status, n in session.execute(
        select(Comment.author_id, Comment.status, func.count())
        .where(Comment.author_id.in_(author_ids)).group_by(Comment.author_id, Comment.status)
    ):
        counts[author_id][str(status)] = n
    authors = session.scalars(select(Author).where(Author.id.in_(author_ids)))
    return {a.id: author_document(a, counts[a.id]) for a in authors}


def author_document(author: Author, counts: Counter[str]) -> dict[str, Any]:
    return {
        "id": author.id,
        "site": author.site_id,
        "display_name": author.display_name,
        "trust": str(author.trust),
        "banned_at": author.banned_at,
        "ban_reason": author.ban_reason,
        "suspended_until": author.suspended_until,
        "created_at": author.created_at,
        "comments_by_status": {s.value: counts.get(s.value, 0) for s in CommentStatus},
    }


def get_comment(session: Session, comment_id: int, site_ids: list[str] | None) -> Comment:
    comment = session.get(Comment, comment_id)
    if comment is None or (site_ids is not None and comment.site_id not in site_ids):
        raise NotFound(f"no comment {comment_id}")
    return comment


def decide_comment(session: Session, comment: Comment, action: str, actor: Actor,
                   reason: str | None) -> bool:
    """Apply a moderator's action and store it as a label; repeating it changes nothing.

    An action that confirms the status the checks (or post-moderation) gave is still the
    moderator's decision: audited, with their reason. Either way the checks no longer owe
    the comment a verdict (``_settle``). Reviews clear flags.
    """
    target = ACTIONS[action]
    lock_current(session, comment)  # the status the page showed may be stale
    if comment.status == S.DELETED:
        raise InvalidTransition("a deleted comment cannot be decided")
    previous = comment.status
    reason = reason or f"{action} by moderator"
    flagged = comment.flagged_at is not None
    changed = transition(session, comment, target, actor, reason, {"action": action})
    # The verdict becomes a labelled example in this same transaction (site learning).
    # An unchanged label means this moderator verdict on this text was given before.
    relabelled = record_label(session, comment, action, actor)
    if changed:
        feedback.queue_reports(session, comment, previous, actor)  # sent later, by a task
    elif relabelled or flagged:
        # A review of readers' reports is a decision too, even when this moderator gave
        # the same verdict before: without the entry the flag vanished from the trail.
        _confirm(session, comment, actor, reason, action, flags_reviewed=flagged)
        changed = True
    _settle(comment)
    if flagged:
        comment.flagged_at = None
    # The reports were reviewed: they no longer count, or one more report would put the
    # comment straight back (and, with hide_flagged, hide it again).
    comment.flag_count = 0
    return changed


def _confirm(session: Session, comment: Comment, actor: Actor, reason: str,
             action: str, *, flags_reviewed: bool = False) -> None:
    """Make the current status the moderator's decision. ``transition`` changes nothing
    for a comment already there, but the record must say a human decided: the audit
    entry (from and to the same status), the reason, and a ``comment.reviewed`` event, so
    a subscriber that heard ``comment.flagged`` (a moderation chat, a CMS queue) learns
    that the reports were dealt with."""
    comment.status_reason = reason
    comment.decided_at = utcnow()
    session.add(AuditEntry(site_id=comment.site_id, subject_type="comment",
                           subject_id=str(comment.id), action=f"comment.{comment.status}",
                           from_status=str(comment.status), to_status=str(comment.status),
                           actor_type=actor.type, actor_id=actor.id, reason=reason,
                           details={"action": action, "confirmed": True,
                                    **({"flags_reviewed": True} if flags_reviewed else {})}))
    emit(session, comment.site_id, "comment.reviewed", str(comment.id),
         {**comment_payload(comment),
          "review": {"action": action, "flags_reviewed": flags_reviewed}})


def _settle(comment: Comment) -> None:
    """A moderator's decision ends the comment's wait for the checks.

    The worker decides only comments it claims by flipping ``checked_at`` from NULL, so
    setting it here means no batch, later or running now, can override the moderator
    (a post-moderated comment they confirmed would otherwise still be pulled back). The
    row is locked and read afresh (``lock_current``), so this is written with the rest of
    the comment's changes; an author's edit sets it back to NULL (moderated again).
    """
    if comment.checked_at is None:
        comment.checked_at = utcnow()
        comment.lease_until = None


def bulk_decide(session: Session, ids: list[int], action: str, actor: Actor,
                reason: str | None, site_ids: list[str] | None) -> list[dict[str, Any]]:
    """Each id succeeds or fails on its own (a savepoint each)."""
    if len(ids) > MAX_BULK:
        raise DomainError(f"at most {MAX_BULK} ids at once",
                          fields={"ids": [f"At most {MAX_BULK} ids."]})
    results: list[dict[str, Any]] = []
    lock_comments(session, ids)
    for comment_id in dict.fromkeys(ids):
        try:
            with session.begin_nested():
                comment = get_comment(session, comment_id, site_ids)
                changed = decide_comment(session, comment, action, actor, reason)
            results.append({"id": comment_id, "ok": True, "status": str(comment.status),
                            "changed": changed})
        except DomainError as exc:
            results.append({"id": comment_id, "ok": False,
                            "error": {"code": exc.code, "message": exc.message}})
    return results


def get_author(session: Session, author_id: int, site_ids: list[str] | None) -> Author:
    author = session.get(Author, author_id)
    if author is None or (site_ids is not None and author.site_id not in site_ids):
        raise NotFound(f"no author {author_id}")
    return author


def _audit_author(session: Session, author: Author, action: str, actor: Actor,
                  reason: str | None, details: dict[str, Any] | None = None) -> None:
    session.add(AuditEntry(site_id=author.site_id, subject_type="author",
                           subject_id=str(author.id), action=action, actor_type=actor.type,
                           actor_id=actor.id, reason=reason, details=details or {}))
    emit(session, author.site_id, action, str(author.id), {
        "author": {"id": author.id, "display_name": author.display_name,
                   "trust": str(author.trust), "banned": author.banned_at is not None,
                   "suspended_until": author.suspended_until.isoformat()
                   if author.suspended_until else None},
        "reason": reason, "site": author.site_id})


def ban_author(session: Session, author: Author, actor: Actor, reason: str | None,
               remove_pending: bool) -> int:
    """Ban: later comments are rejected; optionally the waiting ones go now. Returns how
    many waiting comments were rejected."""
    removed = 0
    waiting: list[Comment] = []
    if remove_pending:
        # The comments first, the author row after (its UPDATE below): the order every
        # writer keeps (comment, article, author), or a worker batch holding one of these
        # comments and wanting the author deadlocks with the ban.
        ids = session.scalars(select(Comment.id).where(
            Comment.author_id == author.id, Comment.status.in_([S.PENDING, S.HELD]))
            .order_by(Comment.id).with_for_update()).all()
        if ids:
            waiting = list(session.scalars(select(Comment).where(Comment.id.in_(ids))
                                           .order_by(Comment.id)
                                           .execution_options(populate_existing=True)))
    if author.banned_at is not None and reason is None:
        reason = author.ban_reason  # banned again without a word: the reason given stands
    repeat = author.banned_at is not None and author.ban_reason == reason
    author.banned_at = author.banned_at or utcnow()
    author.ban_reason = reason
    for comment in waiting:
        removed += transition(session, comment, S.REJECTED, actor,
                              f"author banned: {reason or 'no reason given'}")
    if repeat and not removed:
        return 0  # the same ban again changes nothing: no audit entry, no event
    _audit_author(session, author, "author.banned", actor, reason,
                  {"removed_pending": removed})
    return removed


def suspend_author(session: Session, author: Author, actor: Actor, until: datetime,
                   reason: str | None) -> None:
    if until <= utcnow():
        raise InvalidValue("suspend until a time in the future",
                          fields={"until": ["Must be in the future."]})
    until = until.astimezone(UTC)  # stored, audited and announced in UTC, as the API shows it
    if author.suspended_until == until:
        return  # the same suspension again changes nothing (like a repeated decision)
    author.suspended_until = until
    _audit_author(session, author, "author.suspended", actor, reason,
                  {"until": until.isoformat()})


def trust_author(session: Session, author: Author, actor: Actor, reason: str | None) -> None:
    if author.trust == TrustLevel.TRUSTED:
        return  # repeating it changes nothing: no audit entry, no event (like decisions)
    author.trust = TrustLevel.TRUSTED
    _audit_author(session, author, "author.trusted", actor, reason)


def reset_author(session: Session, author: Author, actor: Actor, reason: str | None) -> None:
    standing = TrustLevel.NORMAL if author.approved_count else TrustLevel.NEW
    if (author.banned_at is None and author.suspended_until is None
            and author.trust == standing):
        return  # nothing to lift: no audit entry, no event
    author.banned_at = None
    author.ban_reason = None
    author.suspended_until = None
    author.trust = standing
    _audit_author(session, author, "author.reset", actor, reason)


def audit_page(session: Session, site_ids: list[str] | None, filters: dict[str, Any],
               cursor: str | None, limit: int) -> tuple[list[AuditEntry], str | None]:
    query = select(AuditEntry)
    if site_ids is not None:
        query = query.where(AuditEntry.site_id.in_(site_ids))
    for column in ("subject_type", "subject_id", "actor_type", "actor_id", "action"):
        if filters.get(column):
            query = query.where(getattr(AuditEntry, column) == filters[column])
    if filters.get("since"):
        query = query.where(AuditEntry.created_at >= filters["since"])
    if filters.get("until"):
        query = query.where(AuditEntry.created_at < filters["until"])
    if cursor:
        query = query.where(AuditEntry.id < Cursor.decode(cursor, "newest").after_id)
    entries = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit + 1)))
    has_more = len(entries) > limit
    entries = entries[:limit]
    return entries, (Cursor("newest", entries[-1].id).encode() if has_more else None)


def site_stats(session: Session, site_id: str, days: int) -> dict[str, Any]:
    """Queue sizes now; decisions per day by actor and outcome; median wait in held."""
    sizes = dict.fromkeys(QUEUES, 0)
    for status, n in session.execute(select(Comment.status, func.count())
                                     .where(Comment.site_id == site_id)
                                     .group_by(Comment.status)):
        sizes[str(status)] = n
    sizes["flagged"] = session.scalar(select(func.count()).where(
        Comment.site_id == site_id, Comment.flagged_at.is_not(None),
        Comment.status != S.DELETED)) or 0

    since = utcnow() - timedelta(days=days)
    entries = session.execute(
        select(AuditEntry.subject_id, AuditEntry.from_status, AuditEntry.to_status,
               AuditEntry.actor_type, AuditEntry.created_at)
        .where(AuditEntry.site_id == site_id, AuditEntry.subject_type == "comment",
               AuditEntry.created_at >= since - timedelta(days=30))
        .order_by(AuditEntry.id)
    ).all()
    per_day: dict[date, Counter[str]] = defaultdict(Counter)
    held_since: dict[str, datetime] = {}
    waits: list[float] = []
    for subject, from_status, to_status, actor_type, at in entries:
        if to_status == "held":
            held_since[subject] = at
        elif from_status == "held" and subject in held_since:
            waits.append((at - held_since.pop(subject)).total_seconds())
        if at >= since and to_status in {"approved", "rejected", "spam", "held"} and \
                from_status is not None:
            per_day[at.date()][f"{actor_type}:{to_status}"] += 1
    return {
        "site": site_id,
        "queues": sizes,
        "decisions_per_day": [
            {"day": day.isoformat(), "by_actor_and_outcome": dict(counter)}
            for day, counter in sorted(per_day.items())
        ],
        "held_wait_seconds": {
            "median": statistics.median(waits) if waits else None,
            "count": len(waits),
        },
    }
