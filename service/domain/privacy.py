"""An author's data: export everything we hold, or erase it (audited).

Erasing keeps the thread readable: comments become "deleted" placeholders (replies still
hang from them) or, for comments nobody replied to, can be removed outright. Counts move
through ``transition`` like any other change.
"""

from __future__ import annotations

import copy
import secrets
from typing import Any

from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from service.domain.events import emit
from service.domain.labels import erase_labels, labels_of_author
from service.domain.lifecycle import Actor, transition
from service.domain.security import token_digest
from service.models import (
    AuditEntry,
    Author,
    CheckResult,
    Comment,
    CommentStatus,
    Delivery,
    DeliveryAttempt,
    Event,
    Flag,
    IdWatermark,
)

ERASED_NAME = "[erased]"
ERASED_REASON = "author data erased"


def export_author(session: Session, author: Author) -> dict[str, Any]:
    comments = session.scalars(select(Comment).where(Comment.author_id == author.id)
                               .order_by(Comment.id)).all()
    reporter = f"author:{author.token_hash[:32]}"
    flags = session.scalars(select(Flag).where(Flag.reporter == reporter)).all()
    return {
        "author": {
            "id": author.id, "site": author.site_id, "display_name": author.display_name,
            "email_hash": author.email_hash, "trust": str(author.trust),
            "banned_at": author.banned_at, "ban_reason": author.ban_reason,
            "suspended_until": author.suspended_until, "created_at": author.created_at,
        },
        "comments": [{
            "id": c.id, "article": c.article.key, "parent_id": c.parent_id, "body": c.body,
            "author_name": c.author_name, "status": str(c.status), "created_at": c.created_at,
            "updated_at": c.updated_at, "ip_hash": c.ip_hash, "ip_address": c.ip_address,
            "user_agent": c.user_agent, "referrer": c.referrer,
        } for c in comments],
        "flags_made": [{"comment_id": f.comment_id, "reason": str(f.reason), "note": f.note,
                        "created_at": f.created_at} for f in flags],
        # Moderators' verdicts on the author's text, kept to train the site's spam model.
        "moderation_labels": [{"comment_id": label.comment_id, "label": str(label.label),
                               "text": label.text, "created_at": label.created_at}
                              for label in labels_of_author(session, author.id)],
    }


def erase_author(session: Session, author: Author, actor: Actor, *,
                 remove_unreplied: bool) -> dict[str, Any]:
    """Erase personal data; return how many comments became placeholders or were removed.

    Erasing again what is erased already changes nothing, so it is neither audited nor
    announced (``changed`` false); with ``remove_unreplied`` it may still remove the
    placeholders a first erasure kept.
    """
    reply = aliased(Comment)
    placeholders = removed = 0
    changed = False
    # Labelled examples hold a copy of the text: they go first (training never sees them
    # again; the next model of the site is fitted without them).
    labels = erase_labels(session, author.id)
    comments = session.scalars(select(Comment).where(Comment.author_id == author.id)
                               .order_by(Comment.id).with_for_update()).all()
    ids = [c.id for c in comments]
    if remove_unreplied and comments:
        raise_comment_watermark(session, ids[-1])
    # Check reasons quote words of the text ("words: ..."): they go with it.
    session.execute(delete(CheckResult).where(CheckResult.comment_id.in_(ids)))
    erased_fields = {"body": "", "html": "", "author_name": ERASED_NAME, "ip_hash": None,
                     "ip_address": None, "user_agent": None, "referrer": None,
                     "client_signals": {}}
    for comment in comments:
        changed = changed or comment.status != CommentStatus.DELETED or any(
            getattr(comment, name) != value for name, value in erased_fields.items())
        # Erased before the transition: its comment.deleted event must not carry the text
        # and the name out again.
        comment.body = ""
        comment.html = ""
        comment.author_name = ERASED_NAME
        comment.ip_hash = None
        comment.ip_address = None
        comment.user_agent = None
        comment.referrer = None
        comment.client_signals = {}
        if comment.status != CommentStatus.DELETED:
            transition(session, comment, CommentStatus.DELETED, actor, ERASED_REASON)
        has_replies = session.scalar(select(exists().where(reply.parent_id == comment.id)))
        if remove_unreplied and not has_replies:
            if comment.deleted_from in (CommentStatus.REJECTED, CommentStatus.SPAM):
                # A deletion keeps a rejection in the author's tally (lifecycle), because
                # the row keeps it too; with the row gone, so goes the rejection.
                session.execute(update(Author).where(Author.id == author.id)
                                .values(rejected_count=Author.rejected_count - 1)
                                .execution_options(synchronize_session=False))
                session.expire(author, ["rejected_count"])
            session.delete(comment)
            removed += 1
            continue
        placeholders += 1
    flags = session.execute(
        delete(Flag).where(Flag.reporter == f"author:{author.token_hash[:32]}")).rowcount
    # Other readers' report notes on these comments may quote them.
    notes = session.execute(
        update(Flag).where(Flag.comment_id.in_(ids), Flag.note.is_not(None))
        .values(note=None).execution_options(synchronize_session=False)).rowcount
    scrubbed = scrub_events(session, author, ids)
    reasons = scrub_audit_reasons(session, author, ids)
    counts = {"placeholders": placeholders, "removed": removed, "labels": labels,
              "events_scrubbed": scrubbed}
    changed = changed or bool(removed or labels or scrubbed or flags or notes or reasons) or (
        author.display_name != ERASED_NAME or author.email_hash is not None
        or author.ban_reason not in (None, ERASED_NAME))
    if not changed:
        return {**counts, "changed": False}
    author.display_name = ERASED_NAME
    author.email_hash = None
    author.ban_reason = None if author.ban_reason is None else ERASED_NAME
    # The old token must stop working; nobody knows the new one.
    author.token_hash = token_digest(secrets.token_urlsafe(32))
    session.add(AuditEntry(site_id=author.site_id, subject_type="author",
                           subject_id=str(author.id), action="author.erased",
                           actor_type=actor.type, actor_id=actor.id, details=counts))
    emit(session, author.site_id, "author.erased", str(author.id),
         {"author": {"id": author.id}, "site": author.site_id, **counts})
    return {**counts, "changed": True}


def scrub_events(session: Session, author: Author, comment_ids: list[int]) -> int:
    """Erase the author's text and name from the webhook outbox: events kept for
    redelivery and shown in the delivery log (until WARDEN_HISTORY_RETENTION_DAYS) held
    copies. What a subscriber received already is theirs to erase; ``author.erased`` tells
    them to."""
    about_comments = and_(Event.type.startswith("comment."),
                          Event.subject_id.in_([str(i) for i in comment_ids]))
    about_author = and_(Event.type.startswith("author."), Event.subject_id == str(author.id))
    scrubbed = 0
    about = and_(Event.site_id == author.site_id, or_(about_comments, about_author))
    # A receiver's answer, kept in the delivery log, may echo the payload back.
    session.execute(update(DeliveryAttempt).where(
        DeliveryAttempt.response_body.is_not(None),
        DeliveryAttempt.delivery_id.in_(select(Delivery.id).where(
            Delivery.event_id.in_(select(Event.id).where(about))))
    ).values(response_body=None).execution_options(synchronize_session=False))
    for event in session.scalars(select(Event).where(about)):
        payload = copy.deepcopy(event.payload)
        data = payload.get("data") or {}
        if isinstance(data.get("comment"), dict):
            data["comment"].update(body="", html="", author_name=ERASED_NAME)
            if data["comment"].get("status_reason") not in (None, ERASED_REASON):
                # The checks' reasons quote words of the text ("words: ...").
                data["comment"]["status_reason"] = ERASED_NAME
        if isinstance(data.get("author"), dict) and "display_name" in data["author"]:
            data["author"]["display_name"] = ERASED_NAME
        if event.type.startswith("author.") and data.get("reason") is not None:
            data["reason"] = ERASED_NAME  # a moderator's words about the person
        if payload != event.payload:
            event.payload = payload
            scrubbed += 1
    return scrubbed


def scrub_audit_reasons(session: Session, author: Author, comment_ids: list[int]) -> int:
    """Erase the free-text reasons of the audit entries about the author and their comments.

    The checks' reasons quote words of the text ("words: ...", "links to x.example") and a
    moderator's reason may quote it or name the person. The trail itself stays (who changed
    what, from which status to which, when): only the words go.
    """
    about = or_(and_(AuditEntry.subject_type == "comment",
                     AuditEntry.subject_id.in_([str(i) for i in comment_ids])),
                and_(AuditEntry.subject_type == "author",
                     AuditEntry.subject_id == str(author.id)))
    return session.execute(
        update(AuditEntry).where(AuditEntry.site_id == author.site_id, about,
                                 AuditEntry.reason.is_not(None),
                                 AuditEntry.reason.not_in([ERASED_NAME, ERASED_REASON]))
        .values(reason=ERASED_NAME).execution_options(synchronize_session=False)
    ).rowcount


def raise_comment_watermark(session: Session, comment_id: int) -> None:
    """Before comments are deleted on SQLite: keep their ids from being handed out again
    (``IdWatermark``). PostgreSQL's sequence never goes back."""
    if session.get_bind().dialect.name != "sqlite":
        return
    mark = session.get(IdWatermark, "comments")
    if mark is None:
        session.add(IdWatermark(name="comments", value=comment_id))
    elif mark.value < comment_id:
        mark.value = comment_id
