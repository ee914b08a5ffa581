"""A reader's report on a comment: one per reader per comment."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, enum_values, utcnow


class FlagReason(enum.StrEnum):
    SPAM = "spam"
    ABUSE = "abuse"
    HARASSMENT = "harassment"
    HATE = "hate"
    MISINFORMATION = "misinformation"
    OFF_TOPIC = "off_topic"
    PERSONAL_INFO = "personal_info"
    OTHER = "other"


class Flag(Base):
    __tablename__ = "flags"
    __table_args__ = (UniqueConstraint("comment_id", "reporter", name="uq_flags_reporter"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"),
                                            index=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    reason: Mapped[FlagReason] = mapped_column(
        Enum(FlagReason, name="flag_reason", values_callable=enum_values))
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The reader: their author-token digest, or else their hashed address.
    reporter: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
