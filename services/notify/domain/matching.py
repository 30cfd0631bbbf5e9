"""Which subscriptions hear about a change, and whether a change is worth an alert at all."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from services.common.contracts import (
    Alliance,
    AllianceChange,
    ChangeKind,
    EventType,
    Institution,
)
from services.common.places import Level, city_key, county_key, fold, keys_of, province_key
from services.notify.domain.models import Filters

#: Fields of an alliance whose change is news to a bureau. Another source article, a later
#: ``last_seen`` or a confidence that moved are not.
MATERIAL_FIELDS = frozenset(
    {"lead", "members", "type", "specialty", "date", "provinces", "cross_province"}
)


def institutions_of(alliance: Alliance) -> tuple[Institution, ...]:
    return (*alliance.lead, *alliance.members)


@dataclass(frozen=True)
class Matcher:
    """Filters with every name normalised once, for matching many changes quickly."""

    provinces: frozenset[str]
    cities: frozenset[str]
    counties: frozenset[str]
    types: frozenset[EventType]
    specialties: tuple[str, ...]
    institutions: frozenset[str]
    min_confidence: float


@dataclass(frozen=True)
class MatchingFacts:
    """An alliance's normalised places and names, computed once per change."""

    provinces: frozenset[str]
    cities: frozenset[str]
    counties: frozenset[str]
    names: frozenset[str]
    specialty: str | None
    type: EventType
    confidence: float


def compile_filters(filters: Filters) -> Matcher:
    return Matcher(
        provinces=frozenset(province_key(p) for p in filters.provinces),
        cities=frozenset(city_key(c) for c in filters.cities),
        counties=frozenset(county_key(c) for c in filters.counties),
        types=frozenset(filters.types),
        specialties=tuple(fold(s) for s in filters.specialties),
        institutions=frozenset(fold(n) for n in filters.institutions),
        min_confidence=filters.min_confidence,
    )


def facts_of(alliance: Alliance) -> MatchingFacts:
    institutions = institutions_of(alliance)
    # The keys the registry stores to filter on (南部县 is found by 南部县 and by 南部).
    places = {(Level.province, province_key(p)) for p in alliance.provinces}
    for institution in institutions:
        places |= keys_of(institution.province, institution.city, institution.county)
    names = {fold(n) for i in institutions for n in (i.id, i.name, *i.aliases)}

    def at(level: Level) -> frozenset[str]:
        return frozenset(key for kind, key in places if kind is level)

    return MatchingFacts(
        provinces=at(Level.province),
        cities=at(Level.city),
        counties=at(Level.county),
        names=frozenset(names),
        specialty=fold(alliance.specialty) if alliance.specialty else None,
        type=alliance.type,
        confidence=alliance.confidence,
    )


def _specialty_matches(wanted: tuple[str, ...], specialty: str | None) -> bool:
    if not wanted:
        return True
    if not specialty:
        return False
    # 心血管 matches 心血管内科 and the other way round; specialties are named loosely.
    return any(w in specialty or specialty in w for w in wanted)


def matches(filters: Filters | Matcher, alliance: Alliance | MatchingFacts) -> bool:
    """Whether an alliance is one the subscription asked for."""
    matcher = filters if isinstance(filters, Matcher) else compile_filters(filters)
    facts = alliance if isinstance(alliance, MatchingFacts) else facts_of(alliance)
    if facts.confidence < matcher.min_confidence:
        return False
    if matcher.types and facts.type not in matcher.types:
        return False
    if not _specialty_matches(matcher.specialties, facts.specialty):
        return False
    if matcher.institutions and not matcher.institutions & facts.names:
        return False
    if matcher.provinces or matcher.cities or matcher.counties:
        return bool(
            matcher.provinces & facts.provinces
            or matcher.cities & facts.cities
            or matcher.counties & facts.counties
        )
    return True


def field_root(name: str) -> str:
    """``members[3].name`` -> ``members``; registries may name changes finely."""
    return re.split(r"[.\[/]", name.strip(), maxsplit=1)[0].lower()


def material_changes(change: AllianceChange, previous: Alliance | None = None) -> set[str]:
    """The material fields this change touched: from ``changed_fields``, and from a
    comparison with the alliance as last received when there is one."""
    touched = {field_root(f) for f in change.changed_fields} & MATERIAL_FIELDS
    if previous is not None:
        current = change.alliance
        if set(_ids(current.members)) - set(_ids(previous.members)):
            touched.add("members")
        if set(_ids(current.lead)) - set(_ids(previous.lead)):
            touched.add("lead")
        for name in ("type", "specialty", "date"):
            if getattr(current, name) != getattr(previous, name):
                touched.add(name)
        if set(current.provinces) - set(previous.provinces):
            touched.add("provinces")
    return touched


def is_alert_worthy(change: AllianceChange, previous: Alliance | None = None) -> bool:
    """A new alliance, a material change to one, or an analyst's review action (a
    correction or a retraction is news to whoever was told); not one more article."""
    if change.kind is not ChangeKind.updated or change.by_review:
        return True
    return bool(material_changes(change, previous))


def _ids(institutions: Iterable[Institution]) -> list[str]:
    return [i.id or i.name for i in institutions]


def new_institutions(
    current: Iterable[Institution], previous: Iterable[Institution]
) -> list[Institution]:
    known = set(_ids(previous))
    return [i for i in current if (i.id or i.name) not in known]
