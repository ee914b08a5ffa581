"""Taking one due outbox row (a webhook delivery, a provider report) for a single try.

The claim expires, so a try whose worker died is taken again; the token says which try
may record the outcome.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import Enum

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from service.models import Delivery, ProviderReport, utcnow


def claim_due(session: Session, model: type[Delivery] | type[ProviderReport], row_id: int,
              pending: Enum, ttl: timedelta) -> str | None:
    """The claim token, or None if the row is done, not due, or held by a live try."""
    now = utcnow()
    token = uuid.uuid4().hex
    claimed = session.execute(
        update(model)
        .where(model.id == row_id, model.status == pending, model.next_attempt_at <= now,
               or_(model.claimed_until.is_(None), model.claimed_until < now))
        .values(claimed_until=now + ttl, claim_token=token)
    ).rowcount
    session.commit()
    return token if claimed == 1 else None
