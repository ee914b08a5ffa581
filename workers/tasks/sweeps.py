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
MAX_RESEND_SPACING = timedelta(hours=1)


@shared_task(name="warden.sweep_moderation", ignore_result=True)
def sweep_moderation() -> int:
    """Re-enqueue comments whose checks have not finished within the stale window.

    Re-sends are spaced out as a comment ages (half its age, at most an hour apart): when a
    backlog takes longer than the stale window to drain, it is not sent again in full every
    window, yet a message lost to a broker restart is still re-sent within seconds.
    """
    settings = current_app.config["WARDEN"]
    now = utcnow()
    stale = timedelta(seconds=settings.moderation_stale_seconds)
    rows = db.session.execute(
        select(Comment.id, Comment.created_at)
        .where(Comment.checked_at.is_(None), Comment.status != CommentStatus.DELETED,
               or_(Comment.enqueued_at.is_(None), Comment.enqueued_at < now - stale))
        .order_by(Comment.id)
        .limit(SWEEP_BATCH)
    ).all()
    if not rows:
        return 0
    # enqueued_at is "sent at" pushed forward by the extra spacing; the filter above adds
    # the stale window, so the next re-send comes max(stale, age / 2) after this one.
    db.session.execute(update(Comment), [
        {"id": row.id, "enqueued_at": now + _extra_spacing(now - row.created_at, stale)}
        for row in rows
    ])
    db.session.commit()
    sent = sum(enqueue_moderation(row.id) for row in rows)
    log.info("sweep re-enqueued %d of %d stale comments", sent, len(rows))
    return sent


def _extra_spacing(age: timedelta, stale: timedelta) -> timedelta:
    return min(max(age / 2 - stale, timedelta(0)), MAX_RESEND_SPACING - stale)


@shared_task(name="warden.forget_addresses", ignore_result=True)
def forget_addresses() -> int:
    """Drop addresses (hashed and plain), user agents and referrers past the retention
    period."""
    settings = current_app.config["WARDEN"]
    cutoff = utcnow() - timedelta(days=settings.ip_retention_days)
    forgotten = db.session.execute(
        update(Comment)
        .where(Comment.created_at < cutoff,
               or_(Comment.ip_hash.is_not(None), Comment.ip_address.is_not(None),
                   Comment.user_agent.is_not(None), Comment.referrer.is_not(None)))
        .values(ip_hash=None, ip_address=None, user_agent=None, referrer=None)
    ).rowcount
    db.session.commit()
    if forgotten:
        log.info("forgot the address of %d comments older than %d days", forgotten,
                 settings.ip_retention_days)
    return forgotten
