"""The institutions one transaction has read or written, by id and by name key.

Resolving a batch of extractions asks about the same institutions again and again (a
name's candidates, each alliance's provinces, its search text and its outbox entry); this
answers from memory after the first SELECT, and writes through, so that it always agrees
with the tables as the transaction sees them. The transaction holds the registry's write
lock, so nobody else changes them meanwhile. A caller that changes institution rows
through the ORM (``RegistryStore.fold_renamed``) calls ``forget`` afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session, col

from services.registry.adapters.rows import in_chunks, institution_values, read, stored_record
from services.registry.adapters.tables import InstitutionNameRow, InstitutionRow
from services.registry.domain.institutions import InstitutionPlace, InstitutionRecord

_COLUMNS = (
    col(InstitutionRow.id),
    col(InstitutionRow.name),
    col(InstitutionRow.key),
    col(InstitutionRow.aliases),
    col(InstitutionRow.province),
    col(InstitutionRow.city),
    col(InstitutionRow.county),
)


# Built once (see repository.py): they run for nearly every report.
_BY_IDS = select(*_COLUMNS).where(col(InstitutionRow.id).in_(bindparam("ids", expanding=True)))
_BY_NAME_KEYS = (
    select(col(InstitutionNameRow.key), *_COLUMNS)
    .join(InstitutionRow, col(InstitutionRow.id) == InstitutionNameRow.institution_id)
    .where(col(InstitutionNameRow.key).in_(bindparam("keys", expanding=True)))
)
_INSERT_INSTITUTION = insert(InstitutionRow)
_INSERT_NAMES = insert(InstitutionNameRow)


class KnownInstitutions:
    def __init__(self, session: Session) -> None:
        self.session = session
        #: institutions by id, as stored (``stored_record``)
        self._records: dict[str, InstitutionRecord] = {}
        #: the ids filed under each name key in institution_names; a key missing here is
        #: one not asked about yet (not one without institutions)
        self._ids_by_key: dict[str, set[str]] = {}
        #: ids asked about that no institution has (a new one's candidate ids)
        self._absent: set[str] = set()
        #: ids ``provinces`` was asked about that no institution has
        self._placeless: set[str] = set()
        #: Counts the changes to what ``provinces`` answers: a province changed, an id it
        #: was asked about in vain taken, everything forgotten. A caller that keeps
        #: something made of its answers may use it for as long as this stays as it was
        #: then (``RegistryStore._aggregate``).
        self.places_revision = 0
        #: Called just before anything ``provinces`` answers from the table may change
        #: (a province, or a new institution: the caller cannot tell whether it was asked
        #: about), for a caller that makes something of the provinces only when needed
        #: (``RegistryStore.make_befores``).
        self.before_places_change: Callable[[], None] | None = None

    def by_ids(self, ids: Iterable[str]) -> dict[str, InstitutionRecord]:
        """The institutions of these ids that exist."""
        wanted = set(ids)
        missing = wanted - self._records.keys() - self._absent
        for chunk in in_chunks(missing):
            for row in read(self.session, _BY_IDS, {"ids": chunk}):
                self._records[row[0]] = _record(row)
            self._absent.update(i for i in chunk if i not in self._records)
        return {i: self._records[i] for i in wanted if i in self._records}

    def provinces(self, ids: Iterable[str]) -> dict[str, str | None]:
        """The province of each of these institutions that exists."""
        wanted = set(ids)
        records = self._records
        if wanted <= records.keys():  # as mostly: asked about all at once before
            return {ident: records[ident].place.province for ident in wanted}
        known = self.by_ids(wanted)
        if len(known) < len(wanted):
            self._placeless.update(wanted - known.keys())
        return {ident: record.place.province for ident, record in known.items()}

    def named(self, keys: Collection[str]) -> list[InstitutionRecord]:
        """The institutions known under any of these name keys (theirs or an alias's)."""
        self._learn_keys(keys)
        ids = set().union(*(self._ids_by_key[k] for k in keys))
        return list(self.by_ids(ids).values())

    def add(self, record: InstitutionRecord, now: datetime) -> None:
        """Store a new institution and index its names."""
        self._places_changing()
        self.session.connection().execute(
            _INSERT_INSTITUTION,
            {"id": record.id, **institution_values(record), "created_at": now, "updated_at": now},
        )
        if record.id in self._placeless:
            self.places_revision += 1
            self._placeless.discard(record.id)
        self._absent.discard(record.id)
        self._records[record.id] = stored_record(record)
        self.index_names(record, ())

    def replace(self, known: InstitutionRecord, record: InstitutionRecord, now: datetime) -> None:
        """Store what was learnt about ``known`` (same id): new spellings, more place."""
        stored = stored_record(record)
        earlier = self._records.get(record.id)
        if earlier is None or earlier.place.province != stored.place.province:
            self._places_changing()
            self.places_revision += 1
        # Through the ORM, so that a row of it already loaded in the session (an alliance
        # page read by a review) shows the new values too.
        self.session.exec(  # type: ignore[call-overload]
            update(InstitutionRow)
            .where(col(InstitutionRow.id) == record.id)
            .values(**institution_values(record), updated_at=now)
        )
        self._records[record.id] = stored
        self.index_names(record, known.keys)

    def index_names(self, record: InstitutionRecord, known: Iterable[str]) -> None:
        """File the institution under each of its name keys but ``known`` it already is."""
        keys = sorted(k for k in record.keys - set(known) if k)
        self._learn_keys(keys)
        new = [k for k in keys if record.id not in self._ids_by_key[k]]
        if not new:
            return
        self.session.connection().execute(
            _INSERT_NAMES, [{"key": k, "institution_id": record.id} for k in new]
        )
        for key in new:
            self._ids_by_key[key].add(record.id)

    def forget(self) -> None:
        """Drop everything remembered: the rows were changed behind its back."""
        self._places_changing()
        self._records.clear()
        self._ids_by_key.clear()
        self._absent.clear()
        self._placeless.clear()
        self.places_revision += 1

    def _places_changing(self) -> None:
        if self.before_places_change is not None:
            self.before_places_change()

    def _learn_keys(self, keys: Iterable[str]) -> None:
        missing = {k for k in keys if k not in self._ids_by_key}
        for chunk in in_chunks(missing):
            rows = read(self.session, _BY_NAME_KEYS, {"keys": chunk})
            for key in chunk:
                self._ids_by_key[key] = set()
            for row in rows:
                self._ids_by_key[row[0]].add(row[1])
                self._records.setdefault(row[1], _record(row[1:]))


def _record(row: Sequence[Any]) -> InstitutionRecord:
    """A record from the ``_COLUMNS`` of a row, as ``rows.record_of`` makes it."""
    ident, name, key, aliases, province, city, county = row
    return InstitutionRecord(
        id=ident,
        name=name,
        key=key,
        aliases=tuple(json.loads(aliases)),
        place=InstitutionPlace(province=province, city=city, county=county),
    )
