"""The SSRF rule: which addresses a webhook may reach, judged after DNS."""

from __future__ import annotations

import ipaddress

import pytest

from service.domain.webhooks.addresses import (
    AddressRefused,
    check_url,
    checked_address,
    internal_reason,
)


@pytest.mark.parametrize(("address", "reason"), [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),  # cloud metadata
    ("fe80::1", "link-local"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("100.64.0.1", "not publicly routable"),  # carrier-grade NAT
    ("240.0.0.1", "private"),  # reserved (class E); Python files it as private
    ("192.0.2.10", "private"),  # documentation range
    ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
    ("::ffff:10.0.0.1", "private"),
    ("2002:7f00:1::", "loopback"),  # 6to4 around 127.0.0.1
    ("64:ff9b::a00:1", "private"),  # NAT64 around 10.0.0.1
])
def test_internal_addresses_are_named(address: str, reason: str) -> None:
    assert internal_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "1.1.1.1",
                                     "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address: str) -> None:
    assert internal_reason(ipaddress.ip_address(address)) is None


class FixedResolver:
    """A resolver that answers the given addresses and remembers what it was asked."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = list(addresses)
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return self.addresses


def test_a_name_is_checked_by_what_it_resolves_to() -> None:
    resolve = FixedResolver("93.184.216.34", "2606:2800:220:1::1")
    assert checked_address("hooks.example.com", 443, allow_private=False,
                           resolve=resolve) == "93.184.216.34"
    assert resolve.calls == [("hooks.example.com", 443)]


def test_a_public_name_resolving_inside_is_refused() -> None:
    with pytest.raises(AddressRefused, match=r"10\.0\.0\.5, a private address"):
        checked_address("evil.example.com", 443, allow_private=False,
                        resolve=FixedResolver("10.0.0.5"))


def test_one_internal_answer_among_public_ones_is_refused() -> None:
    with pytest.raises(AddressRefused, match="loopback"):
        checked_address("mixed.example.com", 80, allow_private=False,
                        resolve=FixedResolver("93.184.216.34", "127.0.0.1"))


def test_literal_addresses_need_no_dns() -> None:
    resolve = FixedResolver()
    with pytest.raises(AddressRefused, match="link-local"):
        checked_address("169.254.169.254", 80, allow_private=False, resolve=resolve)
    assert checked_address("[2606:4700:4700::1111]", 443, allow_private=False,
                           resolve=resolve) == "2606:4700:4700::1111"
    assert resolve.calls == []


def test_allow_private_lets_loopback_through() -> None:
    assert checked_address("localhost", 8080, allow_private=True,
                           resolve=FixedResolver("127.0.0.1")) == "127.0.0.1"


def test_unresolvable_names_are_refused() -> None:
    def broken(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(AddressRefused, match="does not resolve"):
        checked_address("nowhere.invalid", 443, allow_private=True, resolve=broken)
    with pytest.raises(AddressRefused, match="does not resolve"):
        checked_address("empty.example", 443, allow_private=True, resolve=FixedResolver())


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://hooks.example.com/x", "https://"),
    ("hooks.example.com/x", "https://"),
    ("https:///path", "no host"),
    ("https://user:pw@hooks.example.com/", "credentials"),
    ("https://hooks.example.com/#frag", "fragment"),
    ("https://hooks.example.com:99999/", "valid URL"),
    ("http://127.0.0.1:9000/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://localhost:9000/", "loopback"),
    ("http://api.localhost/", "loopback"),
    ("http://10.0.0.8/", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
])
def test_urls_that_can_never_work_are_refused_when_saved(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_url(url, allow_private=False)


def test_saved_urls_that_pass() -> None:
    assert check_url(" https://hooks.example.com/warden?x=1 ", allow_private=False) == \
        "https://hooks.example.com/warden?x=1"
    assert check_url("http://127.0.0.1:9000/hook", allow_private=True) == \
        "http://127.0.0.1:9000/hook"


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f.0.0.1", "0177.0.0.1", "10.1",
                                  "0x0a000001", "0"])
def test_legacy_ipv4_forms_are_addresses_when_saved_and_sent(host: str) -> None:
    with pytest.raises(ValueError, match="address; webhooks only reach public"):
        check_url(f"http://{host}/hook", allow_private=False)
    with pytest.raises(AddressRefused):
        checked_address(host, 80, allow_private=False, resolve=lambda *_: ["93.184.216.34"])


def test_hex_looking_names_are_still_names() -> None:
    assert check_url("https://cafe.be/hook", allow_private=False) == "https://cafe.be/hook"
    assert checked_address("cafe.be", 443, allow_private=False,
                           resolve=lambda *_: ["93.184.216.34"]) == "93.184.216.34"
