"""moderate_comment(comment_id): run the checks and decide, once (with any waiting others)."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import OperationalError

from service.extensions import db
from workers.pipeline import moderate


@shared_task(name="warden.moderate_comment", bind=True, acks_late=True,
             reject_on_worker_lost=True, ignore_result=True,
             autoretry_for=(OperationalError,), retry_backoff=1, retry_backoff_max=30,
             max_retries=5)
def moderate_comment(self: object, comment_id: int) -> str | None:
    """Database hiccups retry with short backoff; anything left over the sweep picks up."""
    settings = current_app.config["WARDEN"]
    decision = moderate(db.session, comment_id, max_attempts=settings.moderation_max_attempts,
                        batch_size=settings.moderation_batch_size,
                        lease=timedelta(seconds=settings.moderation_stale_seconds))
    return str(decision.status) if decision else None
