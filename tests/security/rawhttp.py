"""A bare HTTP/1.1 client on a socket: it sends a request's head and only as much of the
body as a test says, then reads the answer, to show a server answered before the body
ended (an HTTP library would insist on sending the whole body first)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

#: A bound on every socket call: a server that waits for the rest of a body fails the
#: test by this timeout instead of hanging it.
SOCKET_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def start_post(base_url: str, path: str, headers: dict[str, str]) -> socket.socket:
    """Connect and send the head of a POST; the caller sends (some of) the body."""
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sock = socket.create_connection((host, port), timeout=SOCKET_TIMEOUT_SECONDS)
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    return sock


def send_chunk(sock: socket.socket, data: bytes) -> bool:
    """Send one chunk of a chunked body; False once the server closed the connection
    (it stopped reading: the answer is waiting to be read)."""
    try:
        sock.sendall(b"%x\r\n" % len(data) + data + b"\r\n")
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def read_answer(sock: socket.socket) -> Answer:
    """Read the first final answer (1xx skipped) to its end, then close the socket."""
    data = b""
    with sock:
        while True:
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0 and not data.startswith(b"HTTP/1.1 1"):
                break
            if head_end >= 0:
                data = data[head_end + 4 :]  # an interim 1xx answer
                continue
            data += _receive(sock)
        head, body = data[:head_end].decode("latin-1"), data[head_end + 4 :]
        status = int(head.split(" ", 2)[1])
        length = _content_length(head)
        while length is not None and len(body) < length:
            more = _receive(sock)
            body += more
        return Answer(status, body if length is None else body[:length])


def _receive(sock: socket.socket) -> bytes:
    try:
        piece = sock.recv(65536)
    except ConnectionResetError as exc:
        raise ConnectionError("the server reset the connection before answering") from exc
    if not piece:
        raise ConnectionError("the server closed the connection before answering")
    return piece


def _content_length(head: str) -> int | None:
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return int(value.strip())
    return None
