"""The private-address guard: address classes, URL prechecks, and the resolver wrapper (no DNS needed)."""

from __future__ import annotations

import socket
from ipaddress import ip_network

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.news.netguard import BlockedAddressError, GuardedResolver, RefusedURLError, blocked_reason, check_url


class ScriptedResolver(AbstractResolver):
    """Answers each lookup with the next list of addresses: a rebinding DNS server in miniature."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = self.answers.pop(0)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=0,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("127.0.0.1", "loopback"),
        ("127.8.8.8", "loopback"),
        ("169.254.169.254", "link-local"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "private"),  # reserved, and listed by ipaddress among the private ranges
        ("100.64.0.1", "non-public"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("ff02::1", "multicast"),
        ("fd12:3456::1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 wrapping 169.254.169.254
        ("64:ff9b::a00:1", "private"),  # NAT64 wrapping 10.0.0.1
        ("::7f00:1", "reserved"),
        ("8.8.8.8", None),
        ("151.101.1.69", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),
    ],
)
def test_blocked_reason(address: str, reason: str | None) -> None:
    assert blocked_reason(address) == reason


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.1/feed", "the host resolves to a private address (10.0.0.1)"),
        ("https://[::1]:8443/", "the host resolves to a loopback address (::1)"),
        ("http://localhost:8080/rss", "the host resolves to a loopback address (localhost)"),
        ("http://admin.localhost/", "the host resolves to a loopback address (admin.localhost)"),
        ("ftp://example.com/feed", "only http and https URLs can be fetched, not ftp URLs"),
        ("file:///etc/passwd", "only http and https URLs can be fetched, not file URLs"),
        ("http://2130706433/", "'2130706433' is a numeric address in a non-standard form"),
        ("http://0x7f.1/", "'0x7f.1' is a numeric address in a non-standard form"),
    ],
)
def test_check_url_refuses(url: str, message: str) -> None:
    with pytest.raises(RefusedURLError) as caught:
        check_url(url)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "url", ["https://www.timesofisrael.com/feed/", "http://8.8.8.8/rss", "https://[2606:4700:4700::1111]/"]
)
def test_check_url_accepts_public(url: str) -> None:
    check_url(url)


def test_check_url_allow_list() -> None:
    check_url("http://10.0.0.5/feed", allow=[ip_network("10.0.0.0/24")])
    with pytest.raises(BlockedAddressError):
        check_url("http://10.0.1.5/feed", allow=[ip_network("10.0.0.0/24")])


async def test_resolver_passes_public_answers() -> None:
    inner = ScriptedResolver(["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
    results = await GuardedResolver(inner).resolve("example.com", 443)
    assert [result["host"] for result in results] == ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]


async def test_resolver_refuses_any_private_answer() -> None:
    resolver = GuardedResolver(ScriptedResolver(["93.184.215.14", "10.0.0.7"]))
    with pytest.raises(BlockedAddressError) as caught:
        await resolver.resolve("mixed.example", 80)
    assert caught.value.host == "mixed.example"
    assert caught.value.address == "10.0.0.7"
    assert str(caught.value) == "the host resolves to a private address (10.0.0.7)"


async def test_resolver_checks_every_lookup_against_rebinding() -> None:
    resolver = GuardedResolver(ScriptedResolver(["93.184.215.14"], ["169.254.169.254"]))
    assert (await resolver.resolve("rebind.example"))[0]["host"] == "93.184.215.14"
    with pytest.raises(BlockedAddressError, match="link-local"):
        await resolver.resolve("rebind.example")


async def test_resolver_refuses_mapped_ipv6() -> None:
    resolver = GuardedResolver(ScriptedResolver(["::ffff:192.168.0.1"]))
    with pytest.raises(BlockedAddressError, match="private"):
        await resolver.resolve("v6.example", family=socket.AF_INET6)


async def test_resolver_allow_list_and_close() -> None:
    inner = ScriptedResolver(["10.0.0.5"])
    resolver = GuardedResolver(inner, allow=[ip_network("10.0.0.0/24")])
    assert (await resolver.resolve("bridge.internal"))[0]["host"] == "10.0.0.5"
    await resolver.close()
    assert inner.closed
