"""How the registry's domain values are stored: rows to records and back."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import Executable, Row
from sqlmodel import Session, SQLModel

from services.common.contracts import EventType, Institution
from services.common.values import canonical_json as dumps
from services.common.values import utc
from services.registry.adapters.tables import InstitutionRow, ReportRow
from services.registry.domain.alliances import Report
from services.registry.domain.institutions import InstitutionPlace, InstitutionRecord

T = TypeVar("T")

#: Values bound in one ``IN (...)``: a batch's reads can name thousands, and SQLite and
#: PostgreSQL cap the parameters of a statement (32766 and 65535).
IN_CHUNK = 1000


def read(
    session: Session, statement: Executable, params: Mapping[str, Any]
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The rows of a SELECT of columns, run on the session's connection: through the ORM,
    which builds nothing of such rows, a statement costs more than SQLite takes to run it.
    What the session holds is flushed first, as the ORM's autoflush would."""
    session.flush()
    return session.connection().execute(statement, params).all()


def in_chunks(values: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """``values`` in lists of at most ``size``, for one SELECT ... IN each."""
    rest = iter(values)
    while chunk := list(itertools.islice(rest, size)):
        yield chunk


@dataclass(frozen=True)
class ArticleRecord:
    """An article's row as one transaction knows it (``ArticleRow``'s columns, in order):
    read with a plain SELECT and written with a plain INSERT or UPDATE, so that the
    session has no article objects to track and flush."""

    article_id: str
    extractor_version: str
    extracted_at: datetime
    fingerprint: str
    relevant: bool
    event_count: int
    url: str | None
    title: str
    published_at: date | None
    first_received_at: datetime
    updated_at: datetime


def record_of(row: InstitutionRow) -> InstitutionRecord:
    return InstitutionRecord(
        id=row.id,
        name=row.name,
        key=row.key,
        aliases=tuple(json.loads(row.aliases)),
        place=InstitutionPlace(province=row.province, city=row.city, county=row.county),
    )


def institution_values(record: InstitutionRecord) -> dict[str, Any]:
    """The institution's columns (cut to their widths), but for its id and times."""
    return {
        "name": record.name[:200],
        "key": record.key[:200],
        "aliases": dumps([a[:200] for a in record.aliases]),
        "province": record.place.province[:40] if record.place.province else None,
        "city": record.place.city[:60] if record.place.city else None,
        "county": record.place.county[:60] if record.place.county else None,
    }


def stored_record(record: InstitutionRecord) -> InstitutionRecord:
    """The record as reading its row back would give it (``record_of``): what a
    transaction's cache of institutions keeps, so that it answers as the table would."""
    values = institution_values(record)
    return InstitutionRecord(
        id=record.id,
        name=values["name"],
        key=values["key"],
        aliases=tuple(json.loads(values["aliases"])),
        place=InstitutionPlace(
            province=values["province"], city=values["city"], county=values["county"]
        ),
    )


def fill_institution(row: InstitutionRow, record: InstitutionRecord) -> None:
    for name, value in institution_values(record).items():
        setattr(row, name, value)


def institution_of(row: InstitutionRow) -> Institution:
    return Institution(
        id=row.id,
        name=row.name,
        aliases=tuple(json.loads(row.aliases)),
        province=row.province,
        city=row.city,
        county=row.county,
    )


def public_institution(record: InstitutionRecord) -> Institution:
    """A stored record (``stored_record``) as ``institution_of`` its row would show it."""
    return Institution(
        id=record.id,
        name=record.name,
        aliases=record.aliases,
        province=record.place.province,
        city=record.place.city,
        county=record.place.county,
    )


def report_of(row: ReportRow | Row[Any]) -> Report:
    """A report from its row, as an object or as the columns a select returned."""
    return Report(
        article_id=row.article_id,
        event_index=row.event_index,
        type=EventType(row.type),
        specialty=row.specialty,
        lead=tuple(json.loads(row.lead)),
        members=tuple(json.loads(row.members)),
        date=row.date,
        provinces=tuple(json.loads(row.provinces)),
        cross_province=row.cross_province,
        confidence=row.confidence,
        evidence=row.evidence,
        seen_at=utc(row.seen_at),
    )


def row_values(row: SQLModel) -> dict[str, Any]:
    """The row's columns, for an INSERT that skips the ORM's unit of work."""
    return {name: getattr(row, name) for name in type(row).model_fields}


def report_values(report: Report, alliance_id: str) -> dict[str, Any]:
    """The report's row (``ReportRow``'s columns) filed under ``alliance_id``."""
    return {
        "id": f"{report.article_id}#{report.event_index}",
        "article_id": report.article_id,
        "event_index": report.event_index,
        "alliance_id": alliance_id,
        "type": report.type.value,
        "specialty": report.specialty[:60] if report.specialty else None,
        "date": report.date,
        "provinces": dumps(list(report.provinces)),
        "cross_province": report.cross_province,
        "confidence": report.confidence,
        "evidence": report.evidence,
        "lead": dumps(list(report.lead)),
        "members": dumps(list(report.members)),
        "seen_at": report.seen_at,
    }
