"""API keys for moderators and admins, stored only as a hash plus a visible prefix."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, enum_values, utcnow


class Role(enum.StrEnum):
    MODERATOR = "moderator"
    ADMIN = "admin"


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # None: the key works on every site (an operator's key; sites can only be created so).
    site_id: Mapped[str | None] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"),
                                                index=True, nullable=True)
    role: Mapped[Role] = mapped_column(Enum(Role, name="api_role", values_callable=enum_values))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    def covers(self, site_id: str) -> bool:
        return self.site_id is None or self.site_id == site_id
