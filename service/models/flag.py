"""A reader's report on a comment: one per reader per comment, counted once per address."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text, UniqueConstraint, true
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
    # The reader's hashed address, whatever identified them; erased after the retention
    # period (WARDEN_IP_RETENTION_DAYS) like a comment's.
    ip_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Whether it raised the comment's flag_count: a second reader token from an address
    # that already reported the comment is kept for the moderator but not counted, or one
    # person minting tokens could reach the threshold (and hide the comment) alone.
    counted: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
