"""The registry's tables. The schema itself is made by the Alembic migrations in
``services/registry/migrations``; these models must describe exactly what they create
(a test compares the two). Times are naive UTC.
"""

from __future__ import annotations

from datetime import date as Day
from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel


class ArticleRow(SQLModel, table=True):
    """An article whose extraction the registry took in, with the version it kept."""

    __tablename__ = "articles"

    article_id: str = Field(primary_key=True, max_length=128)
    extractor_version: str = Field(max_length=64)
    extracted_at: datetime
    fingerprint: str = Field(max_length=64)
    relevant: bool
    event_count: int
    url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    title: str = Field(default="", sa_column=Column(Text, nullable=False))
    published_at: Day | None = None
    first_received_at: datetime
    updated_at: datetime


class InstitutionRow(SQLModel, table=True):
    __tablename__ = "institutions"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    key: str = Field(max_length=200, index=True)
    aliases: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    province: str | None = Field(default=None, max_length=40)
    city: str | None = Field(default=None, max_length=60)
    county: str | None = Field(default=None, max_length=60)
    created_at: datetime
    updated_at: datetime


class InstitutionNameRow(SQLModel, table=True):
    """Every name key an institution is known by (its own and its aliases')."""

    __tablename__ = "institution_names"

    key: str = Field(primary_key=True, max_length=200)
    institution_id: str = Field(
        primary_key=True, max_length=40, foreign_key="institutions.id", ondelete="CASCADE"
    )


class AllianceRow(SQLModel, table=True):
    __tablename__ = "alliances"
    __table_args__ = (Index("ix_alliances_first_seen_id", "first_seen", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    type: str = Field(max_length=40, index=True)
    specialty: str | None = Field(default=None, max_length=60, index=True)
    date: str | None = Field(default=None, max_length=10)
    date_start: Day | None = Field(default=None, index=True)
    date_end: Day | None = None
    cross_province: bool
    confidence: float
    first_seen: datetime
    last_seen: datetime
    revision: int
    source_count: int
    search_text: str = Field(default="", sa_column=Column(Text, nullable=False))
    #: Sources and alternatives, as JSON; lead and members come from alliance_institutions.
    document: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    updated_at: datetime
    #: An analyst's verdict (``domain/review.py: ReviewStatus``), and who gave it when.
    review_status: str = Field(default="unreviewed", max_length=12, index=True)
    reviewed_at: datetime | None = None
    reviewed_by: str | None = Field(default=None, max_length=40)
    #: The values an analyst corrected, as JSON ({field: value}; lead and members as
    #: institution ids): its keys are the locked fields, which later extractions never
    #: overwrite.
    corrections: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    #: The alliance an analyst merged this one into; it then has no reports of its own.
    merged_into: str | None = Field(default=None, max_length=40, index=True)


class AllianceInstitutionRow(SQLModel, table=True):
    __tablename__ = "alliance_institutions"

    alliance_id: str = Field(
        primary_key=True, max_length=40, foreign_key="alliances.id", ondelete="CASCADE"
    )
    institution_id: str = Field(
        primary_key=True, max_length=40, foreign_key="institutions.id", index=True
    )
    role: str = Field(max_length=10)
    position: int


class AlliancePlaceRow(SQLModel, table=True):
    """Provinces, cities and counties an alliance touches, for filtering."""

    __tablename__ = "alliance_places"
    __table_args__ = (Index("ix_alliance_places_kind_value", "kind", "value", "alliance_id"),)

    alliance_id: str = Field(
        primary_key=True, max_length=40, foreign_key="alliances.id", ondelete="CASCADE"
    )
    kind: str = Field(primary_key=True, max_length=10)
    value: str = Field(primary_key=True, max_length=60)


class ReportRow(SQLModel, table=True):
    """One event of one article, filed under the alliance it describes."""

    __tablename__ = "alliance_reports"

    id: str = Field(primary_key=True, max_length=160)
    article_id: str = Field(max_length=128, index=True)
    event_index: int
    alliance_id: str = Field(max_length=40, foreign_key="alliances.id", index=True)
    type: str = Field(max_length=40)
    specialty: str | None = Field(default=None, max_length=60)
    date: str | None = Field(default=None, max_length=10)
    provinces: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    cross_province: bool
    confidence: float
    evidence: str = Field(default="", sa_column=Column(Text, nullable=False))
    lead: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    members: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    seen_at: datetime


class RenameRow(SQLModel, table=True):
    """Operator-maintained: an institution that changed its name."""

    __tablename__ = "institution_renames"

    id: int | None = Field(default=None, primary_key=True)
    old_key: str = Field(max_length=200, unique=True)
    old_name: str = Field(max_length=200)
    new_name: str = Field(max_length=200)
    created_at: datetime


class OutboxRow(SQLModel, table=True):
    """A committed change waiting to be (or already) published to alliances.changes."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    change_id: str = Field(max_length=80, unique=True)
    alliance_id: str = Field(max_length=40, index=True)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime
    sent_at: datetime | None = Field(default=None, index=True)
    #: The W3C trace context of the write (JSON), continued by the relay's message.
    trace_context: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AnalystRow(SQLModel, table=True):
    """Someone the operator gave a review key; only the key's SHA-256 is kept."""

    __tablename__ = "analysts"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=80)
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime
    revoked_at: datetime | None = None


class ReviewActionRow(SQLModel, table=True):
    """The audit trail: one analyst action on one alliance, with the alliance before and
    after it (its public JSON). The analyst's name is copied so the trail outlives them."""

    __tablename__ = "review_actions"

    id: int | None = Field(default=None, primary_key=True)
    alliance_id: str = Field(max_length=40, index=True)
    analyst_id: str = Field(max_length=40)
    analyst_name: str = Field(max_length=80)
    action: str = Field(max_length=12)
    at: datetime
    before: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    after: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AnalystSessionRow(SQLModel, table=True):
    """An analyst signed in to the dashboard's review pages (migration 0005)."""

    __tablename__ = "analyst_sessions"

    #: SHA-256 (hex) of the session token in the cookie; never the token itself.
    id: str = Field(primary_key=True, max_length=64)
    #: Revoking the analyst's key ends the session (it is live only while the key is).
    analyst_id: str = Field(
        foreign_key="analysts.id", ondelete="CASCADE", index=True, max_length=40
    )
    created_at: datetime
    expires_at: datetime = Field(index=True)


REGISTRY_TABLES = (
    ArticleRow,
    InstitutionRow,
    InstitutionNameRow,
    AllianceRow,
    AllianceInstitutionRow,
    AlliancePlaceRow,
    ReportRow,
    RenameRow,
    OutboxRow,
    AnalystRow,
    ReviewActionRow,
    AnalystSessionRow,
)
