"""API keys for moderator and admin routes: ``Authorization: Bearer <key>``.

Keys are stored as SHA-256 digests; lookup is by digest and the final comparison is
constant-time. A key scoped to another site gets 404 for that site's objects, so a key
cannot probe which ids exist elsewhere.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import g, request
from sqlalchemy import select, update

from service import sqlite
from service.domain.errors import Forbidden, NotFound, Unauthorized
from service.domain.security import token_digest
from service.extensions import db
from service.models import ApiKey, Role, utcnow

F = TypeVar("F", bound=Callable[..., Any])

# Recording last use on every call would turn every read into a write.
LAST_USED_PRECISION = timedelta(minutes=1)


def current_key() -> ApiKey:
    key = g.get("api_key")
    if key is None:
        raise Unauthorized("this route needs an API key")
    return key


def authenticate() -> ApiKey:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    digest = token_digest(token.strip())
    key = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        raise Unauthorized("unknown API key")
    if key.revoked_at is not None:
        raise Unauthorized("this API key was revoked")
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_PRECISION:
        with sqlite.writes_after_reading(db.session):
            db.session.execute(update(ApiKey).where(ApiKey.id == key.id)
                               .values(last_used_at=now))
    g.api_key = key
    return key


def requires(role: Role) -> Callable[[F], F]:
    """Authenticate, then require ``role`` (admin keys may do what moderators do)."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = authenticate()
            if role == Role.ADMIN and key.role != Role.ADMIN:
                raise Forbidden("this route needs an admin key")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def check_site(site_id: str) -> None:
    """404 (not 403) for sites outside the key's scope: existence is not revealed."""
    if not current_key().covers(site_id):
        raise NotFound(f"no site {site_id!r}")


def scoped_site_ids() -> list[str] | None:
    """The sites the key may see; None means every site."""
    key = current_key()
    return None if key.site_id is None else [key.site_id]
