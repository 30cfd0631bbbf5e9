"""What the query API answers: the ``...Public`` models, constrained in their fields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

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


class ReviewPublic(_Public):
    """Where an analyst's review of the alliance stands."""

    status: Annotated[str, Field(pattern="^(unreviewed|confirmed|corrected|rejected)$")] = (
        "unreviewed"
    )
    reviewed_at: datetime | None = None
    reviewed_by_name: str | None = None
    locked_fields: list[str] = Field(
        default_factory=list,
        description="Fields an analyst corrected: later extractions never overwrite them.",
    )


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
    review: ReviewPublic = Field(default_factory=ReviewPublic)

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
        data["review"] = view.review.public()
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


# --- analysts and review ---------------------------------------------------------------

Note = Annotated[str | None, Field(max_length=2000, description="Why, for the audit trail.")]


class AnalystCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=80)]


class AnalystPublic(_Public):
    id: Id
    name: Annotated[str, Field(min_length=1, max_length=80)]
    created_at: datetime
    revoked_at: datetime | None = None


class AnalystCreated(_Public):
    id: Id
    name: Annotated[str, Field(min_length=1, max_length=80)]
    api_key: str = Field(description="ak_…: shown this once; only its SHA-256 is kept.")
    created_at: datetime


InstitutionNames = Annotated[
    list[Annotated[str, Field(min_length=1, max_length=120)]], Field(max_length=200)
]


class Corrections(BaseModel):
    """The facts to set; each one given is locked against later extractions."""

    model_config = ConfigDict(extra="forbid")

    lead: InstitutionNames | None = None
    members: InstitutionNames | None = None
    type: EventType | None = None
    specialty: Annotated[str | None, Field(max_length=60)] = None
    date: EventDate | None = None
    provinces: (
        Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=40)] | None
    ) = None


class ReviewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Annotated[str, Field(pattern="^(confirm|correct|reject)$")]
    changes: Corrections | None = Field(None, description="For `correct`: the fields to set.")
    note: Note = None

    def given_changes(self) -> dict[str, object] | None:
        """Only the fields the analyst sent (a null specialty or date clears it)."""
        return None if self.changes is None else self.changes.model_dump(exclude_unset=True)


class MergeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    other_id: Id = Field(description="The alliance to absorb into this one.")
    note: Note = None


class SplitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=128)]],
        Field(min_length=1, max_length=500, description="Article ids to move to a new alliance."),
    ]
    note: Note = None


class ReviewActionPublic(_Public):
    id: Annotated[int, Field(ge=1)]
    at: datetime
    analyst_id: Id
    analyst_name: str
    action: Annotated[str, Field(pattern="^(confirm|correct|reject|merge|split|absorbed)$")]
    before: dict[str, Any] | None = Field(None, description="The alliance before (its JSON).")
    after: dict[str, Any] | None = Field(None, description="The alliance after (its JSON).")
    note: str | None = None
