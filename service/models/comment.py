"""Comments and the per-check results that decided them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.models.article import Article
from service.models.author import Author
from service.models.base import Base, UTCDateTime, enum_values, utcnow


class CommentStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    HELD = "held"
    SPAM = "spam"
    DELETED = "deleted"


FINAL_STATUSES = frozenset(
    {CommentStatus.APPROVED, CommentStatus.REJECTED, CommentStatus.HELD, CommentStatus.SPAM}
)


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        # The public thread: approved comments of one article, roots first, by id.
        Index("ix_comments_thread", "article_id", "status", "root_id", "id"),
        # The moderation sweep: work whose checks have not finished yet.
        Index(
            "ix_comments_unchecked",
            "enqueued_at",
            sqlite_where=text("checked_at IS NULL"),
            postgresql_where=text("checked_at IS NULL"),
        ),
        Index("ix_comments_site_status", "site_id", "status", "id"),
        Index("ix_comments_site_fingerprint", "site_id", "fingerprint"),
        # Posting velocity (the worker, per batch): an author's and an address's comments
        # of the last window, read from the index instead of every comment they ever made
        # (by author) or every comment of the site (by address, which had no index).
        Index("ix_comments_author_created", "author_id", "created_at"),
        Index("ix_comments_site_address", "site_id", "ip_hash", "created_at",
              sqlite_where=text("ip_hash IS NOT NULL"),
              postgresql_where=text("ip_hash IS NOT NULL")),
        Index("ix_comments_site_flagged", "site_id", "flagged_at",
              sqlite_where=text("flagged_at IS NOT NULL"),
              postgresql_where=text("flagged_at IS NOT NULL")),
        UniqueConstraint("site_id", "idempotency_key", name="uq_comments_site_idempotency"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="SET NULL"), nullable=True
    )
    root_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    depth: Mapped[int] = mapped_column(Integer, default=0)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"))
    author_name: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    # Hash of the normalised text: finds repeated text across articles without scanning.
    fingerprint: Mapped[str] = mapped_column(String(40))
    status: Mapped[CommentStatus] = mapped_column(
        Enum(CommentStatus, name="comment_status", values_callable=enum_values),
        default=CommentStatus.PENDING,
    )
    status_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The status a deleted comment had: a rejected comment its author deletes still counts
    # in the author's history (``Author.rejected_count``), or deleting it would wipe it.
    deleted_from: Mapped[CommentStatus | None] = mapped_column(
        Enum(CommentStatus, name="comment_status", values_callable=enum_values),
        nullable=True)
    ip_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The plain address, kept only while Akismet is enabled (it needs user_ip, also for
    # feedback later); forgotten with ip_hash after WARDEN_IP_RETENTION_DAYS, and erased.
    ip_address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    # The submit's Referer (Akismet's ``referrer``), kept and forgotten like ip_address.
    referrer: Mapped[str | None] = mapped_column(String(500), nullable=True)
    client_signals: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Moderation bookkeeping: the database, not the broker, says what is left to do.
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    moderation_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Set while a worker batch checks the comment, so other workers draining the backlog
    # skip it; a batch that dies leaves it to expire (then the sweep sends it again).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Reader flags: the count, and when the site's threshold was crossed (the flagged
    # queue); cleared when a moderator decides.
    flag_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    article: Mapped[Article] = relationship(lazy="joined", innerjoin=True)
    author: Mapped[Author] = relationship(lazy="joined", innerjoin=True)
    check_results: Mapped[list[CheckResult]] = relationship(
        back_populates="comment", cascade="all, delete-orphan", order_by="CheckResult.check_name"
    )


class CheckResult(Base):
    __tablename__ = "check_results"
    __table_args__ = (UniqueConstraint("comment_id", "check_name", name="uq_check_results_check"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comments.id", ondelete="CASCADE"))
    check_name: Mapped[str] = mapped_column(String(40))
    check_version: Mapped[str] = mapped_column(String(40))
    score: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Verdict.may_reject, so a replay re-decides hold-only scores as the worker did.
    may_reject: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    comment: Mapped[Comment] = relationship(back_populates="check_results")


class IdWatermark(Base):
    """The highest id a table has ever handed out, where the database would hand it out again.

    SQLite gives a new row ``max(id) + 1`` (no AUTOINCREMENT on ``comments``), so after an
    erasure hard-deletes the newest comments their ids would come back, and the audit
    trail and webhook subscribers would see two comments under one id. Erasure raises the
    mark before deleting; the SQLite submit takes ``max(max(id), mark) + 1``. PostgreSQL's
    sequences never go back and do not use it.
    """

    __tablename__ = "id_watermarks"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
