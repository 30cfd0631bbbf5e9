"""The extraction entry point: ``extract(ArticleInput) -> ExtractionResult``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.common.contracts import AllianceEvent

from .dates import dateline
from .events import Extractor
from .institutions import find_mentions, resolve
from .places import PlaceContext, find_place_names
from .text import normalise

#: Bump whenever rules or dictionaries change, so history can be re-extracted.
EXTRACTOR_VERSION = "0.3.1"


@dataclass(frozen=True)
class ArticleInput:
    body: str
    title: str = ""
    content_type: str = "text/plain"  # or "text/html"
    published: dt.date | None = None


@dataclass(frozen=True)
class ExtractionResult:
    relevant: bool
    events: tuple[AllianceEvent, ...]
    extractor_version: str
    text: str  # the normalised text evidence offsets point into


def extract(article: ArticleInput) -> ExtractionResult:
    """Alliance events reported by one article. Pure: same input, same output."""
    is_html = "html" in (article.content_type or "").lower()
    norm = normalise(article.body or "", title=article.title or "", is_html=is_html)
    text = norm.text
    reference = article.published or dateline(norm.head)
    ctx = PlaceContext(find_place_names(text))
    mentions = find_mentions(text)
    res = resolve(text, mentions, ctx)
    events = tuple(Extractor(text, res, ctx, reference).events())
    return ExtractionResult(relevant=bool(events), events=events,
                            extractor_version=EXTRACTOR_VERSION, text=text)
