"""How readers are told apart: hashed addresses, IPv6 grouped by /64."""

from __future__ import annotations

import pytest

from service.domain.security import client_network, hash_ip


@pytest.mark.parametrize(("address", "network"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 reader seen through a v6 socket
    ("not an address", "not an address"),
])
def test_client_network(address: str, network: str) -> None:
    assert client_network(address) == network


def test_one_ipv6_reader_is_one_hash_and_ipv4_hashes_are_unchanged() -> None:
    key = "k" * 32
    assert hash_ip("2001:db8:1:2::1", key) == hash_ip("2001:db8:1:2:ffff::9", key)
    assert hash_ip("2001:db8:1:2::1", key) != hash_ip("2001:db8:1:3::1", key)
    import hashlib
    import hmac
    assert hash_ip("198.51.100.4", key) == hmac.new(
        key.encode(), b"198.51.100.4", hashlib.sha256).hexdigest()[:32]
    assert hash_ip(None, key) is None
