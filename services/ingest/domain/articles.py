"""What an accepted article is, and how it gets a stable identity."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.common.errors import AllianceWatchError

#: Query parameters that only track a visit and never change the article.
_TRACKING_PARAMS = re.compile(r"^(utm_.*|spm|from|source|share.*|isappinstalled|scene|fbclid)$")


class ArticleCreate(BaseModel):
    """An article as a crawler pushes it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: Annotated[
        str | None, Field(max_length=2048, pattern=r"^https?://[^/\s?#@]+(?:[/?#]\S*)?$")
    ] = None
    title: Annotated[str, Field(max_length=1000)] = ""
    body: Annotated[str, Field(min_length=1)]
    content_type: Literal["text/html", "text/plain"] = "text/plain"
    published_at: date | datetime | None = None
    source: Annotated[str | None, Field(max_length=200)] = None

    @field_validator("title", "body", "source", mode="before")
    @classmethod
    def _without_nul(cls, value: object) -> object:
        # NUL carries no text (a crawler's decoding slip) and PostgreSQL cannot store it.
        return value.replace("\x00", "") if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _absolute_http_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ValueError("url has control characters (such as NUL)")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an absolute http(s) URL")
        try:
            _ = parts.port
        except ValueError:
            raise ValueError("url has a port that is not a number") from None
        return value

    @property
    def published_date(self) -> date | None:
        if isinstance(self.published_at, datetime):
            return self.published_at.date()
        return self.published_at


def canonical_url(url: str) -> str:
    """The same article under cosmetic URL differences maps to one string."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (parts.scheme == "http" and parts.port == 80)
        or (parts.scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not _TRACKING_PARAMS.match(k.lower())
    )
    path = parts.path or "/"
    if len(path) > 1:
        path = path.rstrip("/")
    # http and https serve the same article on Chinese news sites; the scheme is not identity.
    return urlunsplit(("https", host, path, urlencode(query), ""))


def content_hash(title: str, body: str) -> str:
    normal = unicodedata.normalize("NFKC", f"{title}\n{body}")
    normal = re.sub(r"\s+", " ", normal).strip()
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()


def article_id_for(article: ArticleCreate) -> str:
    """Stable id: from the canonical URL, or from the content when there is no URL."""
    if article.url:
        digest = hashlib.sha256(canonical_url(article.url).encode("utf-8")).hexdigest()
        return "u" + digest[:31]
    return "c" + content_hash(article.title, article.body)[:31]


class ArticleTooLarge(AllianceWatchError):
    """Larger than the pipeline processes: refused for good (413), never worth a retry."""


class AcceptedArticle(BaseModel):
    article_id: str
    duplicate: bool
