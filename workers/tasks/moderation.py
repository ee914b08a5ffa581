"""moderate_comment(comment_id): decide it once, and drain the backlog while at it."""

from __future__ import annotations

import time
from datetime import timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import OperationalError

from config import Settings
from service.extensions import db
from workers.dispatch import enqueue_moderation
from workers.pipeline import moderate_batch

# One task keeps draining full batches this long, then hands over to a fresh message: a deep
# backlog does not wait for more wake-ups, and a warm shutdown (SIGTERM) waits at most this
# long for the running task; the hand-over message stays in the broker for the next worker.
DRAIN_SECONDS = 2.0
# With a remote provider on, a batch waits for its calls (8 at a time, up to two time-outs
# each); small batches keep that wait well inside the lease.
REMOTE_BATCH_SIZE = 16


def batch_size_for(settings: Settings) -> int:
    if settings.akismet_enabled or settings.perspective_enabled:
        return min(settings.moderation_batch_size, REMOTE_BATCH_SIZE)
    return settings.moderation_batch_size


@shared_task(name="warden.moderate_comment", bind=True, acks_late=True,
             reject_on_worker_lost=True, ignore_result=True,
             autoretry_for=(OperationalError,), retry_backoff=1, retry_backoff_max=30,
             max_retries=5)
def moderate_comment(self: object, comment_id: int) -> str | None:
    """Database hiccups retry with short backoff; anything left over the sweep picks up."""
    settings = current_app.config["WARDEN"]
    batch_size = batch_size_for(settings)
    options = {"max_attempts": settings.moderation_max_attempts, "batch_size": batch_size,
               "lease": timedelta(seconds=settings.moderation_stale_seconds)}
    deadline = time.monotonic() + DRAIN_SECONDS
    decided = moderate_batch(db.session, comment_id, **options)
    own = decided.get(comment_id)
    while len(decided) >= batch_size and time.monotonic() < deadline:
        decided = moderate_batch(db.session, None, **options)
    if len(decided) >= batch_size:
        enqueue_moderation(comment_id)  # decided by now: the next task only drains
    return str(own.status) if own else None
