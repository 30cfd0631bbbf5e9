"""Reading a batch body into its articles: a JSON array, or NDJSON read line by line so
that one broken line is that item's error and the other lines still count."""

from __future__ import annotations

import json
from email.message import Message
from typing import Any, Literal

from services.common.bodies import UnreadableBody, decode_utf8, parse_json
from services.ingest.domain.batches import BatchItem

BatchFormat = Literal["json", "ndjson"]
_NDJSON_SUBTYPES = {"x-ndjson", "ndjson", "jsonl", "x-jsonlines", "jsonlines"}
NEEDED_TYPES = "application/json (an array of articles) or application/x-ndjson"


class UnsupportedBatchType(Exception):
    """The Content-Type is neither JSON nor NDJSON (or missing)."""


class BatchNotJson(Exception):
    """A JSON batch that is not a JSON array: no article in it can be told apart."""


def batch_format(content_type: str | None) -> BatchFormat:
    if not content_type:
        raise UnsupportedBatchType(f"a batch needs Content-Type {NEEDED_TYPES}; it has none")
    header = Message()
    header["content-type"] = content_type
    maintype, subtype = header.get_content_maintype(), header.get_content_subtype()
    if maintype == "application" and (subtype == "json" or subtype.endswith("+json")):
        return "json"
    if maintype == "application" and subtype in _NDJSON_SUBTYPES:
        return "ndjson"
    raise UnsupportedBatchType(
        f"a batch needs Content-Type {NEEDED_TYPES}; it has {content_type!r}"
    )


def read_batch(raw: bytes, form: BatchFormat) -> list[BatchItem]:
    """``UnreadableBody`` or ``BatchNotJson`` when a JSON array batch cannot be read whole;
    an NDJSON batch is read line by line and never refused whole."""
    return _read_ndjson(raw) if form == "ndjson" else _read_array(raw)


def _read_array(raw: bytes) -> list[BatchItem]:
    text = decode_utf8(raw, "the batch")
    try:
        parsed = parse_json(text, "the batch")
    except json.JSONDecodeError as exc:
        raise BatchNotJson(
            f"the batch is not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            "send a JSON array of articles, or NDJSON"
        ) from exc
    if not isinstance(parsed, list):
        raise BatchNotJson("a JSON batch must be an array of articles")
    return [_measured(value) for value in parsed]


def _read_ndjson(raw: bytes) -> list[BatchItem]:
    items: list[BatchItem] = []
    # Split the bytes, not the text: str.splitlines would also cut at U+2028 and the like,
    # which JSON strings may hold raw.
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip():
            items.append(_read_line(number, line))
    return items


def _read_line(number: int, line: bytes) -> BatchItem:
    what = f"line {number}"
    try:
        value = parse_json(decode_utf8(line, what), what)
    except UnreadableBody as exc:
        return BatchItem(error=str(exc), code=400)
    except json.JSONDecodeError as exc:
        return BatchItem(error=f"{what} is not JSON: {exc.msg} (column {exc.colno})", code=422)
    return BatchItem(value=value, size=len(line))


def _measured(value: Any) -> BatchItem:
    """An array item with its size as compact UTF-8 JSON, as it would be pushed alone."""
    try:
        encoded = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except RecursionError:
        return BatchItem(error="the article nests arrays or objects too deeply", code=400)
    # surrogatepass: a lone surrogate is counted here and refused by validation later.
    return BatchItem(value=value, size=len(encoded.encode("utf-8", errors="surrogatepass")))
