"""Beat jobs: find work the broker lost (restarts, killed workers) and send it again."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy import or_, select, update

from service.extensions import db
from service.models import Comment, CommentStatus, utcnow
from workers.dispatch import enqueue_moderation

log = logging.getLogger("warden.sweeps")

SWEEP_BATCH = 500


@shared_task(name="warden.sweep_moderation", ignore_result=True)
def sweep_moderation() -> int:
    """Re-enqueue comments whose checks have not finished within the stale window."""
    settings = current_app.config["WARDEN"]
    cutoff = utcnow() - timedelta(seconds=settings.moderation_stale_seconds)
    ids = list(db.session.scalars(
        select(Comment.id)
        .where(Comment.checked_at.is_(None), Comment.status != CommentStatus.DELETED,
               or_(Comment.enqueued_at.is_(None), Comment.enqueued_at < cutoff))
        .order_by(Comment.id)
        .limit(SWEEP_BATCH)
    ))
    if not ids:
        return 0
    db.session.execute(update(Comment).where(Comment.id.in_(ids)).values(enqueued_at=utcnow()))
    db.session.commit()
    sent = sum(enqueue_moderation(comment_id) for comment_id in ids)
    log.info("sweep re-enqueued %d of %d stale comments", sent, len(ids))
    return sent


@shared_task(name="warden.forget_addresses", ignore_result=True)
def forget_addresses() -> int:
    """Drop hashed addresses and user agents past the retention period (privacy)."""
    settings = current_app.config["WARDEN"]
    cutoff = utcnow() - timedelta(days=settings.ip_retention_days)
    forgotten = db.session.execute(
        update(Comment)
        .where(Comment.created_at < cutoff,
               or_(Comment.ip_hash.is_not(None), Comment.user_agent.is_not(None)))
        .values(ip_hash=None, user_agent=None)
    ).rowcount
    db.session.commit()
    if forgotten:
        log.info("forgot the address of %d comments older than %d days", forgotten,
                 settings.ip_retention_days)
    return forgotten
