"""The guarded client's connections, on the asyncio backend of ours: kept alive and reused,
dropped when the server closes them, timeouts and refusals as httpx names them, TLS
verified against the URL's host, and the SSRF guard in front of every connection."""

from __future__ import annotations

import asyncio
import datetime
import socket
import ssl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from services.notify.adapters.aio_stream import AsyncioBackend
from services.notify.adapters.net import (
    AddressGuard,
    GuardedBackend,
    GuardedTransport,
    guarded_client,
)
from services.notify.domain.ssrf import AddressRefused, parse_networks
from tests.unit.notify.receivers import free_port, serving

LOOPBACK = parse_networks(["127.0.0.1/32"])
BIG = b"x" * (1024 * 1024 + 17)


async def to_loopback(host: str, port: int) -> list[str]:
    """Every name resolves to 127.0.0.1 (allowed only where a test opens it)."""
    return ["127.0.0.1"]


class _Hook(BaseHTTPRequestHandler):
    """Keeps connections alive (HTTP/1.1); records each request's path and client port."""

    protocol_version = "HTTP/1.1"
    seen: list[tuple[str, int]] = []

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        _Hook.seen.append((self.path, self.client_address[1]))
        body = BIG if self.path == "/big" else b""
        self.send_response(200 if body else 204)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path == "/close":
            # The answer said nothing of closing: the client holds the connection as
            # kept alive, and the server drops it as an idle one past its keep-alive.
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(httpd: ThreadingHTTPServer) -> Iterator[int]:
    _Hook.seen = []
    with serving(httpd) as port:
        yield port


@pytest.fixture
def hook() -> Iterator[int]:
    yield from _serve(ThreadingHTTPServer(("127.0.0.1", 0), _Hook))


@pytest.fixture
def silent() -> Iterator[int]:
    """A port that takes connections (the kernel's backlog) and never answers or reads."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


async def test_a_post_goes_out_and_its_connection_is_reused(hook: int) -> None:
    async with guarded_client(LOOPBACK) as client:
        for path in ("/a", "/b", "/c"):
            answer = await client.post(f"http://127.0.0.1:{hook}{path}", content=b"{}")
            assert answer.status_code == 204
    assert [path for path, _ in _Hook.seen] == ["/a", "/b", "/c"]
    assert len({port for _, port in _Hook.seen}) == 1, "one kept-alive connection"


async def test_a_connection_the_server_closed_while_idle_is_not_reused(hook: int) -> None:
    async with guarded_client(LOOPBACK) as client:
        first = await client.post(f"http://127.0.0.1:{hook}/close", content=b"{}")
        assert first.status_code == 204
        await asyncio.sleep(0.2)  # the server's FIN arrives while the connection idles
        second = await client.post(f"http://127.0.0.1:{hook}/after", content=b"{}")
        assert second.status_code == 204, "a fresh connection, not a disconnect error"
    (_, first_port), (_, second_port) = _Hook.seen
    assert first_port != second_port


async def test_a_large_answer_is_read_whole(hook: int) -> None:
    async with guarded_client(LOOPBACK) as client:
        for _ in range(2):
            answer = await client.post(f"http://127.0.0.1:{hook}/big", content=b"{}")
            assert answer.status_code == 200 and answer.content == BIG
    assert len({port for _, port in _Hook.seen}) == 1


async def test_a_server_that_never_answers_is_a_read_timeout(silent: int) -> None:
    async with guarded_client(LOOPBACK, timeout_seconds=0.3) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(f"http://127.0.0.1:{silent}/hook", content=b"{}")


async def test_a_refused_connection_is_a_connect_error() -> None:
    port = free_port()
    async with guarded_client(LOOPBACK) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"http://127.0.0.1:{port}/hook", content=b"{}")


async def test_a_peer_that_takes_nothing_is_a_write_timeout(silent: int) -> None:
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", silent, timeout=5)
    try:
        with pytest.raises(httpcore.WriteTimeout):
            await stream.write(b"x" * (32 * 1024 * 1024), timeout=0.3)
    finally:
        await stream.aclose()


async def test_readable_is_known_without_asking_the_socket(hook: int) -> None:
    """Idle and readable means the server closed the connection: the pool's question."""
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", hook, timeout=5)
    assert not stream.get_extra_info("is_readable")
    assert stream.get_extra_info("server_addr") == ("127.0.0.1", hook)
    assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
    assert stream.get_extra_info("ssl_object") is None
    request = f"POST /close HTTP/1.1\r\nHost: 127.0.0.1:{hook}\r\nContent-Length: 0\r\n\r\n"
    await stream.write(request.encode(), timeout=5)
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += await stream.read(65536, timeout=5)
    assert answer.startswith(b"HTTP/1.1 204")
    for _ in range(100):
        if stream.get_extra_info("is_readable"):
            break
        await asyncio.sleep(0.01)
    assert stream.get_extra_info("is_readable"), "the server's close was noticed"
    assert await stream.read(65536, timeout=5) == b"", "and reads as the end of the stream"
    await stream.aclose()
    with pytest.raises(httpcore.ReadError):
        await stream.read(65536, timeout=5)
    with pytest.raises(httpcore.WriteError):
        await stream.write(b"more", timeout=5)


class _Recording(httpcore.AsyncNetworkBackend):
    """An injected inner backend: records where the guard sends it."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []
        self.inner = AsyncioBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.asked.append((host, port))
        return await self.inner.connect_tcp(host, port, timeout=timeout)


async def test_the_guard_hands_the_inner_backend_only_the_pinned_address(hook: int) -> None:
    inner = _Recording()
    backend = GuardedBackend(AddressGuard(LOOPBACK, to_loopback), inner=inner)
    stream = await backend.connect_tcp("hooks.bureau.example", hook, timeout=5)
    await stream.aclose()
    assert inner.asked == [("127.0.0.1", hook)]


async def test_a_name_resolving_to_a_refused_address_opens_no_connection(hook: int) -> None:
    inner = _Recording()
    backend = GuardedBackend(AddressGuard(resolver=to_loopback), inner=inner)
    with pytest.raises(AddressRefused, match="loopback"):
        await backend.connect_tcp("hooks.bureau.example", hook, timeout=5)
    async with guarded_client(resolver=to_loopback) as client:
        with pytest.raises(AddressRefused, match="loopback"):
            await client.post(f"http://hooks.bureau.example:{hook}/x", content=b"{}")
    assert inner.asked == [] and _Hook.seen == []


# TLS: a CA of the test's own, and a certificate from it for hooks.bureau.example only
# (no IP address in it: it verifies against the URL's host, not the pinned address).

TLS_HOST = "hooks.bureau.example"


@dataclass(frozen=True)
class _Pki:
    ca_pem: bytes
    cert_file: Path
    key_file: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> _Pki:
    x509 = pytest.importorskip("cryptography.x509", reason="cryptography makes the test CA")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Alliance Watch test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TLS_HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(TLS_HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("pki")
    cert_file, key_file = folder / "server.pem", folder / "server.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return _Pki(ca.public_bytes(serialization.Encoding.PEM), cert_file, key_file)


@pytest.fixture
def tls_hook(pki: _Pki) -> Iterator[int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.cert_file, pki.key_file)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    yield from _serve(httpd)


def _trusting(pki: _Pki) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=pki.ca_pem.decode())


async def test_tls_to_an_untrusted_certificate_is_refused(tls_hook: int) -> None:
    async with guarded_client(LOOPBACK, resolver=to_loopback) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.post(f"https://{TLS_HOST}:{tls_hook}/hook", content=b"{}")
    assert _Hook.seen == []


async def test_tls_with_the_ca_trusted_verifies_the_urls_host(pki: _Pki, tls_hook: int) -> None:
    guard = AddressGuard(LOOPBACK, to_loopback)
    transport = GuardedTransport(guard, ssl_context=_trusting(pki))
    async with httpx.AsyncClient(transport=transport) as client:
        for path in ("/a", "/b"):
            answer = await client.post(f"https://{TLS_HOST}:{tls_hook}{path}", content=b"{}")
            assert answer.status_code == 204
        big = await client.post(f"https://{TLS_HOST}:{tls_hook}/big", content=b"{}")
        assert big.content == BIG
    assert [path for path, _ in _Hook.seen] == ["/a", "/b", "/big"]
    assert len({port for _, port in _Hook.seen}) == 1, "one kept-alive TLS connection"


async def test_tls_to_a_certificate_for_another_host_is_refused(pki: _Pki, tls_hook: int) -> None:
    """The same pinned address, the same trusted CA: the name in the URL must match."""
    guard = AddressGuard(LOOPBACK, to_loopback)
    transport = GuardedTransport(guard, ssl_context=_trusting(pki))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.post(f"https://other.bureau.example:{tls_hook}/x", content=b"{}")
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.post(f"https://127.0.0.1:{tls_hook}/x", content=b"{}")
    assert _Hook.seen == []
