"""Outbox events: written in the caller's transaction, delivered later by workers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy import insert
from sqlalchemy.orm import Session

from service.models import Comment, Event, utcnow
from workers.dispatch import enqueue_event_dispatch

# Set by emit(); after the commit a dispatch task wakes the webhook fan-out at once. Best
# effort: the beat sweep fans out whatever a lost send (or a stale flag) leaves behind.
EVENTS_WRITTEN = "warden_events_written"


class CommentFacts(Protocol):
    """What a payload reads of a comment: an ORM ``Comment`` or the submit path's record."""

    @property
    def id(self) -> int: ...
    @property
    def parent_id(self) -> int | None: ...
    @property
    def status(self) -> Any: ...
    @property
    def status_reason(self) -> str | None: ...
    @property
    def author_name(self) -> str: ...
    @property
    def author_id(self) -> int: ...
    @property
    def body(self) -> str: ...
    @property
    def html(self) -> str: ...
    @property
    def created_at(self) -> datetime | None: ...
    @property
    def site_id(self) -> str: ...


class ArticleFacts(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def title(self) -> str | None: ...
    @property
    def approved_count(self) -> int: ...


def comment_payload(comment: Comment) -> dict[str, Any]:
    """What a subscriber needs to act without calling back (ids, status, text, article)."""
    return payload_of(comment, comment.article)


def payload_of(comment: CommentFacts, article: ArticleFacts) -> dict[str, Any]:
    """``comment_payload`` for a comment that is not an ORM object (the submit path)."""
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
            "key": article.key,
            "url": article.url,
            "title": article.title,
            "approved_count": article.approved_count,
        },
        "site": comment.site_id,
    }


def emit(session: Session, site_id: str, event_type: str, subject_id: str,
         payload: dict[str, Any]) -> Event:
    event = Event(
        id=new_event_id(),
        site_id=site_id,
        type=event_type,
        subject_id=subject_id,
        payload={"type": event_type, "timestamp": utcnow().isoformat(), "data": payload},
    )
    session.add(event)
    emitted(session)
    return event


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


INSERT_EVENT = insert(Event.__table__)


def event_row(site_id: str, event_type: str, subject_id: str,
              payload: dict[str, Any]) -> dict[str, Any]:
    """An ``events`` row for the prebuilt ``INSERT_EVENT`` (``emit`` without the unit of
    work, for the submit path); the caller also calls ``emitted``."""
    now = utcnow()
    return {"id": new_event_id(), "site_id": site_id, "type": event_type,
            "subject_id": subject_id,
            "payload": {"type": event_type, "timestamp": now.isoformat(), "data": payload},
            "created_at": now, "dispatched_at": None}


def emitted(session: Session) -> None:
    """Say that this transaction wrote events: its commit wakes the webhook fan-out."""
    session.info[EVENTS_WRITTEN] = True


@sa_event.listens_for(Session, "after_commit")
def _wake_webhook_dispatch(session: Session) -> None:
    if session.in_nested_transaction() or not session.info.pop(EVENTS_WRITTEN, False):
        return  # a savepoint is not the commit that makes the events visible
    enqueue_event_dispatch()
