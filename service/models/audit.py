"""The audit trail: every status change, by whom and why. Rows are never edited,
except the reasons an author's erasure replaces with "[erased]"."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, validates

from service.models.base import Base, UTCDateTime, utcnow
from service.models.comment import CommentStatus

#: Every action the trail records, so ``GET /moderation/audit?action=`` can refuse a typo
#: (or a verb such as ``approve``) instead of answering an empty page. A status change is
#: ``comment.<new status>``; writing an action missing here fails (``AuditEntry.action``).
AUDIT_ACTIONS: frozenset[str] = frozenset(
    {f"comment.{status}" for status in CommentStatus}
    | {"comment.created", "comment.edited", "comment.flagged"}
    | {f"author.{verb}" for verb in ("banned", "suspended", "trusted", "reset", "erased",
                                      "exported")}
    | {"site.created", "site.updated", "key.created", "key.revoked", "article.updated"}
    | {f"webhook.{verb}" for verb in ("created", "enabled", "updated", "deleted",
                                       "secret_rotated", "disabled")}
)


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_site_id_id", "site_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    subject_type: Mapped[str] = mapped_column(String(20))  # comment, author, site, key
    subject_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    actor_type: Mapped[str] = mapped_column(String(20))  # system, author, moderator, admin
    actor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @validates("action")
    def _known_action(self, _key: str, action: str) -> str:
        if action not in AUDIT_ACTIONS:
            raise ValueError(f"audit action {action!r} is not in AUDIT_ACTIONS")
        return action
