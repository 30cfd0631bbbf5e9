"""What the query API answers: the ``...Public`` models, constrained in their fields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.common.contracts import EventDate, EventType
from services.registry.adapters.queries import AllianceView, InstitutionView
from services.registry.config import alliance_page_url

Id = Annotated[str, Field(min_length=1, max_length=40)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True)


class InstitutionPublic(_Public):
    id: Id
    name: Name
    aliases: list[str] = Field(default_factory=list)
    province: Annotated[str | None, Field(max_length=40)] = None
    city: Annotated[str | None, Field(max_length=60)] = None
    county: Annotated[str | None, Field(max_length=60)] = None


class SourcePublic(_Public):
    article_id: Annotated[str, Field(min_length=1, max_length=128)]
    url: str | None = None
    title: str = ""
    published_at: date | None = None
    evidence: str = Field(description="The sentence(s) the facts were read from.")


class AlternativePublic(_Public):
    value: str | bool | None
    support: Annotated[int, Field(ge=1, description="Distinct articles giving this value.")]
    article_ids: list[str]


class AlliancePublic(_Public):
    id: Id
    type: EventType
    specialty: Annotated[str | None, Field(max_length=60)] = None
    lead: list[InstitutionPublic]
    members: list[InstitutionPublic]
    date: EventDate | None = None
    provinces: list[str]
    cross_province: bool
    confidence: Annotated[float, Field(ge=0.0, le=1.0)]
    first_seen: datetime
    last_seen: datetime
    sources: list[SourcePublic]
    alternatives: dict[str, list[AlternativePublic]] = Field(
        default_factory=dict,
        description="For facts the sources disagree on: every value given, best first.",
    )
    revision: Annotated[int, Field(ge=1)]
    url: str | None = Field(
        None,
        description="The alliance's page, <PUBLIC_BASE_URL>/alliances/<id>, which alerts link "
        "to as its evidence (PUBLIC_BASE_URL defaults to the registry's own address).",
    )

    @classmethod
    def of(cls, view: AllianceView, public_base_url: str = "") -> AlliancePublic:
        data = view.alliance.model_dump()
        data["url"] = (
            alliance_page_url(public_base_url, view.alliance.id) if public_base_url else None
        )
        data["alternatives"] = {
            name: [
                {"value": a.value, "support": a.support, "article_ids": list(a.article_ids)}
                for a in alts
            ]
            for name, alts in view.alternatives.items()
        }
        data["revision"] = view.revision
        return cls.model_validate(data)


class AlliancePage(_Public):
    items: list[AlliancePublic]
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page.")


class InstitutionSummaryPublic(InstitutionPublic):
    alliance_count: Annotated[int, Field(ge=0)]

    @classmethod
    def of(cls, view: InstitutionView) -> InstitutionSummaryPublic:
        return cls.model_validate(
            {**view.institution.model_dump(), "alliance_count": view.alliance_count}
        )


class InstitutionPage(_Public):
    items: list[InstitutionSummaryPublic]
    next_cursor: str | None = None


class InstitutionAlliancePublic(_Public):
    role: Annotated[str, Field(pattern="^(lead|member)$")]
    alliance: AlliancePublic


class InstitutionDetailPublic(InstitutionSummaryPublic):
    alliances: list[InstitutionAlliancePublic]


class StatsPublic(_Public):
    total: Annotated[int, Field(ge=0)]
    by_province: dict[str, int]
    by_type: dict[str, int]
    by_specialty: dict[str, int]
    by_month: dict[str, int]


class RenameCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    old_name: Name
    new_name: Name


class RenamePublic(_Public):
    id: Annotated[int, Field(ge=1)]
    old_name: Name
    new_name: Name
    created_at: datetime


class ArticlePublic(_Public):
    article_id: Annotated[str, Field(min_length=1, max_length=128)]
    extractor_version: Annotated[str, Field(max_length=64)]
    relevant: bool
    event_count: Annotated[int, Field(ge=0)]
    url: str | None = None
    title: str = ""
    published_at: date | None = None
    alliance_ids: list[str] = Field(default_factory=list)


class ArticlePage(_Public):
    items: list[ArticlePublic]
    next_cursor: str | None = None


class NetworkNode(_Public):
    id: Id
    name: Name
    province: str | None = None
    city: str | None = None
    county: str | None = None
    alliance_count: Annotated[int, Field(ge=0)]


class NetworkEdge(_Public):
    source: Id
    target: Id
    weight: Annotated[int, Field(ge=1, description="Alliances linking the two.")]
    alliance_ids: list[str]
    types: list[EventType]


class NetworkPublic(_Public):
    nodes: list[NetworkNode]
    edges: list[NetworkEdge]
    alliance_count: Annotated[int, Field(ge=0)]
    truncated: bool = False
