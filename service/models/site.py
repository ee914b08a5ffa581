"""A site is a tenant: one publication with its own policy, articles and authors."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import idna
from sqlalchemy import JSON, Boolean, Enum, Float, Integer, String, false
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
    # Reader flags: this many move a comment to the flagged queue; optionally hide it.
    flag_threshold: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    hide_flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Hold the first comment of a new author for a human (off by default).
    hold_first_time_authors: Mapped[bool] = mapped_column(Boolean, default=False,
                                                          server_default=false())
    # Close commenting on articles older than this many days (None: never).
    close_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # How long an author may edit or delete their own comment.
    edit_window_seconds: Mapped[int] = mapped_column(Integer, default=600, server_default="600")
    # Per-site word and link lists (normalised when compared; see workers/checks).
    blocked_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    suspect_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    allowed_link_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    blocked_link_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def allows_origin(self, origin: str) -> bool:
        return origin_allowed(self.allowed_origins or (), origin)


_DEFAULT_PORTS = {"http": "80", "https": "443"}


def normalize_origin(origin: str) -> str:
    """An origin as a browser sends it: scheme and host in lower case, an internationalised
    host in its ASCII (punycode) form, no default port, no trailing slash
    (``https://News.Example:443/`` -> ``https://news.example``, ``https://Bücher.example``
    -> ``https://xn--bcher-kva.example``)."""
    scheme, sep, rest = origin.strip().rstrip("/").partition("://")
    if not sep:
        return origin.strip().rstrip("/")
    scheme, host = scheme.lower(), rest.lower()
    name, colon, port = host.rpartition(":")  # "[::1]" gives port "1]": never a default
    if not (colon and port.isdigit()):
        name, port = host, ""
    if _DEFAULT_PORTS.get(scheme) == port:
        port = ""
    return f"{scheme}://{ascii_host(name)}" + (f":{port}" if port else "")


def ascii_host(host: str) -> str:
    """The host name a browser puts in ``Origin`` (UTS #46 / IDNA 2008, as the WHATWG URL
    standard does); a name IDNA refuses is left as it is (validation refuses it on input)."""
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return host


_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def origin_problem(origin: str) -> str | None:
    """Why ``origin`` can never equal a browser's ``Origin`` header, or None if it can.

    A wildcard (``https://*.example``), user info, an invalid port or a host name IDNA
    refuses would be stored and then silently match nothing.
    """
    not_an_origin = "not an origin like https://news.example (scheme and host, no path)"
    try:
        parts = urlsplit(origin.strip())
    except ValueError:  # unbalanced brackets, or "[zz]"
        return "the host in brackets is not an IPv6 address"
    if (parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname
            or parts.path not in ("", "/") or "?" in origin or "#" in origin):
        return not_an_origin
    if parts.username is not None or parts.password is not None:
        return "an origin has no user name or password"
    try:
        port = parts.port
    except ValueError:
        return f"port {parts.netloc.rpartition(':')[2]!r} is not a port number (1-65535)"
    if port == 0:
        return "port '0' is not a port number (1-65535)"
    if port is None and parts.netloc.endswith(":"):
        return "a port number is missing after ':'"
    if parts.netloc.startswith("["):
        return None  # urlsplit checked the address
    if "*" in parts.hostname:
        return "wildcards are not supported: list each origin (https://www.news.example)"
    name = ascii_host(parts.hostname)
    if not name.isascii() or not all(_LABEL.match(label) for label in name.split(".")):
        return f"{parts.hostname!r} is not a valid host name"
    return None


def origin_allowed(allowed: Iterable[str], origin: str) -> bool:
    """The one rule for CORS and posting: the same origin once both are normalised."""
    return normalize_origin(origin) in {normalize_origin(o) for o in allowed}
