"""What an admin does with a site's webhook endpoints; every change is audited.

Secrets are returned once (on create and rotate) and stored only encrypted. Disabling an
endpoint fails its pending deliveries; they can be redelivered after it is enabled again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.domain.errors import Conflict, DomainError, NotFound
from service.domain.events import emit
from service.domain.webhooks import catalog
from service.domain.webhooks.addresses import check_url
from service.domain.webhooks.deliveries import disable_endpoint, redeliver
from service.domain.webhooks.signing import SecretBox, new_secret
from service.models import (
    AuditEntry,
    Delivery,
    DeliveryStatus,
    WebhookEndpoint,
    utcnow,
)

MAX_ENDPOINTS_PER_SITE = 50
MAX_REDELIVER = 1000


class InvalidEndpoint(DomainError):
    """A field the schema accepted breaks a webhook rule (URL, event types)."""

    status = 422
    code = "validation_error"


@dataclass(frozen=True)
class AdminContext:
    """Who acts, and the settings that decide what they may save."""

    actor_id: str
    box: SecretBox
    allow_private: bool


def get_endpoint(session: Session, site_id: str, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.site_id != site_id:
        raise NotFound(f"no webhook endpoint {endpoint_id} on site {site_id!r}")
    return endpoint


def list_endpoints(session: Session, site_id: str) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint)
                                .where(WebhookEndpoint.site_id == site_id)
                                .order_by(WebhookEndpoint.id)))


def create_endpoint(session: Session, site_id: str, ctx: AdminContext, *, url: str,
                    event_types: list[str], description: str = "",
                    enabled: bool = True) -> tuple[WebhookEndpoint, str]:
    """Return the endpoint and its signing secret, which is shown this once."""
    count = session.scalar(select(func.count()).select_from(WebhookEndpoint)
                           .where(WebhookEndpoint.site_id == site_id)) or 0
    if count >= MAX_ENDPOINTS_PER_SITE:
        raise Conflict(f"a site has at most {MAX_ENDPOINTS_PER_SITE} webhook endpoints")
    secret = new_secret()
    endpoint = WebhookEndpoint(
        site_id=site_id, url=_valid_url(url, ctx), event_types=_valid_types(event_types),
        description=description, enabled=enabled, secret_encrypted=ctx.box.seal(secret),
        disabled_at=None if enabled else utcnow(),
        disabled_reason=None if enabled else "created disabled",
    )
    session.add(endpoint)
    session.flush()
    _audit(session, endpoint, "webhook.created", ctx,
           {"url": endpoint.url, "event_types": endpoint.event_types, "enabled": enabled})
    return endpoint, secret


def update_endpoint(session: Session, endpoint: WebhookEndpoint, ctx: AdminContext,
                    changes: dict[str, Any]) -> WebhookEndpoint:
    """Apply the given fields; enabling clears the failure record, disabling fails what
    is pending."""
    if "url" in changes:
        endpoint.url = _valid_url(changes["url"], ctx)
    if "event_types" in changes:
        endpoint.event_types = _valid_types(changes["event_types"])
    if "description" in changes:
        endpoint.description = changes["description"]
    enabled = changes.get("enabled")
    if enabled is True and not endpoint.enabled:
        endpoint.enabled = True
        endpoint.disabled_at = None
        endpoint.disabled_reason = None
        endpoint.failing_since = None
        _audit(session, endpoint, "webhook.enabled", ctx, {})
    session.flush()
    if enabled is False and endpoint.enabled:
        disable_endpoint(session, endpoint.id, "disabled by an admin", announce=False,
                         actor=("admin", ctx.actor_id))
        session.refresh(endpoint)
    fields = sorted(set(changes) - {"enabled"})
    if fields:
        _audit(session, endpoint, "webhook.updated", ctx,
               {name: changes[name] for name in fields})
    return endpoint


def delete_endpoint(session: Session, endpoint: WebhookEndpoint, ctx: AdminContext) -> None:
    """Delete the endpoint with its deliveries and their attempt log."""
    _audit(session, endpoint, "webhook.deleted", ctx, {"url": endpoint.url})
    session.delete(endpoint)
    session.flush()


def rotate_secret(session: Session, endpoint: WebhookEndpoint, ctx: AdminContext,
                  overlap: timedelta) -> str:
    """A new secret signs from now on; the old one also signs until the overlap ends.

    Rotating again during an overlap drops the oldest secret at once.
    """
    secret = new_secret()
    now = utcnow()
    if overlap > timedelta(0):
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_expires_at = now + overlap
    else:
        endpoint.previous_secret_encrypted = None
        endpoint.previous_secret_expires_at = None
    endpoint.secret_encrypted = ctx.box.seal(secret)
    session.flush()
    _audit(session, endpoint, "webhook.secret_rotated", ctx,
           {"overlap_seconds": overlap.total_seconds()})
    return secret


def rotation_ends(endpoint: WebhookEndpoint, now: datetime | None = None) -> datetime | None:
    """When the previous secret stops signing, if a rotation overlap is running."""
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires and expires > (now or utcnow()):
        return expires
    return None


def ping(session: Session, endpoint: WebhookEndpoint) -> Delivery:
    """A ``ping`` event for this endpoint only (it is not fanned out to the others)."""
    _require_enabled(endpoint)
    now = utcnow()
    event = emit(session, endpoint.site_id, catalog.PING, str(endpoint.id), {
        "endpoint": {"id": endpoint.id, "url": endpoint.url},
        "message": "A test event from Comment Warden: your endpoint receives and verifies "
                   "webhooks.",
        "site": endpoint.site_id,
    })
    event.dispatched_at = now  # already delivered to its one endpoint, below
    delivery = Delivery(endpoint_id=endpoint.id, event_id=event.id,
                        status=DeliveryStatus.PENDING, tries=0, next_attempt_at=now,
                        enqueued_at=now)
    session.add(delivery)
    session.flush()
    return delivery


def get_delivery(session: Session, endpoint: WebhookEndpoint, delivery_id: int) -> Delivery:
    delivery = session.get(Delivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound(f"no delivery {delivery_id} for webhook endpoint {endpoint.id}")
    return delivery


def list_deliveries(session: Session, endpoint: WebhookEndpoint, *,
                    status: DeliveryStatus | None, before: int | None,
                    limit: int) -> list[Delivery]:
    """Newest first; ``before`` is the last id of the previous page."""
    query = select(Delivery).where(Delivery.endpoint_id == endpoint.id)
    if status is not None:
        query = query.where(Delivery.status == status)
    if before is not None:
        query = query.where(Delivery.id < before)
    return list(session.scalars(query.order_by(Delivery.id.desc()).limit(limit)))


def redeliver_one(session: Session, endpoint: WebhookEndpoint, delivery: Delivery) -> int:
    _require_enabled(endpoint)
    ids = redeliver(session, [delivery])
    if not ids:
        raise Conflict(f"delivery {delivery.id} is being sent right now")
    return ids[0]


def redeliver_range(session: Session, endpoint: WebhookEndpoint, *, since: datetime,
                    until: datetime | None, statuses: list[DeliveryStatus]) -> tuple[list[int],
                                                                                     bool]:
    """Redeliver the endpoint's finished deliveries created in [since, until); events that
    came while it was disabled have a failed one ("endpoint disabled when the event came").

    At most MAX_REDELIVER per call, oldest first; the flag says more matched (call again:
    the ones just redelivered are pending now and no longer match).
    """
    _require_enabled(endpoint)
    if until is not None and until <= since:
        raise InvalidEndpoint("'until' must be after 'since'",
                              fields={"until": ["must be after 'since'"]})
    query = select(Delivery).where(Delivery.endpoint_id == endpoint.id,
                                   Delivery.status.in_(statuses), Delivery.created_at >= since)
    if until is not None:
        query = query.where(Delivery.created_at < until)
    rows = list(session.scalars(query.order_by(Delivery.id).limit(MAX_REDELIVER + 1)))
    return redeliver(session, rows[:MAX_REDELIVER]), len(rows) > MAX_REDELIVER


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if not endpoint.enabled:
        raise Conflict(f"webhook endpoint {endpoint.id} is disabled "
                       f"({endpoint.disabled_reason}); enable it first")


def _valid_url(url: str, ctx: AdminContext) -> str:
    try:
        return check_url(url, allow_private=ctx.allow_private)
    except ValueError as exc:
        raise InvalidEndpoint(f"url: {exc}", fields={"url": [str(exc)]}) from None


def _valid_types(event_types: list[str]) -> list[str]:
    unknown = catalog.unknown_types(event_types)
    if unknown:
        message = (f"unknown event types: {', '.join(unknown)}; use '*', a group like "
                   f"'comment.*', or one of {', '.join(sorted(catalog.EVENT_TYPES))}")
        raise InvalidEndpoint(message, fields={"event_types": [message]})
    return list(dict.fromkeys(event_types))


def _audit(session: Session, endpoint: WebhookEndpoint, action: str, ctx: AdminContext,
           details: dict[str, Any]) -> None:
    session.add(AuditEntry(site_id=endpoint.site_id, subject_type="webhook",
                           subject_id=str(endpoint.id), action=action, actor_type="admin",
                           actor_id=ctx.actor_id, details=details))
