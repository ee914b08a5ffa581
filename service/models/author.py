"""A commenter, scoped to one site and identified by a secret author token."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, enum_values, utcnow


class TrustLevel(enum.StrEnum):
    NEW = "new"
    NORMAL = "normal"
    TRUSTED = "trusted"


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(80))
    email_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # sha256 of the author token; the token itself is only ever in the reader's browser.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    trust: Mapped[TrustLevel] = mapped_column(
        Enum(TrustLevel, name="trust_level", values_callable=enum_values),
        default=TrustLevel.NEW,
    )
    banned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ban_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    suspended_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    approved_count: Mapped[int] = mapped_column(Integer, default=0)
    # Rejected or spam, including comments deleted since (``Comment.deleted_from``): the
    # history that lowers an author's thresholds must not be wiped by deleting them.
    rejected_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def is_blocked(self, now: datetime) -> bool:
        return self.banned_at is not None or (
            self.suspended_until is not None and self.suspended_until > now
        )
