"""Outbox events: written in the caller's transaction, delivered later by workers."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from service.models import Comment, Event, utcnow
from workers.dispatch import enqueue_event_dispatch

# Set by emit(); after the commit a dispatch task wakes the webhook fan-out at once. Best
# effort: the beat sweep fans out whatever a lost send (or a stale flag) leaves behind.
EVENTS_WRITTEN = "warden_events_written"


def comment_payload(comment: Comment) -> dict[str, Any]:
    """What a subscriber needs to act without calling back (ids, status, text, article)."""
    return {
        "comment": {
            "id": comment.id,
            "parent_id": comment.parent_id,
            "status": str(comment.status),
            "status_reason": comment.status_reason,
            "author_name": comment.author_name,
            "author_id": comment.author_id,
            "body": comment.body,
            "html": comment.html,
            "created_at": comment.created_at.isoformat() if comment.created_at else None,
        },
        "article": {
            "key": comment.article.key,
            "url": comment.article.url,
            "title": comment.article.title,
            "approved_count": comment.article.approved_count,
        },
        "site": comment.site_id,
    }


def emit(session: Session, site_id: str, event_type: str, subject_id: str,
         payload: dict[str, Any]) -> Event:
    event = Event(
        id=f"evt_{uuid.uuid4().hex}",
        site_id=site_id,
        type=event_type,
        subject_id=subject_id,
        payload={"type": event_type, "timestamp": utcnow().isoformat(), "data": payload},
    )
    session.add(event)
    session.info[EVENTS_WRITTEN] = True
    return event


@sa_event.listens_for(Session, "after_commit")
def _wake_webhook_dispatch(session: Session) -> None:
    if session.in_nested_transaction() or not session.info.pop(EVENTS_WRITTEN, False):
        return  # a savepoint is not the commit that makes the events visible
    enqueue_event_dispatch()
