"""Which subscriptions hear about a change, and whether a change is worth an alert at all."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from services.common.contracts import Alliance, AllianceChange, ChangeKind, Institution
from services.notify.domain.models import Filters

#: Fields of an alliance whose change is news to a bureau. Another source article, a later
#: ``last_seen`` or a confidence that moved are not.
MATERIAL_FIELDS = frozenset(
    {"lead", "members", "type", "specialty", "date", "provinces", "cross_province"}
)

_PROVINCE_SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "省",
    "市",
)
_CITY_SUFFIXES = ("自治州", "地区", "盟", "市")
_COUNTY_SUFFIXES = ("自治县", "县", "区", "市", "旗")


def _fold(text: str) -> str:
    """Width, case and spacing differences do not matter when comparing names."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def _strip_suffix(name: str, suffixes: Iterable[str]) -> str:
    folded = _fold(name)
    for suffix in suffixes:
        if folded.endswith(suffix) and len(folded) - len(suffix) >= 2:
            return folded[: -len(suffix)]
    return folded


def province_key(name: str) -> str:
    """四川省, 四川 -> 四川; 广西壮族自治区, 广西 -> 广西; 北京市 -> 北京."""
    return _strip_suffix(name, _PROVINCE_SUFFIXES)


def city_key(name: str) -> str:
    return _strip_suffix(name, _CITY_SUFFIXES)


def county_key(name: str) -> str:
    # 县 and 区 of the same stem are different places (朝阳区 / 朝阳县): keep the suffix,
    # unless the filter gave the bare stem, which then matches either.
    return _fold(name)


def institutions_of(alliance: Alliance) -> tuple[Institution, ...]:
    return (*alliance.lead, *alliance.members)


def _in_area(alliance: Alliance, filters: Filters) -> bool:
    if not (filters.provinces or filters.cities or filters.counties):
        return True
    provinces = {province_key(p) for p in filters.provinces}
    cities = {city_key(c) for c in filters.cities}
    counties = {county_key(c) for c in filters.counties}
    if provinces and any(province_key(p) in provinces for p in alliance.provinces):
        return True
    for institution in institutions_of(alliance):
        if provinces and institution.province and province_key(institution.province) in provinces:
            return True
        if cities and institution.city and city_key(institution.city) in cities:
            return True
        if counties and institution.county:
            county = county_key(institution.county)
            if county in counties or _strip_suffix(county, _COUNTY_SUFFIXES) in counties:
                return True
    return False


def _specialty_matches(alliance: Alliance, filters: Filters) -> bool:
    if not filters.specialties:
        return True
    if not alliance.specialty:
        return False
    specialty = _fold(alliance.specialty)
    # 心血管 matches 心血管内科 and the other way round; specialties are named loosely.
    return any(
        (wanted := _fold(s)) in specialty or specialty in wanted for s in filters.specialties
    )


def _institution_matches(alliance: Alliance, filters: Filters) -> bool:
    if not filters.institutions:
        return True
    wanted = {_fold(name) for name in filters.institutions}
    for institution in institutions_of(alliance):
        names = {institution.id, institution.name, *institution.aliases}
        if any(_fold(n) in wanted for n in names):
            return True
    return False


def matches(filters: Filters, alliance: Alliance) -> bool:
    """Whether an alliance is one the subscription asked for."""
    return (
        alliance.confidence >= filters.min_confidence
        and (not filters.types or alliance.type in filters.types)
        and _specialty_matches(alliance, filters)
        and _institution_matches(alliance, filters)
        and _in_area(alliance, filters)
    )


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
    """A new alliance, or a material change to one; not one more article about it."""
    return change.kind is ChangeKind.created or bool(material_changes(change, previous))


def _ids(institutions: Iterable[Institution]) -> list[str]:
    return [i.id or i.name for i in institutions]


def new_institutions(
    current: Iterable[Institution], previous: Iterable[Institution]
) -> list[Institution]:
    known = set(_ids(previous))
    return [i for i in current if (i.id or i.name) not in known]
