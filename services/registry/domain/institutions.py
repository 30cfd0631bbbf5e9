"""Resolving an institution mention to one canonical institution. Pure logic."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from services.common.contracts import InstitutionMention
from services.registry.domain.names import (
    apply_renames,
    clean_name,
    division_short,
    name_key,
    province_short,
    strip_admin_prefix,
)


@dataclass(frozen=True)
class InstitutionPlace:
    """Where an institution is; any part may be unknown."""

    province: str | None = None
    city: str | None = None
    county: str | None = None

    def conflicts_with(self, other: InstitutionPlace) -> bool:
        """Two known, different values at the same level mean two different places."""
        return any(
            mine is not None and theirs is not None and mine != theirs
            for mine, theirs in (
                (self.province, other.province),
                (division_short(self.city), division_short(other.city)),
                (division_short(self.county), division_short(other.county)),
            )
        )

    def agreement(self, other: InstitutionPlace) -> int:
        """How many levels both know and agree on."""
        return sum(
            mine is not None and mine == theirs
            for mine, theirs in (
                (self.province, other.province),
                (division_short(self.city), division_short(other.city)),
                (division_short(self.county), division_short(other.county)),
            )
        )

    def filled_from(self, other: InstitutionPlace) -> InstitutionPlace:
        return InstitutionPlace(
            province=self.province or other.province,
            city=self.city or other.city,
            county=self.county or other.county,
        )


@dataclass(frozen=True)
class ResolvedName:
    """A mention after cleaning and the rename table: the name to file it under."""

    name: str
    key: str
    alias_keys: frozenset[str]
    aliases: tuple[str, ...]
    place: InstitutionPlace


@dataclass(frozen=True)
class InstitutionRecord:
    """A canonical institution as the resolver sees it."""

    id: str
    name: str
    key: str
    aliases: tuple[str, ...] = ()
    place: InstitutionPlace = field(default_factory=InstitutionPlace)

    @property
    def keys(self) -> frozenset[str]:
        return frozenset({self.key, *(name_key(a) for a in self.aliases)})


def resolve_name(mention: InstitutionMention, renames: Mapping[str, str]) -> ResolvedName:
    """Clean a mention, apply the rename table, and keep every other spelling as an alias."""
    original = clean_name(mention.name)
    current = clean_name(apply_renames(original, renames))
    stripped, named_province = strip_admin_prefix(current)
    place = InstitutionPlace(
        province=province_short(mention.province) or named_province,
        city=clean_name(mention.city) if mention.city else None,
        county=clean_name(mention.county) if mention.county else None,
    )
    aliases: list[str] = []
    for spelling in (original, *(clean_name(a) for a in mention.aliases)):
        if not spelling:
            continue
        renamed = clean_name(apply_renames(spelling, renames))
        for candidate in (spelling, renamed):
            if candidate != current and candidate not in aliases:
                aliases.append(candidate)
    return ResolvedName(
        name=current,
        key=stripped,
        alias_keys=frozenset(name_key(a) for a in aliases) - {stripped},
        aliases=tuple(aliases),
        place=place,
    )


def institution_id(key: str, place: InstitutionPlace) -> str:
    """A stable id: the same name in the same place always gets the same id."""
    county = division_short(place.county) or ""
    digest = hashlib.sha256(f"{key}|{county}".encode()).hexdigest()
    return "i" + digest[:15]


def match_institution(
    resolved: ResolvedName, candidates: Iterable[InstitutionRecord]
) -> InstitutionRecord | None:
    """The known institution this name is, or None for a new one.

    A candidate matches on its name or an alias (either way round) unless the places
    conflict: the same name in two counties stays two institutions. Of several matches
    the one agreeing on most place levels wins, the canonical-name match before an alias.
    """
    wanted = {resolved.key} | set(resolved.alias_keys)
    best: tuple[int, int, str] | None = None
    chosen: InstitutionRecord | None = None
    for candidate in candidates:
        if candidate.place.conflicts_with(resolved.place):
            continue
        if resolved.key == candidate.key:
            strength = 2
        elif resolved.key in candidate.keys or candidate.key in wanted:
            strength = 1
        else:
            continue
        score = (strength, candidate.place.agreement(resolved.place), candidate.id)
        if best is None or score[:2] > best[:2] or (score[:2] == best[:2] and score[2] < best[2]):
            best, chosen = score, candidate
    return chosen


def merge_into(record: InstitutionRecord, resolved: ResolvedName) -> InstitutionRecord:
    """The record after learning a new spelling or more of its place; same id."""
    aliases = list(record.aliases)
    for spelling in (resolved.name, *resolved.aliases):
        if spelling != record.name and spelling not in aliases:
            aliases.append(spelling)
    return replace(record, aliases=tuple(aliases), place=record.place.filled_from(resolved.place))


def candidate_ids(resolved: ResolvedName) -> Iterator[str]:
    """The ids a new institution of this name may take, in order: its stable id, then
    (when institutions of the same name in conflicting places have those) numbered ones."""
    base = institution_id(resolved.key, resolved.place)
    yield base
    for n in itertools.count(2):
        yield f"{base}-{n}"


def new_record(resolved: ResolvedName, existing_ids: Collection[str] = ()) -> InstitutionRecord:
    """A new institution, with the first of its ``candidate_ids`` not in ``existing_ids``."""
    ident = next(i for i in candidate_ids(resolved) if i not in existing_ids)
    return InstitutionRecord(
        id=ident,
        name=resolved.name,
        key=resolved.key,
        aliases=resolved.aliases,
        place=resolved.place,
    )


def renamed_record(record: InstitutionRecord, new_name: str) -> InstitutionRecord:
    """The record under its new name, the old name kept as an alias."""
    cleaned = clean_name(new_name)
    aliases = [a for a in (record.name, *record.aliases) if a != cleaned]
    return replace(
        record, name=cleaned, key=name_key(cleaned), aliases=tuple(dict.fromkeys(aliases))
    )
