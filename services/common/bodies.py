"""Reading a JSON request body, with a reason a crawler can act on when it cannot be read."""

from __future__ import annotations

import json
from typing import Any

from services.common.errors import AllianceWatchError


class UnreadableBody(AllianceWatchError):
    """The body is not text we can read (not UTF-8, or nested past what the parser takes);
    the message says which, for the client. A permanent error: the same bytes never work."""


def decode_utf8(raw: bytes, what: str = "the body") -> str:
    """``raw`` as text; ``UnreadableBody`` naming the encoding problem otherwise."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableBody(not_utf8_reason(raw, exc, what)) from exc


def not_utf8_reason(raw: bytes, exc: UnicodeDecodeError, what: str = "the body") -> str:
    """Why ``raw`` is not UTF-8, guessing GBK (the usual crawler mistake on Chinese pages)."""
    reason = (
        f"{what} is not UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start} "
        f"cannot be read); send JSON encoded as UTF-8"
    )
    if _reads_as_gb18030(raw):
        reason += ": it reads as GBK / GB18030, decode the page with that and re-encode it"
    return reason


def parse_json(text: str, what: str = "the body") -> Any:
    """``text`` as JSON. ``json.JSONDecodeError`` for a syntax error (the caller words it);
    ``UnreadableBody`` for nesting deeper than the parser's recursion allows."""
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise UnreadableBody(nested_too_deeply(what)) from exc


def nested_too_deeply(what: str = "the body") -> str:
    return f"{what} nests arrays or objects too deeply to be read; an article is a flat object"


def _reads_as_gb18030(raw: bytes) -> bool:
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True
