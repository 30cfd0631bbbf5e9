"""The SSRF matrix: every refused kind of address, through the guard that connects."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from services.notify.adapters.net import AddressGuard, guarded_client
from services.notify.domain.ssrf import (
    AddressRefused,
    check_addresses,
    classify,
    host_address,
    inet_aton,
    literal_host_verdict,
    parse_networks,
)
from tests.unit.notify.receivers import serving

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.10.20", "link-local"),
    ("fe80::1", "link-local"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("169.254.169.254", "cloud metadata service"),
    ("100.100.100.200", "cloud metadata service"),
    ("fd00:ec2::254", "cloud metadata service"),
    ("::ffff:127.0.0.1", "IPv4-mapped"),
    ("::ffff:169.254.169.254", "IPv4-mapped"),
    ("::ffff:8.8.8.8", "IPv4-mapped"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.1", "reserved"),
    ("64:ff9b::7f00:1", "IPv4-embedding (NAT64)"),
    ("2002:7f00:1::", "IPv4-embedding (6to4)"),
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "223.5.5.5", "2400:3200::1", "2001:4860:4860::8888"]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_internal_addresses_are_refused(address: str, reason: str) -> None:
    verdict = classify(address)
    assert not verdict.allowed and verdict.reason == reason


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    assert classify(address).allowed


def test_the_allow_list_opens_exactly_its_networks() -> None:
    allowed = parse_networks(["127.0.0.1/32"])
    assert classify("127.0.0.1", allowed).allowed
    assert not classify("127.0.0.2", allowed).allowed
    assert not classify("::ffff:127.0.0.1", allowed).allowed, "mapped form stays refused"
    assert not classify("169.254.169.254", allowed).allowed


def test_one_refused_address_refuses_the_host() -> None:
    with pytest.raises(AddressRefused, match="10.0.0.1"):
        check_addresses("mixed.example", ["8.8.8.8", "10.0.0.1"])
    assert check_addresses("ok.example", ["8.8.8.8", "1.1.1.1"]) == "8.8.8.8"
    with pytest.raises(AddressRefused):
        check_addresses("none.example", [])


def test_literal_hosts_are_judged_when_a_subscription_is_made() -> None:
    assert not literal_host_verdict("http://127.0.0.1:8080/hook").allowed  # type: ignore[union-attr]
    assert not literal_host_verdict("http://[::1]/hook").allowed  # type: ignore[union-attr]
    assert not literal_host_verdict("http://localhost/x").allowed  # type: ignore[union-attr]
    assert literal_host_verdict("https://hooks.example.cn/x") is None


#: Numeric hosts as ``inet_aton`` (and so getaddrinfo) reads them.
NUMERIC_FORMS = [
    ("2130706433", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0X7F.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("0x", "0.0.0.0"),
    ("10.1", "10.0.0.1"),
    ("0xa9fea9fe", "169.254.169.254"),
    ("2852039166", "169.254.169.254"),
    ("192.168.257", "192.168.1.1"),
    ("8.8.8.8", "8.8.8.8"),
]


@pytest.mark.parametrize(("host", "address"), NUMERIC_FORMS)
def test_numeric_hosts_are_read_as_the_resolver_reads_them(host: str, address: str) -> None:
    assert str(inet_aton(host)) == address
    assert str(host_address(host)) == address


@pytest.mark.parametrize("host", ["1.2.3.256", "08.0.0.1", "0x1.0x100.0.0", "1.2.3.4.5", "1..2"])
def test_a_host_that_looks_numeric_but_is_no_address_is_refused(host: str) -> None:
    assert inet_aton(host) is None
    with pytest.raises(AddressRefused, match="not a valid IPv4 address"):
        host_address(host)


@pytest.mark.parametrize("host", ["4294967296", "0xg", "0x0x5", "1_0", "+1", "0x-1", "1.0x1g"])
def test_what_inet_aton_refuses_is_no_address(host: str) -> None:
    assert inet_aton(host) is None


@pytest.mark.parametrize("host", ["hooks.example.cn", "1.2.3.4.example", "0x7f.example", "cn"])
def test_names_are_left_to_the_resolver(host: str) -> None:
    assert host_address(host) is None


@pytest.mark.parametrize(("host", "address"), [h for h in NUMERIC_FORMS if h[1] != "8.8.8.8"])
def test_every_numeric_form_of_an_internal_address_is_refused(host: str, address: str) -> None:
    verdict = literal_host_verdict(f"http://{host}:8080/hook")
    assert verdict is not None and not verdict.allowed and verdict.address == address


def test_a_public_address_in_an_unusual_form_is_refused_with_its_usual_form() -> None:
    verdict = literal_host_verdict("http://134744072/hook")
    assert verdict is not None and not verdict.allowed and "write 8.8.8.8" in verdict.reason
    assert literal_host_verdict("http://8.8.8.8/hook").allowed  # type: ignore[union-attr]
    assert literal_host_verdict("http://[2001:4860:4860::8888]/hook").allowed  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "url",
    [
        "http://[::ffff:127.0.0.1]/x",
        "http://[::ffff:7f00:1]/x",
        "http://[0:0:0:0:0:ffff:7f00:1]/x",
        "http://[::127.0.0.1]/x",
        "http://[::]/x",
        "http://[fe80::1%25eth0]/x",
        "http://[fd00:ec2::254]/x",
        "http://LOCALHOST./x",
        "http://api.localhost/x",
    ],
)
def test_ipv6_and_loopback_names_are_refused(url: str) -> None:
    verdict = literal_host_verdict(url)
    assert verdict is not None and not verdict.allowed


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.1.1",
        "fe80::1",
        "100.100.100.200",
        "fd00:ec2::254",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::1",
    ],
)
def test_no_allow_list_opens_link_local_or_metadata(address: str) -> None:
    everything = parse_networks(["0.0.0.0/0", "::/0"])
    assert not classify(address, everything).allowed
    assert classify("10.1.2.3", everything).allowed, "the rest is open as listed"


async def test_the_guard_resolves_a_name_when_a_subscription_names_it() -> None:
    answers = {"inside.example": ["127.0.0.1"], "mixed.example": ["8.8.8.8", "::1"]}

    async def resolver(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError(f"{host}: no such name")
        return answers[host]

    guard = AddressGuard(resolver=resolver)
    with pytest.raises(AddressRefused, match=r"inside.example resolves to 127.0.0.1 \(loopback\)"):
        await guard.check_url("https://inside.example/hook")
    with pytest.raises(AddressRefused, match="::1"):
        await guard.check_url("https://mixed.example/hook")
    with pytest.raises(AddressRefused, match=r"0177.0.0.1 is 127.0.0.1 \(loopback\)"):
        await guard.check_url("http://0177.0.0.1/hook")
    await guard.check_url("https://not-yet-registered.example/hook")  # judged when sending
    opened = AddressGuard(parse_networks(["127.0.0.1/32"]), resolver)
    await opened.check_url("https://inside.example/hook")


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        _Recorder.hits.append(self.path)
        length = int(self.headers.get("content-length", 0))
        self.rfile.read(length)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
        else:
            self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    _Recorder.hits = []
    with serving(ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)) as port:
        yield port


@pytest.mark.parametrize(("address", "reason"), REFUSED)
async def test_the_client_refuses_at_connect_time(address: str, reason: str) -> None:
    """A name that resolves inward is refused before any connection is opened."""
    asked: list[str] = []

    async def resolver(host: str, port: int) -> list[str]:
        asked.append(host)
        return [address]

    async with guarded_client(resolver=resolver) as client:
        with pytest.raises(AddressRefused, match=reason.split(" ")[0]):
            await client.post("http://hooks.bureau.example/alerts", content=b"{}")
    assert asked == ["hooks.bureau.example"]


async def test_the_resolved_address_is_pinned(server: int) -> None:
    """The connection goes to the address the guard judged, not to a fresh lookup."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    allowed = parse_networks(["127.0.0.1/32"])
    async with guarded_client(allowed, resolver=rebinding) as client:
        first = await client.post(f"http://rebind.example:{server}/a", content=b"{}")
        assert first.status_code == 204
    assert _Recorder.hits == ["/a"]


async def test_loopback_is_refused_without_the_allow_list(server: int) -> None:
    async with guarded_client() as client:
        with pytest.raises(AddressRefused):
            await client.post(f"http://127.0.0.1:{server}/a", content=b"{}")
        with pytest.raises(AddressRefused):
            await client.post(f"http://localhost:{server}/a", content=b"{}")
    assert _Recorder.hits == []


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1"])
async def test_numeric_hosts_are_refused_at_connect_time(server: int, host: str) -> None:
    """httpx hands such hosts over as names; the guard reads them as addresses."""
    async with guarded_client() as client:
        with pytest.raises(AddressRefused, match="loopback"):
            await client.post(f"http://{host}:{server}/a", content=b"{}")
    assert _Recorder.hits == []


async def test_redirects_are_not_followed(server: int) -> None:
    async with guarded_client(parse_networks(["127.0.0.1/32"])) as client:
        answer = await client.post(f"http://127.0.0.1:{server}/redirect", content=b"{}")
    assert answer.status_code == 302
    assert _Recorder.hits == ["/redirect"], "the redirect target was not requested"


async def test_environment_proxies_are_ignored(
    server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    monkeypatch.setenv("ALL_PROXY", "http://10.0.0.1:3128")
    async with guarded_client(parse_networks(["127.0.0.1/32"])) as client:
        answer = await asyncio.wait_for(
            client.post(f"http://127.0.0.1:{server}/direct", content=b"{}"), 10
        )
    assert answer.status_code == 204
    assert isinstance(answer, httpx.Response)
