"""The guard in front of sources that are not the operator's (added by a server's admins).

Such a URL must not reach the bot's own machine or network (cloud metadata at 169.254.169.254, an admin panel
on localhost, a database on 10.0.0.5). Checking the URL once is not enough: a redirect or a second DNS answer
(rebinding) can point elsewhere. So the check sits where every connection passes:

- `GuardedResolver` wraps aiohttp's resolver and refuses every answer that contains a non-public address; the
  connector then connects to exactly the addresses it checked;
- `guard_middleware` runs `check_url` on every request of the session, redirects included, because aiohttp
  does not consult the resolver for literal IP addresses.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

Network = IPv4Network | IPv6Network
_NAT64 = IPv6Network("64:ff9b::/96")
_NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+))*\.?$", re.IGNORECASE)
_SCHEMES = frozenset({"http", "https"})


class RefusedURLError(Exception):
    """A URL the guard will not fetch; the message is short and meant for `/status`."""


class BlockedAddressError(RefusedURLError):
    """The host is, or resolves to, an address that is not on the public internet."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        super().__init__(f"the host resolves to a {reason} address ({address})")


def blocked_reason(address: str | IPv4Address | IPv6Address) -> str | None:
    """Why this address must not be contacted, or None when it is public."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return blocked_reason(embedded)
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:  # e.g. 100.64.0.0/10, shared carrier-grade NAT space
        return "non-public"
    return None


def _embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), which is what really gets contacted."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _allowed(address: str, allow: tuple[Network, ...]) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return any(ip.version == network.version and ip in network for network in allow)


def check_url(url: str | URL, *, allow: Iterable[Network] = ()) -> None:
    """Refuse, before any connection, a URL that is not http(s) or whose host is a non-public literal address.

    Host names are left to `GuardedResolver`, which sees what they resolve to at connection time.
    """
    parsed = url if isinstance(url, URL) else URL(url)
    if parsed.scheme.lower() not in _SCHEMES:
        if not parsed.scheme:
            raise RefusedURLError(f"{str(url)[:100]!r} is not a URL; a feed's address starts with https://")
        raise RefusedURLError(f"only http and https URLs can be fetched, not {parsed.scheme} URLs")
    host = (parsed.host or "").rstrip(".").lower()
    if not host:
        raise RefusedURLError("the URL has no host")
    if host == "localhost" or host.endswith(".localhost"):
        raise BlockedAddressError(host, host, "loopback")
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if _NUMERIC_HOST.match(host):  # 2130706433, 0x7f.1: numbers that the system would read as addresses
            raise RefusedURLError(f"{host!r} is a numeric address in a non-standard form") from None
        return
    reason = blocked_reason(ip)
    if reason is not None and not _allowed(str(ip), tuple(allow)):
        raise BlockedAddressError(host, str(ip), reason)


class GuardedResolver(AbstractResolver):
    """A resolver that refuses host names resolving to any non-public address.

    One bad address refuses the whole answer: a host that mixes public and private addresses is not trusted.
    `allow` lists networks the operator vouches for (e.g. an internal feed bridge); empty by default.
    """

    def __init__(self, inner: AbstractResolver | None = None, *, allow: Iterable[Network] = ()) -> None:
        self._inner = inner if inner is not None else DefaultResolver()
        self._allow = tuple(allow)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            reason = blocked_reason(result["host"])
            if reason is not None and not _allowed(result["host"], self._allow):
                raise BlockedAddressError(host.rstrip("."), result["host"], reason)
        return results

    async def close(self) -> None:
        await self._inner.close()


def guard_middleware(*, allow: Iterable[Network] = ()) -> _Middleware:
    """A client middleware that checks every request, redirects included, with `check_url`."""
    return _Middleware(tuple(allow))


class _Middleware:
    def __init__(self, allow: tuple[Network, ...]) -> None:
        self._allow = allow

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        check_url(request.url, allow=self._allow)
        return await handler(request)
