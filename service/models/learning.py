"""What the service learns from moderators: labelled examples and per-site spam models.

Both live in the database (not on a worker's disk) so every worker process on every host
sees the same labels and the same current model.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, enum_values, utcnow


class LabelKind(enum.StrEnum):
    """A moderator's verdict on a text: spam, ordinary (ham) or rejected for abuse (toxic).

    ``toxic`` is kept for replays (a confirmed rejection) but never trains the spam model:
    a rude comment is neither spam nor an example of an ordinary comment.
    """

    SPAM = "spam"
    HAM = "ham"
    TOXIC = "toxic"


class ModerationLabel(Base):
    """One labelled example per comment; a later decision on the comment replaces it."""

    __tablename__ = "moderation_labels"
    __table_args__ = (
        UniqueConstraint("comment_id", name="uq_moderation_labels_comment_id"),
        # Training reads a site's labels; the beat job counts those newer than a model.
        Index("ix_moderation_labels_site_created", "site_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    # The comment may be removed later (erasure); the label then goes with the erasure,
    # and SET NULL only guards against other deletions.
    comment_id: Mapped[int | None] = mapped_column(
        ForeignKey("comments.id", ondelete="SET NULL"), nullable=True)
    # Kept so an author's erasure finds every label made from their text.
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"),
                                           index=True)
    # The text the moderator judged (the comment may be edited afterwards).
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[LabelKind] = mapped_column(
        Enum(LabelKind, name="label_kind", values_callable=enum_values))
    # Who gave it: the actor type and id (an API key's visible prefix), as in the audit.
    source: Mapped[str] = mapped_column(String(80))
    # When the current label was given (a replacement moves it forward).
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SiteModel(Base):
    """A site's own spam model: the .npz bytes of a LinearTextModel (no pickle) + figures."""

    __tablename__ = "site_models"
    __table_args__ = (UniqueConstraint("site_id", "version", name="uq_site_models_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    n_spam: Mapped[int] = mapped_column(Integer)
    n_ham: Mapped[int] = mapped_column(Integer)
    artefact: Mapped[bytes] = mapped_column(LargeBinary)
    # Cross-validated figures on the site's labels (precision/recall at both points, ...).
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The model's own probabilities that map to the policy's 0.5 (review) and 0.9 (reject).
    review_at: Mapped[float] = mapped_column(Float)
    reject_at: Mapped[float] = mapped_column(Float)
    trained_by: Mapped[str] = mapped_column(String(80))
    train_seconds: Mapped[float] = mapped_column(Float)
