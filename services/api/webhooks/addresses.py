"""Where a webhook may point: http(s) only, and, unless VCS_WEBHOOK_ALLOW_PRIVATE, never at
loopback, link-local, private or otherwise non-public addresses, so that a webhook cannot be
used to probe the operator's network. Checked when an endpoint is saved and again at every
delivery, on the addresses the name resolves to then (`PublicOnlyResolver`), so a name that
later resolves elsewhere (DNS rebinding) reaches nothing private."""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

MAX_URL_LENGTH = 2048


class ForbiddenAddress(OSError):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


def public(address: str) -> bool:
    """Whether an IP address is a public one (IPv4-mapped IPv6 judged as its IPv4)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def literal_ip(host: str) -> str | None:
    """The host as an IP address when it is one (brackets of IPv6 removed), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


#: A DNS name: dot-separated labels of letters, digits, hyphens (and underscores, which
#: some hosts use), each at most 63 long and not starting or ending with a hyphen.
_HOST_NAME = re.compile(
    r"(?=.{1,253}\.?$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
    r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?",
    re.IGNORECASE,
)


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why this URL cannot be a webhook's (a sentence), or None. Names are not resolved here
    (that happens at delivery); an IP literal and `localhost` are judged at once."""
    if len(url) > MAX_URL_LENGTH:
        return f"at most {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a valid URL"
    del port
    if parts.scheme not in ("http", "https"):
        return "must be an http or https URL"
    host = parts.hostname
    if not host:
        return "must name a host"
    if parts.username or parts.password:
        return "must not carry credentials"
    ip = literal_ip(host)
    if ip is None and not _HOST_NAME.fullmatch(host):
        # A URI's host is ASCII (RFC 3986; the document says format uri): a domain name,
        # punycode for an international one, or an IP address.
        return "must name a host: a domain name in ASCII (punycode) or an IP address"
    if allow_private:
        return None
    if ip is not None and not public(ip):
        return f"{ip} is not a public address (loopback, link-local and private are refused)"
    if ip is None and (host == "localhost" or host.endswith(".localhost")):
        return "localhost is not a public address"
    return None


class PublicOnlyResolver(AbstractResolver):
    """aiohttp's resolver, keeping only public addresses; none left is a connection error."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        kept = [r for r in found if public(r["host"])]
        if not kept:
            raise ForbiddenAddress(f"{host} resolves to no public address")
        return kept

    async def close(self) -> None:
        await self._inner.close()


def connection_kwargs(allow_private: bool) -> dict[str, Any]:
    """The TCPConnector arguments that keep deliveries off private addresses."""
    return {} if allow_private else {"resolver": PublicOnlyResolver()}
