"""httpcore's network backend on plain asyncio: what the SSRF-guarded client connects with.

Why it exists: httpcore's own asyncio backend goes through anyio, and its connection
pool asks every pooled connection, for every request, whether the socket is readable (a
server that closed an idle kept-alive connection makes it so). Through anyio each of
those questions walks anyio's typed-attribute lookups (a ``getpeername`` every time) and
polls the socket, and every read and write checks the current task's cancel scopes: a
quarter of notify's CPU went there. Here a connection is an ``asyncio.Protocol`` that
keeps what it received, whether the peer ended the stream and whether the connection is
lost, so "readable" is answered from memory with no system call; reads and writes wait
on one future, with a timer only when they have to wait.

The loop learns of a server's close when it next polls its sockets, so a close that
arrives between that poll and the pool's question goes unseen until the request is sent
(the request then fails as a disconnect, and is retried as any failed delivery); asking
the socket had the same window, only narrower.

Only httpcore's public interfaces are used (``AsyncNetworkBackend``,
``AsyncNetworkStream`` and its exceptions), so httpx maps the errors as it always did: a
refused connection is ``httpx.ConnectError``, a silent server ``httpx.ReadTimeout``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore

#: Received bytes kept before the connection stops reading from the socket, and how far
#: a read must drain them before it reads again.
_READ_HIGH_WATER = 256 * 1024
_READ_LOW_WATER = 64 * 1024


def _time_out(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


def _wake(waiter: asyncio.Future[bool] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(True)


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection's state, as the event loop reports it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.received = bytearray()
        #: The peer ended its side of the stream (FIN, or TLS close_notify).
        self.ended = False
        #: The connection is gone; ``error`` says why when it did not end cleanly.
        self.lost = False
        self.error: BaseException | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.read_waiter: asyncio.Future[bool] | None = None
        self.drain_waiter: asyncio.Future[bool] | None = None

    # The event loop's side.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data
        if (
            not self.reading_paused
            and len(self.received) > _READ_HIGH_WATER
            and self.transport is not None
        ):
            self.reading_paused = True
            self.transport.pause_reading()
        _wake(self.read_waiter)

    def eof_received(self) -> bool | None:
        self.ended = True
        _wake(self.read_waiter)
        return None  # the loop closes the transport: the server is done with it

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = exc
        _wake(self.read_waiter)
        _wake(self.drain_waiter)

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        _wake(self.drain_waiter)

    # The stream's side.

    def take(self, max_bytes: int) -> bytes:
        """Up to ``max_bytes`` of what was received (there is some)."""
        if len(self.received) <= max_bytes:
            data = bytes(self.received)
            self.received.clear()
        else:
            data = bytes(self.received[:max_bytes])
            del self.received[:max_bytes]
        if (
            self.reading_paused
            and len(self.received) <= _READ_LOW_WATER
            and self.transport is not None
            and not self.lost
        ):
            self.reading_paused = False
            self.transport.resume_reading()
        return data

    async def wait_readable(self, timeout: float | None) -> bool:
        """Wait for data, the end of the stream or the connection's loss; False if the
        timeout came first."""
        waiter: asyncio.Future[bool] = self.loop.create_future()
        self.read_waiter = waiter
        timer = None if timeout is None else self.loop.call_later(timeout, _time_out, waiter)
        try:
            return await waiter
        finally:
            self.read_waiter = None
            if timer is not None:
                timer.cancel()

    async def wait_drained(self, timeout: float | None) -> bool:
        """Wait until the transport takes writes again (or the connection is lost);
        False if the timeout came first."""
        waiter: asyncio.Future[bool] = self.loop.create_future()
        self.drain_waiter = waiter
        timer = None if timeout is None else self.loop.call_later(timeout, _time_out, waiter)
        try:
            return await waiter
        finally:
            self.drain_waiter = None
            if timer is not None:
                timer.cancel()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """httpcore's view of one connection: read, write, upgrade to TLS, close."""

    def __init__(self, connection: _Connection, transport: asyncio.Transport) -> None:
        self._connection = connection
        self._transport = transport
        self._closed = False

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        connection = self._connection
        if self._closed:
            raise httpcore.ReadError("the connection is closed")
        while not connection.received:
            if connection.lost:
                if connection.error is not None:
                    raise httpcore.ReadError(str(connection.error)) from connection.error
                return b""
            if connection.ended:
                return b""
            if not await connection.wait_readable(timeout):
                raise httpcore.ReadTimeout(f"nothing to read in {timeout} s")
            if self._closed:
                raise httpcore.ReadError("the connection was closed while reading")
        return connection.take(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        connection = self._connection
        self._check_writable()
        self._transport.write(buffer)
        if not connection.writing_paused:
            return
        # The timeout is for the whole write, however many times the transport pauses.
        deadline = None if timeout is None else connection.loop.time() + timeout
        while connection.writing_paused:
            left = None if deadline is None else max(0.0, deadline - connection.loop.time())
            if not await connection.wait_drained(left):
                raise httpcore.WriteTimeout(f"the peer took the data too slowly ({timeout} s)")
            self._check_writable()

    def _check_writable(self) -> None:
        connection = self._connection
        if self._closed or connection.lost or self._transport.is_closing():
            reason = connection.error or "the connection is closed"
            raise httpcore.WriteError(str(reason)) from connection.error

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._transport.close()  # sends what is buffered (and TLS close_notify) if it can
        if not self._connection.lost:
            await asyncio.sleep(0)  # the loop's turn to hand that to the socket
            if not self._connection.lost:
                self._transport.abort()  # no waiting on the peer to acknowledge a close

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Upgrade to TLS, verifying the certificate against ``server_hostname`` (the
        URL's host, which httpcore passes: not the address the connection went to)."""
        connection = self._connection
        try:
            async with asyncio.timeout(timeout):
                transport = await connection.loop.start_tls(
                    self._transport, connection, ssl_context, server_hostname=server_hostname
                )
        except TimeoutError as exc:
            self._abort()
            raise httpcore.ConnectTimeout(f"TLS handshake took over {timeout} s") from exc
        except OSError as exc:  # ssl.SSLError (a refused certificate) is one
            self._abort()
            raise httpcore.ConnectError(str(exc)) from exc
        except BaseException:
            self._abort()
            raise
        if transport is None:  # the connection went while the handshake finished
            self._abort()
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        assert isinstance(transport, asyncio.Transport)
        connection.transport = transport
        return AsyncioStream(connection, transport)

    def _abort(self) -> None:
        self._closed = True
        self._transport.abort()

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            # Idle and readable means the server closed it (or sent what no request
            # asked for): either way the pool must not reuse it.
            connection = self._connection
            return bool(connection.received or connection.ended or connection.lost or self._closed)
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Opens ``AsyncioStream`` connections on the running asyncio loop."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        connection = _Connection(loop)
        local_addr = None if local_address is None else (local_address, 0)
        try:
            async with asyncio.timeout(timeout):
                transport, _ = await loop.create_connection(
                    lambda: connection, host, port, local_addr=local_addr
                )
        except TimeoutError as exc:  # before OSError: TimeoutError is one
            raise httpcore.ConnectTimeout(f"no connection to {host}:{port} in {timeout} s") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return self._opened(connection, transport, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        connection = _Connection(loop)
        try:
            async with asyncio.timeout(timeout):
                transport, _ = await loop.create_unix_connection(lambda: connection, path)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"no connection to {path} in {timeout} s") from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        return self._opened(connection, transport, socket_options)

    @staticmethod
    def _opened(
        connection: _Connection,
        transport: asyncio.BaseTransport,
        socket_options: Iterable[Any] | None,
    ) -> AsyncioStream:
        assert isinstance(transport, asyncio.Transport)
        if socket_options:
            sock = transport.get_extra_info("socket")
            try:
                for option in socket_options:
                    sock.setsockopt(*option)
            except OSError as exc:
                transport.abort()
                raise httpcore.ConnectError(str(exc)) from exc
        return AsyncioStream(connection, transport)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
