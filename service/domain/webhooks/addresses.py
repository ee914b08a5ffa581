"""The SSRF rule: a webhook may only reach public addresses.

A URL names a host; what matters is the address the request goes to. So the host is
resolved at send time, every address it resolves to is checked, and the request is sent
to the checked address (see ``sender``): a name that resolves to 10.0.0.5 today, or a
DNS answer that changes between the check and the connect, cannot reach the inside.
Loopback, private, link-local, shared (CGNAT), multicast, reserved and unspecified
addresses are refused, also when wrapped in IPv6 (``::ffff:127.0.0.1``, 6to4, NAT64),
unless WARDEN_WEBHOOK_ALLOW_PRIVATE is set (tests, local setups).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_NUMERIC_HOST = frozenset("0123456789abcdefx.")


class AddressRefused(Exception):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


def internal_reason(address: IPAddress) -> str | None:
    """Why ``address`` is internal ("loopback", "private", ...), or None if it is public."""
    ip = _unwrap(address)
    for flag, reason in (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not publicly routable"),
    ):
        if flag:
            return reason
    return None


def _unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address hidden in an IPv6 one (mapped, 6to4, NAT64), else the address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return embedded
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host resolves to, in the resolver's order, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def checked_address(host: str, port: int, *, allow_private: bool,
                    resolve: Resolver = system_resolver) -> str:
    """The address to connect to; raises AddressRefused when the rule forbids the host."""
    literal = _literal(host)
    if literal is not None:
        candidates = [literal]
    else:
        try:
            candidates = [ipaddress.ip_address(a) for a in resolve(host, port)]
        except (OSError, UnicodeError, ValueError) as exc:
            raise AddressRefused(f"{host} does not resolve ({type(exc).__name__})") from None
        if not candidates:
            raise AddressRefused(f"{host} does not resolve")
    if not allow_private:
        for candidate in candidates:
            reason = internal_reason(candidate)
            if reason:
                raise AddressRefused(f"{host} resolves to {candidate}, a {reason} address; "
                                     "webhooks only reach public addresses")
    return str(candidates[0])


def _literal(host: str) -> IPAddress | None:
    """The address written in ``host``, also in the legacy IPv4 forms resolvers accept
    (``127.1``, ``2130706433``, ``0x7f.0.0.1``, ``0177.0.0.1``): they name an address as
    surely as ``127.0.0.1`` does, and must not pass as names."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare)
    except ValueError:
        pass
    if not bare or not all(c in _NUMERIC_HOST for c in bare.lower()):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(bare))
    except OSError:
        return None  # a name made of hex letters ("cafe.be"), not a number


def check_url(url: str, *, allow_private: bool) -> str:
    """Refuse, when saved, URLs that can never work; the address is checked again on send.

    Only an address written in the URL (or a localhost name) is judged here: names are
    resolved at send time, where DNS can no longer change the answer after the check.
    """
    try:
        parts = urlsplit(url.strip())
        if parts.port == 0:  # reading .port also refuses a malformed or too large one
            raise ValueError("the port must be 1..65535")
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    if parts.scheme not in {"http", "https"}:
        raise ValueError("the URL must start with https:// (or http://)")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError("the URL has no host")
    if parts.username or parts.password:
        raise ValueError("credentials in the URL are not supported; use a secret path "
                         "and verify the signature instead")
    if parts.fragment:
        raise ValueError("the URL must not have a #fragment")
    if not allow_private:
        literal = _literal(host)
        reason = internal_reason(literal) if literal is not None else None
        if reason is None and (host in _LOCAL_NAMES or host.endswith(".localhost")):
            reason = "loopback"
        if reason:
            raise ValueError(f"{host} is a {reason} address; webhooks only reach public "
                             "addresses")
    return url.strip()
