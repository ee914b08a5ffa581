"""Tokens and hashes: secrets are shown once and stored only as digests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(24)}"


def idempotent_author_token(secret_key: str, site_id: str, idempotency_key: str) -> str:
    """A new author's token for a submit that carries an Idempotency-Key: derived from the
    key, so the retry of a submit whose answer was lost can be answered with the same token
    (only the digest is stored). Same shape as ``new_token("at")``."""
    digest = hmac.new(secret_key.encode(), f"author-token\0{site_id}\0{idempotency_key}"
                      .encode(), hashlib.sha256).digest()
    return "at_" + base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def token_digest(token: str) -> str:
    """SHA-256 is enough for high-entropy random tokens; lookups are by digest."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_ip(address: str | None, secret_key: str) -> str | None:
    """Keyed hash so stored addresses can be compared but not reversed by dictionary.

    IPv6 addresses are grouped by their /64 (``client_network``): one reader holds a whole
    /64, so counting per address would count nothing for the velocity check and reports.
    """
    if not address:
        return None
    return _hash_network(address, secret_key)


@lru_cache(maxsize=4096)
def _hash_network(address: str, secret_key: str) -> str:
    """Memoised: readers send many requests from one address (parsing it and the HMAC were
    2-3 % of a submit's CPU); the process holds the plain address anyway while it serves."""
    network = client_network(address)
    return hmac.new(secret_key.encode(), network.encode(), hashlib.sha256).hexdigest()[:32]


def client_network(address: str) -> str:
    """The unit a reader is counted by: the IPv4 address, or the IPv6 /64 it is in."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def hash_email(email: str | None) -> str | None:
    if not email:
        return None
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def referrer_without_query(referrer: str | None) -> str | None:
    """The Referer as far as the path: query strings and fragments carry tokens, e-mail
    addresses and campaign tags that Akismet does not need and the service must not keep."""
    if not referrer:
        return None
    parts = urlsplit(referrer.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
