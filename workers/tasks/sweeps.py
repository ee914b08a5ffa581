"""Beat jobs: find work the broker lost (restarts, killed workers) and send it again, and
forget what is kept only for a while (addresses, finished delivery history)."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy import String, and_, case, cast, delete, exists, func, literal, or_, select, update

from service.extensions import db
from service.models import (
    Comment,
    CommentStatus,
    Delivery,
    DeliveryStatus,
    Event,
    Flag,
    ProviderReport,
    ReportStatus,
    Site,
    utcnow,
)
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
    # Reports keep theirs as long: the column, and the key of a report made without a token
    # (its reporter is the hashed address; a key unique to the row takes its place).
    reports = db.session.execute(
        update(Flag)
        .where(Flag.created_at < cutoff,
               or_(Flag.ip_hash.is_not(None), Flag.reporter.startswith("ip:")))
        .values(ip_hash=None, reporter=case(
            (Flag.reporter.startswith("ip:"), literal("erased:") + cast(Flag.id, String)),
            else_=Flag.reporter))
    ).rowcount
    db.session.commit()
    if forgotten or reports:
        log.info("forgot the address of %d comments and %d reports older than %d days",
                 forgotten, reports, settings.ip_retention_days)
    return forgotten + reports


# Rows deleted per transaction, and transactions per run: a backlog (the first run on an
# old database) drains over several hourly runs without holding locks for long.
PRUNE_CHUNK = 1000
PRUNE_MAX_CHUNKS = 50


@shared_task(name="warden.prune_history", ignore_result=True)
def prune_history() -> dict[str, int]:
    """Delete finished history older than WARDEN_HISTORY_RETENTION_DAYS.

    Dispatched events whose webhook deliveries have all finished and were last tried before
    the cutoff go, with those deliveries and their attempts (``ON DELETE CASCADE``), and so
    do finished reports to remote providers. Pending work (an undispatched event, a
    delivery or report still being tried) is never touched, whatever its age; the audit
    trail is kept.
    """
    settings = current_app.config["WARDEN"]
    cutoff = utcnow() - timedelta(days=settings.history_retention_days)
    counts = {"events": 0, "deliveries": 0, "provider_reports": 0}
    chunks = 0
    # Per site: the (site_id, created_at) index finds a site's old events.
    for site_id in db.session.scalars(select(Site.id).order_by(Site.id)).all():
        while chunks < PRUNE_MAX_CHUNKS:
            chunks += 1
            deleted, deliveries = _prune_events(site_id, cutoff)
            counts["events"] += deleted
            counts["deliveries"] += deliveries
            if deleted < PRUNE_CHUNK:
                break
    while chunks < PRUNE_MAX_CHUNKS:
        chunks += 1
        ids = db.session.scalars(
            select(ProviderReport.id).where(ProviderReport.status != ReportStatus.PENDING,
                                            ProviderReport.created_at < cutoff)
            .order_by(ProviderReport.id).limit(PRUNE_CHUNK)).all()
        if ids:
            db.session.execute(delete(ProviderReport).where(ProviderReport.id.in_(ids)))
            db.session.commit()
        counts["provider_reports"] += len(ids)
        if len(ids) < PRUNE_CHUNK:
            break
    db.session.commit()
    if any(counts.values()):
        log.info("pruned history older than %d days: %s", settings.history_retention_days,
                 counts)
    return counts


def _prune_events(site_id: str, cutoff: object) -> tuple[int, int]:
    """One chunk of a site's old dispatched events; (events, deliveries) deleted.

    Deliveries go first, each only if finished and last tried before the cutoff: a DELETE
    re-checks its conditions on a row another transaction has just changed, so one an admin
    redelivers meanwhile stays. Then the events left without any delivery go.
    """
    done = and_(Delivery.status != DeliveryStatus.PENDING,
                func.coalesce(Delivery.last_attempt_at, Delivery.created_at) < cutoff)
    ids = db.session.scalars(
        select(Event.id).where(Event.site_id == site_id, Event.created_at < cutoff,
                               Event.dispatched_at.is_not(None),
                               ~exists().where(Delivery.event_id == Event.id, ~done))
        .order_by(Event.created_at).limit(PRUNE_CHUNK)).all()
    if not ids:
        db.session.rollback()
        return 0, 0
    deliveries = db.session.execute(
        delete(Delivery).where(Delivery.event_id.in_(ids), done)).rowcount
    events = db.session.execute(
        delete(Event).where(Event.id.in_(ids),
                            ~exists().where(Delivery.event_id == Event.id))).rowcount
    db.session.commit()
    return int(events or 0), int(deliveries or 0)
