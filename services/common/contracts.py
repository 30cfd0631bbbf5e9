"""The messages that travel between the services, defined once.

Every service imports its message models from here; none keeps its own copy. Models are
frozen so that a message, once parsed, cannot be changed on its way through a handler.
A message whose ``schema_version`` this code does not know fails validation and is
dead-lettered rather than guessed at.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1

#: Topic names. Each has a ``.dlq`` twin for messages that cannot be processed.
TOPIC_ARTICLES_RAW = "articles.raw"
TOPIC_ALLIANCES_EXTRACTED = "alliances.extracted"
TOPIC_ALLIANCES_CHANGES = "alliances.changes"
MAIN_TOPICS = (TOPIC_ARTICLES_RAW, TOPIC_ALLIANCES_EXTRACTED, TOPIC_ALLIANCES_CHANGES)
DLQ_SUFFIX = ".dlq"


def dlq_topic(topic: str) -> str:
    """The dead-letter twin of ``topic``."""
    return topic + DLQ_SUFFIX


class EventType(StrEnum):
    """The kinds of alliance event; the vocabulary shared by the API, the CLI and eval."""

    specialty_alliance = "specialty_alliance"  # 专科联盟
    tight_consortium = "tight_consortium"  # 紧密型医联体
    consortium = "consortium"  # 医联体 / 医疗联合体 / 共建分院
    medical_group = "medical_group"  # 医疗集团 / 城市医疗集团
    county_community = "county_community"  # 县域医共体
    remote_network = "remote_network"  # 远程医疗协作网
    trusteeship = "trusteeship"  # 托管
    other = "other"  # 对口支援 / 帮扶 / 协作医院 / 战略合作


class ContentType(StrEnum):
    html = "text/html"
    plain = "text/plain"


#: An event date: a day, or only a month when the article gives no day.
EventDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}(-\d{2})?$")]
Confidence = Annotated[float, Field(ge=0.0, le=1.0)]


class Message(BaseModel):
    """Base of every message: immutable, strict about unknown versions and fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION


# --- articles.raw -------------------------------------------------------------------


class RawArticle(Message):
    """An article a crawler pushed, as accepted by ingest. Keyed by ``article_id``."""

    article_id: Annotated[str, Field(min_length=1, max_length=128)]
    url: str | None = None
    title: str = ""
    body: str
    content_type: ContentType = ContentType.plain
    published_at: date | None = None
    source: str | None = None
    received_at: datetime


# --- alliances.extracted ------------------------------------------------------------


class InstitutionMention(BaseModel):
    """An institution as one article names it, with the place it is in when known."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, Field(min_length=1)]
    aliases: tuple[str, ...] = ()
    province: str | None = None
    city: str | None = None
    county: str | None = None


class Evidence(BaseModel):
    """The sentence an event was read from, with its offsets in the normalised text."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    start: Annotated[int, Field(ge=0)]
    end: Annotated[int, Field(ge=0)]


class AllianceEvent(BaseModel):
    """One alliance formation (or joining) reported by one article."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: EventType
    specialty: str | None = None
    lead: tuple[InstitutionMention, ...] = ()
    members: tuple[InstitutionMention, ...] = ()
    date: EventDate | None = None
    provinces: tuple[str, ...] = ()
    cross_province: bool = False
    cooperation: tuple[str, ...] = ()
    confidence: Confidence
    evidence: Evidence


class ExtractedArticle(Message):
    """What extraction made of one article. Keyed by ``article_id``."""

    article_id: Annotated[str, Field(min_length=1, max_length=128)]
    extractor_version: str
    url: str | None = None
    title: str = ""
    published_at: date | None = None
    relevant: bool
    events: tuple[AllianceEvent, ...] = ()
    #: the article reported more events than extraction keeps (the most confident were kept)
    events_truncated: bool = False
    extracted_at: datetime


# --- alliances.changes --------------------------------------------------------------


class Institution(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    aliases: tuple[str, ...] = ()
    province: str | None = None
    city: str | None = None
    county: str | None = None


class AllianceSource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    article_id: str
    url: str | None = None
    title: str = ""
    published_at: date | None = None
    evidence: str


class Alliance(BaseModel):
    """The registry's deduplicated record of one alliance, as the API and alerts show it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    type: EventType
    specialty: str | None = None
    lead: tuple[Institution, ...] = ()
    members: tuple[Institution, ...] = ()
    date: EventDate | None = None
    provinces: tuple[str, ...] = ()
    cross_province: bool = False
    confidence: Confidence
    first_seen: datetime
    last_seen: datetime
    sources: tuple[AllianceSource, ...] = ()
    #: The alliance's page on the registry's dashboard (``PUBLIC_BASE_URL`` +
    #: ``/alliances/{id}``): the evidence an alert links to. Set by the registry when it
    #: publishes a change; absent from messages published before it was added.
    url: str | None = None


class ChangeKind(StrEnum):
    created = "created"
    updated = "updated"
    #: an analyst rejected the alliance, or merged it into another: bureaus that were
    #: alerted of it are told it no longer stands
    retracted = "retracted"


class AllianceChange(Message):
    """A committed change to one alliance in the registry. Keyed by ``alliance_id``."""

    change_id: Annotated[str, Field(min_length=1)]
    alliance_id: Annotated[str, Field(min_length=1)]
    kind: ChangeKind
    changed_fields: tuple[str, ...] = ()
    alliance: Alliance
    occurred_at: datetime
    #: the change is an analyst's review action (a correction, a rejection, a merge or a
    #: split), not what a new report said
    by_review: bool = False
    #: for a retraction by a merge: the alliance that absorbed this one
    merged_into: str | None = None


#: Which model each main topic carries: the AsyncAPI document (tools/asyncapi.py) and its
#: drift test read it.
TOPIC_MODELS: dict[str, type[Message]] = {
    TOPIC_ARTICLES_RAW: RawArticle,
    TOPIC_ALLIANCES_EXTRACTED: ExtractedArticle,
    TOPIC_ALLIANCES_CHANGES: AllianceChange,
}

#: The field of its message whose value (UTF-8) is each main topic's message key: it
#: chooses the partition, so one article's (one alliance's) messages stay in order.
TOPIC_KEYS: dict[str, str] = {
    TOPIC_ARTICLES_RAW: "article_id",
    TOPIC_ALLIANCES_EXTRACTED: "article_id",
    TOPIC_ALLIANCES_CHANGES: "alliance_id",
}


def encode(message: Message) -> bytes:
    """The wire form of a message: UTF-8 JSON."""
    return message.model_dump_json().encode("utf-8")


M = TypeVar("M", bound=Message)


def decode(model: type[M], payload: bytes) -> M:
    """Parse a message; raises ``pydantic.ValidationError`` on anything malformed."""
    return model.model_validate_json(payload)
