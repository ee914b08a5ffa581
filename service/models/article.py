"""An article under which comments hang, keyed by the site's own identifier."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.models.base import Base, UTCDateTime, utcnow


def new_thread_version() -> str:
    return uuid.uuid4().hex


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("site_id", "key", name="uq_articles_site_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(512))
    url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    title: Mapped[str | None] = mapped_column(String(300), nullable=True)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    # Maintained only by lifecycle.transition; a test recounts and compares.
    approved_count: Mapped[int] = mapped_column(Integer, default=0)
    # A fresh random token whenever the public thread's content changes (set by transition):
    # the page-cache key and ETag. Random rather than a counter, so that no two states of
    # any article, in any database a process has seen, ever share a token.
    thread_version: Mapped[str] = mapped_column(String(32), default=new_thread_version,
                                                server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
