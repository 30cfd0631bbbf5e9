"""Article files in the encodings Chinese news arrives in: UTF-8 (with or without a byte
order mark), else GB18030, which older sites and Windows tools still write (it is a
superset of GBK and GB2312, so one strict decoder reads all three), or Big5, which sites
in Taiwan and Hong Kong write.

Big5 bytes also decode as GB18030, into nonsense, without an error: when a file decodes
both ways, the reading with more of the commonest characters of Chinese prose wins."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class DecodedText:
    text: str
    encoding: str  # "utf-8", "utf-8-sig", "gb18030" or "big5"
    lossy: bool  # invalid bytes were replaced with U+FFFD: the text is not what was meant


def decode_article(data: bytes) -> DecodedText:
    """The text of an article file: UTF-8 if it decodes every byte, else whichever of
    GB18030 and Big5 does and reads more like prose, else UTF-8 with the invalid bytes
    replaced (``lossy``, for the caller to warn about)."""
    if data.startswith(codecs.BOM_UTF8):
        # The mark says UTF-8: no other encoding is tried, even if the rest is broken.
        return _strict_or_lossy(data[len(codecs.BOM_UTF8) :], "utf-8-sig")
    text = _strict(data, "utf-8")
    if text is not None:
        return DecodedText(text, "utf-8", lossy=False)
    readings = [
        DecodedText(text, encoding, lossy=False)
        for encoding in ("gb18030", "big5")
        if (text := _strict(data, encoding)) is not None
    ]
    if readings:
        # on a tie GB18030 stays: it is the more common on mainland sites
        return max(readings, key=lambda r: len(_COMMON.findall(r.text)))
    return DecodedText(data.decode("utf-8", errors="replace"), "utf-8", lossy=True)


#: the commonest characters of Chinese news prose, in both scripts (a wrong decoding of the
#: same bytes gives rare characters and private-use code points instead)
_COMMON = re.compile("[的是在了和有与與为為中年月日医醫院人不一这這个個会會对對上大来來时時]")


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _strict_or_lossy(data: bytes, encoding: str) -> DecodedText:
    text = _strict(data, "utf-8")
    if text is not None:
        return DecodedText(text, encoding, lossy=False)
    return DecodedText(data.decode("utf-8", errors="replace"), encoding, lossy=True)
