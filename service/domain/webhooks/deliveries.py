"""Deliveries: from outbox events to signed tries, recorded and retried from the database.

- ``fan_out`` turns undispatched events into one pending delivery per matching endpoint
  (the event is marked dispatched in the same transaction, so it is fanned out once).
- ``deliver`` claims a due delivery (``UPDATE ... WHERE`` unclaimed or claim expired),
  sends it with no transaction open, and records the outcome under that claim: a
  duplicate task finds nothing to claim, and a killed worker's claim simply expires.
- ``due_for_enqueue`` is what the beat sweep sends: due retries, and deliveries whose
  task was lost (broker down, worker killed) once the last send is a claim-time old, and
  half as old as the delivery has been due (a copy may still be queued behind a backlog).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from service.domain.claims import claim_due
from service.domain.events import emit
from service.domain.webhooks import catalog
from service.domain.webhooks.retry import next_delay
from service.domain.webhooks.sender import Limits, Message, Outcome, send
from service.domain.webhooks.signing import (
    SecretBox,
    SecretUnreadable,
    render_body,
    signed_headers,
)
from service.models import (
    AuditEntry,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    WebhookEndpoint,
    utcnow,
)

if TYPE_CHECKING:
    from config import Settings

log = logging.getLogger("warden.webhooks")

FAN_OUT_BATCH = 200
SWEEP_BATCH = 500
# A claim outlasts the request's time limit by this much (the result still has to be saved).
CLAIM_MARGIN = timedelta(seconds=10)

Sender = Callable[[Message, Limits], Outcome]


@dataclass(frozen=True)
class DeliveryPolicy:
    """How tries are made and retried; built from the settings."""

    schedule: tuple[float, ...]
    limits: Limits
    disable_after: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            schedule=settings.webhook_retry_delays,
            limits=Limits(timeout_seconds=settings.webhook_timeout_seconds,
                          max_response_bytes=settings.webhook_max_response_bytes,
                          allow_private=settings.webhook_allow_private),
            disable_after=timedelta(hours=settings.webhook_disable_after_hours),
        )

    @property
    def claim_ttl(self) -> timedelta:
        return timedelta(seconds=self.limits.timeout_seconds) + CLAIM_MARGIN


def fan_out(session: Session, *, limit: int = FAN_OUT_BATCH) -> list[int]:
    """Create deliveries for undispatched events; return the new delivery ids (committed)."""
    now = utcnow()
    events = session.execute(
        select(Event.id, Event.site_id, Event.type, Event.subject_id)
        .where(Event.dispatched_at.is_(None))
        .order_by(Event.created_at, Event.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL: concurrent sweeps take other rows
    ).all()
    if not events:
        session.commit()
        return []
    endpoints = _endpoints(session, {event.site_id for event in events})
    created, missed = [], []
    for event in events:
        for endpoint in endpoints.get(event.site_id, []):
            if not catalog.matches(endpoint.event_types, event.type):
                continue
            if endpoint.enabled:
                created.append(Delivery(endpoint_id=endpoint.id, event_id=event.id,
                                        status=DeliveryStatus.PENDING, tries=0,
                                        next_attempt_at=now, enqueued_at=now))
            elif not (event.type == catalog.DISABLED and event.subject_id == str(endpoint.id)):
                # Not sent, but recorded: "redeliver failed" after re-enabling it sends
                # what it missed (its own disabling is announced to the others only).
                missed.append(Delivery(endpoint_id=endpoint.id, event_id=event.id,
                                       status=DeliveryStatus.FAILED, tries=0,
                                       last_error="endpoint disabled when the event came"))
    session.add_all(created + missed)
    session.execute(update(Event)
                    .where(Event.id.in_([event.id for event in events]),
                           Event.dispatched_at.is_(None))
                    .values(dispatched_at=now))
    session.commit()
    return [delivery.id for delivery in created]


def _endpoints(session: Session, site_ids: set[str]) -> dict[str, list[WebhookEndpoint]]:
    by_site: dict[str, list[WebhookEndpoint]] = {}
    for endpoint in session.scalars(select(WebhookEndpoint).where(
            WebhookEndpoint.site_id.in_(site_ids))):
        by_site.setdefault(endpoint.site_id, []).append(endpoint)
    return by_site


def due_for_enqueue(session: Session, policy: DeliveryPolicy, *,
                    limit: int = SWEEP_BATCH) -> list[int]:
    """Due, unclaimed deliveries with no recent send; marked as sent now (committed).

    "Recent" grows with the time a delivery has been due: its last copy may still wait in
    the queue behind a backlog (a slow subscriber, a restarted worker), and a copy every
    ``claim_ttl`` piled up (1,852 queued messages for 178 deliveries, each one a claim
    UPDATE when it comes). So another copy goes once the last is older than ``claim_ttl``
    and than half the time the delivery has been due: copies at 20 s, 40 s, 80 s, ...
    into a backlog, and a lost message is still sent again within about its age.
    """
    now = utcnow()
    resend_before = now - policy.claim_ttl
    rows = session.execute(
        select(Delivery.id, Delivery.next_attempt_at, Delivery.enqueued_at)
        .where(Delivery.next_attempt_at <= now, Delivery.status == DeliveryStatus.PENDING,
               or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
               or_(Delivery.enqueued_at.is_(None), Delivery.enqueued_at < resend_before))
        # Never sent, then the longest ago sent: the ones most likely to need a copy come
        # first, so a backlog of recently sent ones cannot hide them past the limit.
        .order_by(Delivery.enqueued_at.is_not(None), Delivery.enqueued_at,
                  Delivery.next_attempt_at)
        .limit(limit * 4)
    ).all()
    ids = [row.id for row in rows
           if row.enqueued_at is None
           or now - row.enqueued_at >= (now - row.next_attempt_at) / 2][:limit]
    if ids:
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(enqueued_at=now))
    session.commit()
    return ids


def claim(session: Session, delivery_id: int, policy: DeliveryPolicy) -> str | None:
    """Take a due delivery for one try; None if it is done, not due, or someone has it."""
    return claim_due(session, Delivery, delivery_id, DeliveryStatus.PENDING, policy.claim_ttl)


def active_secrets(endpoint: WebhookEndpoint, box: SecretBox, now: datetime) -> list[str]:
    """The current secret, then the previous one while its rotation overlap lasts."""
    secrets = [box.open(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and expires > now:
        secrets.append(box.open(endpoint.previous_secret_encrypted))
    return secrets


def deliver(session: Session, delivery_id: int, policy: DeliveryPolicy, box: SecretBox,
            sender: Sender = send) -> Outcome | None:
    """Make one try if the delivery is due and unclaimed; None if there was nothing to do."""
    token = claim(session, delivery_id, policy)
    if token is None:
        return None
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:  # deleted with its endpoint meanwhile
        session.commit()
        return None
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        _give_up(session, delivery_id, token, f"endpoint disabled: {endpoint.disabled_reason}")
        return None
    started = utcnow()
    try:
        secrets = active_secrets(endpoint, box, started)
    except SecretUnreadable as exc:
        outcome = Outcome(False, 0, error=str(exc))
    else:
        body = render_body(delivery.event_id, delivery.event.payload)
        message = Message(endpoint.url, body,
                          signed_headers(secrets, delivery.event_id, body, started))
        session.commit()  # no transaction (nor SQLite write lock) held during the request
        outcome = sender(message, policy.limits)
    record(session, delivery_id, token, outcome, policy, started)
    return outcome


def record(session: Session, delivery_id: int, token: str, outcome: Outcome,
           policy: DeliveryPolicy, started: datetime) -> None:
    """Log the try; move the delivery on (done, next try, failed) if the claim still holds."""
    now = utcnow()
    delivery = session.get(Delivery, delivery_id)
    if delivery is None:  # deleted with its endpoint while the request was out
        session.rollback()
        return
    session.add(DeliveryAttempt(
        delivery_id=delivery_id, attempted_at=started, succeeded=outcome.succeeded,
        status_code=outcome.status_code, duration_ms=outcome.duration_ms,
        error=_clip(outcome.error), response_body=outcome.response_body,
        remote_address=outcome.remote_address))
    tries = delivery.tries + 1
    values: dict[str, Any] = {
        "tries": tries, "last_attempt_at": started, "last_status_code": outcome.status_code,
        "last_error": _clip(outcome.error), "claimed_until": None, "claim_token": None,
        "enqueued_at": None,
    }
    delay = None if outcome.succeeded or outcome.gone else next_delay(policy.schedule, tries)
    if outcome.succeeded:
        values.update(status=DeliveryStatus.SUCCEEDED, succeeded_at=now, next_attempt_at=None)
    elif delay is not None:
        values.update(status=DeliveryStatus.PENDING, next_attempt_at=now + timedelta(seconds=delay))
    else:
        values.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    updated = session.execute(
        update(Delivery).where(Delivery.id == delivery_id, Delivery.claim_token == token)
        .values(**values)
    ).rowcount
    if updated != 1:
        log.warning("webhook delivery %s: claim expired before the result was saved; "
                    "the try is logged, the next claim decides", delivery_id)
        session.commit()
        return
    _update_health(session, delivery.endpoint_id, outcome, policy, now)
    session.commit()
    log.info("webhook delivery %s try %d: %s", delivery_id, tries,
             "delivered" if outcome.succeeded else (outcome.error or "failed"))


def _update_health(session: Session, endpoint_id: int, outcome: Outcome,
                   policy: DeliveryPolicy, now: datetime) -> None:
    """Track the current run of failures; disable on 410 or after failing too long."""
    this = WebhookEndpoint.id == endpoint_id
    if outcome.succeeded:
        session.execute(update(WebhookEndpoint).where(this)
                        .values(failing_since=None, last_success_at=now))
        return
    session.execute(update(WebhookEndpoint).where(this).values(last_failure_at=now))
    session.execute(update(WebhookEndpoint).where(this, WebhookEndpoint.failing_since.is_(None))
                    .values(failing_since=now))
    if outcome.gone:
        disable_endpoint(session, endpoint_id, outcome.error or "410 Gone", announce=True)
        return
    failing_since = session.scalar(select(WebhookEndpoint.failing_since).where(this))
    if failing_since is not None and now - failing_since >= policy.disable_after:
        hours = (now - failing_since).total_seconds() / 3600
        disable_endpoint(
            session, endpoint_id,
            f"every try failed for {hours:.1f} hours (since {failing_since:%Y-%m-%d %H:%M} "
            f"UTC); last error: {outcome.error}", announce=True)


def disable_endpoint(session: Session, endpoint_id: int, reason: str, *, announce: bool,
                     actor: tuple[str, str] = ("system", "webhooks")) -> bool:
    """Disable the endpoint and fail its pending deliveries (redeliverable later).

    ``announce`` also writes a ``webhook.disabled`` event for the site's other endpoints.
    """
    now = utcnow()
    reason = _clip(reason) or "disabled"
    # Conditional, so two workers that see the same failure disable (and announce) once.
    disabled = session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.enabled.is_(True))
        .values(enabled=False, disabled_at=now, disabled_reason=reason)
    ).rowcount
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if disabled != 1 or endpoint is None:
        return False
    session.execute(update(Delivery)
                    .where(Delivery.endpoint_id == endpoint_id,
                           Delivery.status == DeliveryStatus.PENDING)
                    .values(status=DeliveryStatus.FAILED, next_attempt_at=None,
                            last_error=_clip(f"endpoint disabled: {reason}")))
    session.add(AuditEntry(site_id=endpoint.site_id, subject_type="webhook",
                           subject_id=str(endpoint_id), action="webhook.disabled",
                           actor_type=actor[0], actor_id=actor[1], reason=reason,
                           details={"url": endpoint.url}))
    if announce:
        emit(session, endpoint.site_id, "webhook.disabled", str(endpoint_id), {
            "endpoint": {"id": endpoint_id, "url": endpoint.url,
                         "description": endpoint.description, "disabled_reason": reason,
                         "disabled_at": now.isoformat()},
            "site": endpoint.site_id,
        })
    log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
    return True


def _give_up(session: Session, delivery_id: int, token: str, reason: str) -> None:
    session.execute(
        update(Delivery).where(Delivery.id == delivery_id, Delivery.claim_token == token)
        .values(status=DeliveryStatus.FAILED, next_attempt_at=None, claimed_until=None,
                claim_token=None, enqueued_at=None, last_error=_clip(reason)))
    session.commit()


def redeliver(session: Session, deliveries: Iterable[Delivery]) -> list[int]:
    """Make deliveries due now: finished ones start a new round of tries, pending ones are
    simply tried now. Rows a worker is sending at this moment are left alone."""
    now = utcnow()
    ids: list[int] = []
    for delivery in deliveries:
        if delivery.claimed_until is not None and delivery.claimed_until > now:
            continue
        if delivery.status != DeliveryStatus.PENDING:
            delivery.status = DeliveryStatus.PENDING
            delivery.tries = 0
            delivery.succeeded_at = None
        delivery.next_attempt_at = now
        delivery.enqueued_at = now
        ids.append(delivery.id)
    session.flush()
    return ids


def _clip(text: str | None, limit: int = 500) -> str | None:
    return text if text is None or len(text) <= limit else text[: limit - 1] + "…"
