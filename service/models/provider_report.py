"""Moderator verdicts waiting to be reported to a remote provider (Akismet submit-spam/ham).

A durable outbox of its own, like webhook deliveries: the row is written in the moderator's
transaction, a worker sends it, and the row (not the broker) says what is left to do:
``next_attempt_at`` when it is due, ``claimed_until`` fences the worker sending it (a killed
worker's claim expires), ``enqueued_at`` tells the beat sweep a task was sent recently.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, enum_values, utcnow


class ReportStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its next try (or being tried now)
    SENT = "sent"  # the provider thanked us
    FAILED = "failed"  # every try failed
    SKIPPED = "skipped"  # nothing to send any more (provider off, data forgotten or erased)


class ProviderReport(Base):
    __tablename__ = "provider_reports"
    __table_args__ = (
        Index("ix_provider_reports_due", "next_attempt_at",
              sqlite_where=text("status = 'pending'"),
              postgresql_where=text("status = 'pending'")),
        Index("ix_provider_reports_comment_id", "comment_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))  # "akismet"
    verdict: Mapped[str] = mapped_column(String(10))  # "spam" | "ham"
    # Who decided (the moderator's key id), for the audit trail.
    requested_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[ReportStatus] = mapped_column(
        Enum(ReportStatus, name="report_status", values_callable=enum_values),
        default=ReportStatus.PENDING,
    )
    tries: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    claim_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
