"""SQLAlchemy models, one module per aggregate; import from here."""

from service.models.apikey import ApiKey, Role
from service.models.article import Article
from service.models.audit import AuditEntry
from service.models.author import Author, TrustLevel
from service.models.base import Base, utcnow
from service.models.comment import (
    FINAL_STATUSES,
    CheckResult,
    Comment,
    CommentStatus,
    IdWatermark,
)
from service.models.flag import Flag, FlagReason
from service.models.learning import LabelKind, ModerationLabel, SiteModel
from service.models.outbox import Event
from service.models.provider_report import ProviderReport, ReportStatus
from service.models.site import ModerationMode, Site
from service.models.webhook import Delivery, DeliveryAttempt, DeliveryStatus, WebhookEndpoint

__all__ = [
    "FINAL_STATUSES",
    "ApiKey",
    "Article",
    "AuditEntry",
    "Author",
    "Base",
    "CheckResult",
    "Comment",
    "CommentStatus",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryStatus",
    "Event",
    "Flag",
    "FlagReason",
    "IdWatermark",
    "LabelKind",
    "ModerationLabel",
    "ModerationMode",
    "ProviderReport",
    "ReportStatus",
    "Role",
    "Site",
    "SiteModel",
    "TrustLevel",
    "WebhookEndpoint",
    "utcnow",
]
