"""Webhook tasks: thin routing onto service.domain.webhooks; each receives ids only.

``dispatch_events`` fans new outbox events out into deliveries; ``deliver_webhook`` makes
one try of one delivery (claimed in the database, so duplicates are harmless);
``sweep_webhooks`` (beat) fans out what a lost dispatch left behind and sends deliveries
that are due: retries whose time has come and tries whose task was lost.
"""

from __future__ import annotations

import logging

from celery import shared_task
from flask import current_app
from sqlalchemy.exc import OperationalError

from service.domain.webhooks.deliveries import DeliveryPolicy, deliver, due_for_enqueue, fan_out
from service.domain.webhooks.signing import SecretBox
from service.extensions import db
from workers.dispatch import DELIVER_WEBHOOK_TASK, DISPATCH_EVENTS_TASK, enqueue_delivery

log = logging.getLogger("warden.webhooks")


def _policy() -> DeliveryPolicy:
    return DeliveryPolicy.from_settings(current_app.config["WARDEN"])


@shared_task(name=DISPATCH_EVENTS_TASK, acks_late=True, reject_on_worker_lost=True,
             ignore_result=True, autoretry_for=(OperationalError,), retry_backoff=1,
             retry_backoff_max=30, max_retries=5)
def dispatch_events() -> int:
    """Create deliveries for new events and send them at once."""
    ids = fan_out(db.session)
    for delivery_id in ids:
        enqueue_delivery(delivery_id)
    return len(ids)


@shared_task(name=DELIVER_WEBHOOK_TASK, acks_late=True, reject_on_worker_lost=True,
             ignore_result=True, autoretry_for=(OperationalError,), retry_backoff=1,
             retry_backoff_max=30, max_retries=5)
def deliver_webhook(delivery_id: int) -> bool | None:
    """One try; the delivery row, not this task, says whether another is due and when."""
    settings = current_app.config["WARDEN"]
    outcome = deliver(db.session, delivery_id, _policy(), SecretBox(settings.secret_key))
    return None if outcome is None else outcome.succeeded


@shared_task(name="warden.sweep_webhooks", ignore_result=True)
def sweep_webhooks() -> int:
    """Fan out left-behind events, then send every due delivery not sent recently."""
    policy = _policy()
    ids = fan_out(db.session) + due_for_enqueue(db.session, policy)
    sent = sum(enqueue_delivery(delivery_id) for delivery_id in ids)
    if ids:
        log.info("webhook sweep sent %d of %d due deliveries", sent, len(ids))
    return sent
