"""A site is a tenant: one publication with its own policy, articles and authors."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, enum_values, utcnow


class ModerationMode(enum.StrEnum):
    AUTO = "auto"  # pre-moderation by checks: nothing public before approval
    MANUAL = "manual"  # every comment waits for a human
    POST = "post"  # published at once; checks may pull it back


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    mode: Mapped[ModerationMode] = mapped_column(
        Enum(ModerationMode, name="moderation_mode", values_callable=enum_values),
        default=ModerationMode.AUTO,
    )
    hold_threshold: Mapped[float] = mapped_column(Float, default=0.5)
    reject_threshold: Mapped[float] = mapped_column(Float, default=0.9)
    auto_create_articles: Mapped[bool] = mapped_column(Boolean, default=True)
    max_depth: Mapped[int | None] = mapped_column(Integer, nullable=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def allows_origin(self, origin: str) -> bool:
        return origin.rstrip("/") in {o.rstrip("/") for o in self.allowed_origins or []}
