"""Sites and API keys: created from the CLI (and, later, the admin API)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from service.domain.errors import Conflict, DomainError, InvalidValue, NotFound
from service.domain.security import new_token, token_digest
from service.models import ApiKey, AuditEntry, ModerationMode, Role, Site, utcnow
from service.models.site import normalize_origin, origin_allowed, origin_problem

SITE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

# How long a web process trusts its copy of a site for public reads (existence and CORS
# origins). Shared caches may already serve those reads this stale (s-maxage=5).
SITE_CACHE_SECONDS = 5.0

DEMO_SITE = "demo"
DEMO_ORIGINS = ("http://127.0.0.1:8000", "http://localhost:8000")


def _origins(origins: list[str]) -> list[str]:
    """Stored as browsers send them (``https://News.Example:443`` would never match), once."""
    return list(dict.fromkeys(normalize_origin(o) for o in origins))


def create_site(session: Session, site_id: str, origins: list[str], *,
                mode: str = "auto", name: str | None = None, actor_id: str = "cli") -> Site:
    if not SITE_ID.match(site_id):
        raise DomainError("a site id is 1-64 lower-case letters, digits, '-' or '_'")
    bad = [f"{o}: {problem}" for o in origins if (problem := origin_problem(o))]
    if bad:
        raise DomainError(f"origins look like https://news.example; {'; '.join(bad)}")
    try:
        moderation_mode = ModerationMode(mode)
    except ValueError:
        raise DomainError(f"mode is one of auto, manual, post; not {mode!r}") from None
    if session.get(Site, site_id) is not None:
        raise Conflict(f"site {site_id!r} already exists")
    site = Site(id=site_id, name=name or site_id, allowed_origins=_origins(origins),
                mode=moderation_mode, hold_threshold=0.5, reject_threshold=0.9,
                auto_create_articles=True, settings={}, flag_threshold=3, hide_flagged=False,
                hold_first_time_authors=False, edit_window_seconds=600, blocked_words=[],
                suspect_words=[], allowed_link_domains=[], blocked_link_domains=[])
    session.add(site)
    session.flush()
    session.add(AuditEntry(site_id=site.id, subject_type="site", subject_id=site.id,
                           action="site.created", actor_type="admin", actor_id=actor_id,
                           details={"origins": site.allowed_origins, "mode": str(mode)}))
    return site


def ensure_demo_site(session: Session) -> bool:
    """Seed the demo site once; return True when it was created."""
    if session.get(Site, DEMO_SITE) is not None:
        return False
    create_site(session, DEMO_SITE, list(DEMO_ORIGINS), mode="auto", name="Demo News")
    return True


def create_api_key(session: Session, site_id: str | None, role: str,
                   label: str | None = None, actor: str = "cli") -> tuple[ApiKey, str]:
    """Return the key row and the plain key, which is shown once and never stored.

    ``site_id=None`` makes an operator key valid on every site.
    """
    if site_id is not None and session.get(Site, site_id) is None:
        raise NotFound(f"no site {site_id!r}")
    try:
        key_role = Role(role)
    except ValueError:
        raise DomainError(f"role is moderator or admin, not {role!r}") from None
    plain = new_token(f"cw_{key_role.value[:3]}")
    key = ApiKey(site_id=site_id, role=key_role, prefix=plain[:12], key_hash=token_digest(plain),
                 label=label)
    session.add(key)
    session.flush()
    if site_id is not None:
        session.add(AuditEntry(site_id=site_id, subject_type="key", subject_id=str(key.id),
                               action="key.created", actor_type="admin", actor_id=actor,
                               details={"role": key_role.value, "prefix": key.prefix}))
    return key, plain


POLICY_FIELDS = ("name", "allowed_origins", "mode", "hold_threshold", "reject_threshold",
                 "auto_create_articles", "max_depth", "flag_threshold", "hide_flagged",
                 "hold_first_time_authors", "close_after_days", "edit_window_seconds")
LIST_FIELDS = ("blocked_words", "suspect_words", "allowed_link_domains", "blocked_link_domains")


@dataclass(frozen=True)
class SiteView:
    """What the public read paths need of a site: cached, so a read costs one query."""

    id: str
    allowed_origins: tuple[str, ...]
    close_after_days: int | None = None
    # False: an article nobody commented on yet cannot be (its thread says is_open false).
    creates_articles: bool = True

    def allows_origin(self, origin: str) -> bool:
        return origin_allowed(self.allowed_origins, origin)


_SITE_VIEW = select(Site.id, Site.allowed_origins, Site.close_after_days,
                    Site.auto_create_articles).where(
    Site.id == bindparam("site_id"))


def site_view(session: Session, site_id: str) -> SiteView:
    """The site for a public read; 404 for an unknown one (never cached)."""
    now = time.monotonic()
    views = _site_views()
    hit = views.get(site_id)
    if hit is not None and now - hit[0] < SITE_CACHE_SECONDS:
        return hit[1]
    row = session.connection().execute(_SITE_VIEW, {"site_id": site_id}).first()
    if row is None:
        raise NotFound(f"no site {site_id!r}")
    view = SiteView(row.id, tuple(row.allowed_origins or ()), row.close_after_days,
                    row.auto_create_articles)
    views[site_id] = (now, view)
    return view


def forget_site_view(site_id: str) -> None:
    """Changed here: this process sees it at once (others within SITE_CACHE_SECONDS)."""
    if has_app_context():
        _site_views().pop(site_id, None)


def _site_views() -> dict[str, tuple[float, SiteView]]:
    """Per app (so per database), not per module: tests run several apps in one process."""
    return current_app.extensions.setdefault("warden_site_views", {})


def update_site(session: Session, site: Site, changes: dict[str, Any], actor_id: str,
                fields: tuple[str, ...] = POLICY_FIELDS) -> dict[str, Any]:
    """Apply ``changes`` and audit the difference; return {field: [old, new]}."""
    diff: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in fields:
            continue
        if name == "mode":
            value = ModerationMode(value)
        if name == "allowed_origins":
            value = _origins(value)
        old = getattr(site, name)
        if old != value:
            diff[name] = [_plain(old), _plain(value)]
            setattr(site, name, value)
    if site.hold_threshold > site.reject_threshold:
        raise InvalidValue("hold_threshold must not exceed reject_threshold",
                          fields={"hold_threshold": ["Above reject_threshold."]})
    if diff:
        forget_site_view(site.id)
        session.add(AuditEntry(site_id=site.id, subject_type="site", subject_id=site.id,
                               action="site.updated", actor_type="admin", actor_id=actor_id,
                               details={"changes": diff}))
    return diff


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, ModerationMode) else value


def revoke_api_key(session: Session, key: ApiKey, actor_id: str) -> bool:
    if key.revoked_at is not None:
        return False
    key.revoked_at = utcnow()
    if key.site_id is not None:
        session.add(AuditEntry(site_id=key.site_id, subject_type="key", subject_id=str(key.id),
                               action="key.revoked", actor_type="admin", actor_id=actor_id,
                               details={"prefix": key.prefix}))
    return True
