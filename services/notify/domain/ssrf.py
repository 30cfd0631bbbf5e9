"""Which addresses an outbound delivery may reach: the SSRF guard's pure core.

A bureau chooses the URL its alerts go to, so a URL is untrusted input: it could point at
the machine notify runs on, at the cloud provider's metadata service, or into the private
network behind it. Every address a host name resolves to is classified here, at connect
time, and a single refused address refuses the whole host (no "pick the public one" games
with DNS answers that mix public and private addresses). Operators may open networks on
purpose with ``NOTIFY_ALLOWED_NETWORKS`` (tests open 127.0.0.1/32), but never the
link-local range where cloud metadata services answer.

A host written as a number is read here the way the system resolver (``inet_aton``) reads
it, so ``2130706433``, ``0177.0.0.1``, ``0x7f000001`` and ``127.1`` are all 127.0.0.1.
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


#: What an allow-list may never open, whatever it lists (even 0.0.0.0/0): link-local
#: addresses, where cloud metadata services answer, and the metadata services themselves.
_NEVER_OPENED: tuple[IPNetwork, ...] = (
    *(ipaddress.ip_network(net) for net in ("169.254.0.0/16", "fe80::/10")),
    *(ipaddress.ip_network(address) for address in METADATA_ADDRESSES),
)

#: Private ranges: the widest networks production lets ``NOTIFY_ALLOWED_NETWORKS`` open.
PRIVATE_RANGES: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)

#: IPv6 prefixes whose low 32 bits are an IPv4 address a gateway would reach.
_EMBEDDING_LOW_32: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(net) for net in ("::/96", "64:ff9b::/96", "64:ff9b:1::/48")
)

_DIGITS = "0123456789abcdef"

#: Host names that are loopback by definition (RFC 6761), whatever DNS says.
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain")


@dataclass(frozen=True)
class Verdict:
    address: str
    allowed: bool
    reason: str


class AddressRefused(Exception):
    """An outbound request would reach an address the guard refuses."""


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64...), if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if any(ip in network for network in _EMBEDDING_LOW_32):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def never_opened(ip: IPAddress) -> bool:
    """Whether ``ip`` (or the IPv4 address inside it) is one no allow-list may open."""
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            candidates.append(embedded)
    return any(
        c.version == network.version and c in network
        for c in candidates
        for network in _NEVER_OPENED
    )


def never_opened_network(network: IPNetwork) -> bool:
    """Whether every address of ``network`` is one no allow-list may open."""
    return any(
        network.version == closed.version and network.subnet_of(closed)  # type: ignore[arg-type]
        for closed in _NEVER_OPENED
    )


def within_private_ranges(network: IPNetwork) -> bool:
    return any(
        network.version == private.version and network.subnet_of(private)  # type: ignore[arg-type]
        for private in PRIVATE_RANGES
    )


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
    if not never_opened(ip):
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


def _inet_aton_part(text: str) -> int | None:
    """One part of a numeric IPv4 host: ``0x``-prefixed hex, ``0``-prefixed octal, decimal."""
    if text[:2].lower() == "0x":
        digits, base = text[2:].lower(), 16
        if digits == "":
            return 0  # inet_aton reads a bare "0x" as zero
    elif len(text) > 1 and text[0] == "0":
        digits, base = text[1:], 8
    else:
        digits, base = text, 10
    if not digits or any(c not in _DIGITS[:base] for c in digits):
        return None  # int() alone would also take "_", "+", spaces and a second "0x"
    return int(digits, base)


def inet_aton(host: str) -> ipaddress.IPv4Address | None:
    """``host`` read as ``inet_aton`` reads it (one to four parts, the last filling the
    remaining bytes), or None when it is no IPv4 address in any of those forms."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or any(p == "" for p in parts):
        return None
    values = [_inet_aton_part(p) for p in parts]
    if any(v is None for v in values):
        return None
    numbers = [v for v in values if v is not None]
    *leading, last = numbers
    if any(v > 0xFF for v in leading) or last >= 1 << (8 * (5 - len(numbers))):
        return None
    address = last
    for position, value in enumerate(leading):
        address |= value << (8 * (3 - position))
    return ipaddress.IPv4Address(address)


def _looks_numeric(label: str) -> bool:
    """A label that makes a host an IPv4 address to URL parsers: digits, or 0x and hex."""
    if label[:2].lower() == "0x":
        return all(c in "0123456789abcdefABCDEF" for c in label[2:])
    return label.isascii() and label.isdigit()


def host_address(host: str) -> IPAddress | None:
    """The address a URL's host is by itself, or None for a host name to resolve.

    IPv6 literals (with or without brackets) and IPv4 in every form the resolver accepts
    are addresses. A host whose last label is a number but which is no IPv4 address
    (``1.2.3.999``, ``08.0.0.1``) is refused: resolvers and HTTP clients disagree on it.
    """
    text = host.strip("[]")
    if ":" in text:
        try:
            return ipaddress.ip_address(text)
        except ValueError as exc:
            raise AddressRefused(f"{host} is not a valid IPv6 address") from exc
    if text.endswith("."):
        text = text[:-1]  # the root label: "127.0.0.1." is still 127.0.0.1 to some resolvers
    labels = text.split(".")
    if not labels[-1] or not _looks_numeric(labels[-1]):
        return None
    address = inet_aton(text)
    if address is None:
        raise AddressRefused(f"{host} is not a valid IPv4 address")
    return address


def is_loopback_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name in _LOOPBACK_NAMES or name.endswith(".localhost")


def literal_host_verdict(url: str, allowed: Sequence[IPNetwork] = ()) -> Verdict | None:
    """For a URL whose host is an address by itself (in any form) or a loopback name, its
    verdict; None for a host name, which only resolving can judge.

    An address written in another form than its usual one (``0x08080808`` for 8.8.8.8) is
    refused even when public: HTTP clients and resolvers read such hosts differently.
    """
    host = urlsplit(url).hostname or ""
    try:
        ip = host_address(host)
    except AddressRefused:
        return Verdict(host, False, "not a valid IP address")
    if ip is None:
        return classify("127.0.0.1", allowed) if is_loopback_name(host) else None
    verdict = classify(ip, allowed)
    if verdict.allowed and ip.version == 4 and host.rstrip(".") != str(ip):
        return Verdict(str(ip), False, f"an unusual form of it: write {ip}")
    return verdict


def refusal(host: str, verdict: Verdict) -> str:
    """Why a host was refused, naming the address it stands for when written otherwise."""
    written = host.strip("[]").rstrip(".").lower()
    if written == verdict.address.lower():
        return f"{verdict.address} ({verdict.reason})"
    return f"{host} is {verdict.address} ({verdict.reason})"
