"""Which addresses an outbound delivery may reach: the SSRF guard's pure core.

A bureau chooses the URL its alerts go to, so a URL is untrusted input: it could point at
the machine notify runs on, at the cloud provider's metadata service, or into the private
network behind it. Every address a host name resolves to is classified here, at connect
time, and a single refused address refuses the whole host (no "pick the public one" games
with DNS answers that mix public and private addresses). Operators may open networks on
purpose with ``NOTIFY_ALLOWED_NETWORKS`` (tests open 127.0.0.1/32).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Cloud metadata endpoints, named so that the refusal says what was targeted.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Tencent Cloud
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS over IPv6
    )
)

#: Refused ranges, most specific first, each with the reason the refusal reports.
_REFUSED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", "unspecified"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("169.254.0.0/16", "link-local"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "reserved"),
        ("198.18.0.0/15", "reserved"),
        ("198.51.100.0/24", "reserved"),
        ("203.0.113.0/24", "reserved"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("::/96", "IPv4-compatible"),
        ("64:ff9b::/96", "IPv4-embedding (NAT64)"),
        ("64:ff9b:1::/48", "IPv4-embedding (NAT64)"),
        ("2002::/16", "IPv4-embedding (6to4)"),
        ("2001::/32", "IPv4-embedding (Teredo)"),
        ("2001:db8::/32", "reserved"),
        ("fc00::/7", "private"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)


@dataclass(frozen=True)
class Verdict:
    address: str
    allowed: bool
    reason: str


class AddressRefused(Exception):
    """An outbound request would reach an address the guard refuses."""


def parse_networks(networks: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The allow-list, from CIDR strings; a bad entry is a configuration error."""
    parsed: list[IPNetwork] = []
    for raw in networks:
        text = raw.strip()
        if text:
            parsed.append(ipaddress.ip_network(text, strict=False))
    return tuple(parsed)


def classify(address: str | IPAddress, allowed: Sequence[IPNetwork] = ()) -> Verdict:
    """Whether an outbound connection may go to ``address``, and why (not)."""
    try:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    except ValueError:
        return Verdict(str(address), False, "not an IP address")
    text = str(ip)
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return Verdict(text, False, "scoped IPv6 address")
    for network in allowed:
        if ip.version == network.version and ip in network:
            return Verdict(text, True, f"allowed by {network}")
    if ip in METADATA_ADDRESSES:
        return Verdict(text, False, "cloud metadata service")
    for network, reason in _REFUSED:
        if ip.version == network.version and ip in network:
            return Verdict(text, False, reason)
    if not ip.is_global:
        return Verdict(text, False, "not globally routable")
    return Verdict(text, True, "public")


def check_addresses(host: str, addresses: Sequence[str], allowed: Sequence[IPNetwork] = ()) -> str:
    """The address to connect to (the first), or ``AddressRefused`` if any is refused."""
    if not addresses:
        raise AddressRefused(f"{host} resolves to no address")
    verdicts = [classify(a, allowed) for a in addresses]
    for verdict in verdicts:
        if not verdict.allowed:
            raise AddressRefused(
                f"{host} resolves to {verdict.address} ({verdict.reason}); refused"
            )
    return verdicts[0].address


def literal_host_verdict(url: str, allowed: Sequence[IPNetwork] = ()) -> Verdict | None:
    """For a URL whose host is an IP literal, its verdict; None for a host name.

    Used to refuse an obviously internal URL when a subscription is created; names are
    only judged at connect time, since what they resolve to may change.
    """
    host = urlsplit(url).hostname or ""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if host.lower() in {"localhost", "localhost.localdomain"} or host.lower().endswith(
            ".localhost"
        ):
            return classify("127.0.0.1", allowed)
        return None
    return classify(ip, allowed)
