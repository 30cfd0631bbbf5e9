"""Article files in the encodings Chinese news arrives in: UTF-8 (with or without a byte
order mark), else GB18030, which older sites and Windows tools still write (it is a
superset of GBK and GB2312, so one strict decoder reads all three)."""

from __future__ import annotations

import codecs
from dataclasses import dataclass


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # "utf-8", "utf-8-sig" or "gb18030"
    lossy: bool  # invalid bytes were replaced with U+FFFD: the text is not what was meant


def decode_article(data: bytes) -> DecodedText:
    """The text of an article file: the first encoding that decodes every byte, else
    UTF-8 with the invalid bytes replaced (``lossy``, for the caller to warn about)."""
    if data.startswith(codecs.BOM_UTF8):
        # The mark says UTF-8: no other encoding is tried, even if the rest is broken.
        return _strict_or_lossy(data[len(codecs.BOM_UTF8) :], "utf-8-sig")
    for encoding in ("utf-8", "gb18030"):
        try:
            return DecodedText(data.decode(encoding), encoding, lossy=False)
        except UnicodeDecodeError:
            continue  # not this encoding; the next one, or the lossy fallback, decides
    return DecodedText(data.decode("utf-8", errors="replace"), "utf-8", lossy=True)


def _strict_or_lossy(data: bytes, encoding: str) -> DecodedText:
    try:
        return DecodedText(data.decode("utf-8"), encoding, lossy=False)
    except UnicodeDecodeError:
        return DecodedText(data.decode("utf-8", errors="replace"), encoding, lossy=True)
