"""Alliance identity, merging and conflict resolution. Pure logic, no I/O.

A *report* is one event of one article with its institutions resolved to ids. An
alliance is the set of reports judged to describe it; its facts are recomputed from those
reports every time one is added or withdrawn, so the result never depends on the order in
which articles arrived, and re-extracting an article simply swaps its reports.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.common.contracts import EventType
from services.registry.domain.names import clean_name, province_short

#: Types that name the same thing at different levels of detail.
CONSORTIUM_FAMILY = frozenset(
    {
        EventType.tight_consortium,
        EventType.consortium,
        EventType.medical_group,
        EventType.county_community,
    }
)
#: Generic labels an extractor falls back to; compatible with any type.
GENERIC_TYPES = frozenset({EventType.consortium, EventType.other})
#: Types that bind one lead to one partner: a shared lead alone is not the same alliance.
BILATERAL_TYPES = frozenset({EventType.tight_consortium, EventType.trusteeship, EventType.other})
#: The same partnership reported this far apart is still one alliance.
PAIR_WINDOW_DAYS = 730
#: A lead announcing members of the same network within this window: one alliance.
CLOSE_DAYS = 31
MAX_SPECIALTY_LENGTH = 60

FACT_FIELDS = (
    "type",
    "specialty",
    "lead",
    "members",
    "date",
    "provinces",
    "cross_province",
    "confidence",
    "sources",
)


@dataclass(frozen=True)
class Report:
    """One event of one article, with institutions resolved to registry ids."""

    article_id: str
    event_index: int
    type: EventType
    specialty: str | None
    lead: tuple[str, ...]
    members: tuple[str, ...]
    date: str | None
    provinces: tuple[str, ...]
    cross_province: bool
    confidence: float
    evidence: str
    seen_at: datetime

    @property
    def institutions(self) -> frozenset[str]:
        return frozenset(self.lead) | frozenset(self.members)


@dataclass(frozen=True)
class AllianceSummary:
    """What identity matching needs to know of an existing alliance."""

    id: str
    types: frozenset[EventType]
    specialties: frozenset[str]
    lead: frozenset[str]
    members: frozenset[str]
    dates: tuple[str, ...] = ()

    @property
    def institutions(self) -> frozenset[str]:
        return self.lead | self.members

    @classmethod
    def of(
        cls, alliance_id: str, reports: Iterable[Report], facts: AllianceFacts | None = None
    ) -> AllianceSummary:
        """``facts``: the reports' ``aggregate`` when at hand (with provinces or not: its
        lead and members, all that is taken from it, do not depend on them)."""
        rs = list(reports)
        facts = facts if facts is not None else aggregate(rs)
        return cls(
            id=alliance_id,
            types=frozenset(r.type for r in rs),
            specialties=frozenset(r.specialty for r in rs if r.specialty),
            lead=frozenset(facts.lead),
            members=frozenset(facts.members),
            dates=tuple(r.date for r in rs if r.date),
        )


@dataclass(frozen=True)
class Alternative:
    """A value some reports gave for a field, with how many articles support it."""

    value: str | bool | None
    support: int
    article_ids: tuple[str, ...]


@dataclass(frozen=True)
class AllianceFacts:
    """An alliance's facts as its reports establish them."""

    type: EventType
    specialty: str | None
    lead: tuple[str, ...]
    members: tuple[str, ...]
    date: str | None
    provinces: tuple[str, ...]
    cross_province: bool
    confidence: float
    first_seen: datetime
    last_seen: datetime
    article_ids: tuple[str, ...]
    alternatives: Mapping[str, tuple[Alternative, ...]] = field(default_factory=dict)


# --- normalisation -------------------------------------------------------------------

_SPECIALTY_SUFFIX = re.compile(r"(专科联盟|专科联合体|联盟|专科)$")


def normalize_specialty(value: str | None) -> str | None:
    """骨科专科 / 骨科专科联盟 / 骨科 -> 骨科; blank -> None."""
    if value is None:
        return None
    text = clean_name(value)
    stripped = _SPECIALTY_SUFFIX.sub("", text)
    return (stripped or text)[:MAX_SPECIALTY_LENGTH] or None


def normalize_provinces(values: Iterable[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        short = province_short(value)
        if short and short not in out:
            out.append(short)
    return tuple(out)


def parse_event_date(value: str | None) -> tuple[date, date] | None:
    """The first and last day an event date may mean (a month covers its whole month)."""
    if not value:
        return None
    parts = [int(p) for p in value.split("-")]
    try:
        if len(parts) == 3:
            day = date(parts[0], parts[1], parts[2])
            return day, day
        if len(parts) == 2:
            first = date(parts[0], parts[1], 1)
            following = date(parts[0] + (parts[1] == 12), parts[1] % 12 + 1, 1)
            return first, date.fromordinal(following.toordinal() - 1)
    except ValueError:
        return None
    return None


def date_gap_days(a: str | None, b: str | None) -> int | None:
    """Days between two event dates (0 when they may be the same day); None if unknown."""
    ra, rb = parse_event_date(a), parse_event_date(b)
    if ra is None or rb is None:
        return None
    if ra[1] < rb[0]:
        return (rb[0] - ra[1]).days
    if rb[1] < ra[0]:
        return (ra[0] - rb[1]).days
    return 0


def _min_gap(value: str | None, others: Sequence[str]) -> int | None:
    gaps = [g for g in (date_gap_days(value, o) for o in others) if g is not None]
    return min(gaps) if gaps else None


# --- identity ------------------------------------------------------------------------


def types_compatible(a: EventType, b: EventType) -> bool:
    if a == b or a in GENERIC_TYPES or b in GENERIC_TYPES:
        return True
    return a in CONSORTIUM_FAMILY and b in CONSORTIUM_FAMILY


def match_score(report: Report, alliance: AllianceSummary) -> float | None:
    """How strongly ``report`` describes ``alliance``; None when it cannot be the same."""
    if not any(types_compatible(report.type, t) for t in alliance.types):
        return None
    if report.specialty and alliance.specialties and report.specialty not in alliance.specialties:
        return None
    shared = report.institutions & alliance.institutions
    if not shared:
        return None
    lead_shared = frozenset(report.lead) & alliance.lead
    if report.lead and alliance.lead and not lead_shared and len(shared) < 2:
        return None  # different leads, one institution in common: two alliances
    gap = _min_gap(report.date, alliance.dates)
    if len(shared) >= 2 or (lead_shared and report.members and shared & alliance.members):
        # The same partnership (roles possibly swapped in a differently worded report).
        if gap is not None and gap > PAIR_WINDOW_DAYS:
            return None
    elif lead_shared:
        # Only the lead in common: a member joining, or a different alliance of that lead.
        if report.type == EventType.specialty_alliance:
            if not (report.specialty and report.specialty in alliance.specialties):
                return None
        elif (
            (
                report.type in BILATERAL_TYPES
                or report.type not in alliance.types
                or (report.members and alliance.members and (gap is None or gap > CLOSE_DAYS))
            )
            or gap is not None
            and gap > CLOSE_DAYS
        ):
            return None
    else:
        # One member in common and no lead on one side: only a close, same-kind report.
        if report.type not in alliance.types or gap is None or gap > CLOSE_DAYS:
            return None
    score = 3.0 * len(lead_shared) + 2.0 * len(shared - lead_shared)
    score += 1.0 if report.type in alliance.types else 0.0
    score += 1.0 if report.specialty and report.specialty in alliance.specialties else 0.0
    if gap is not None:
        score += 1.0 if gap <= CLOSE_DAYS else 0.5 if gap <= 180 else 0.0
    return score


def best_match(report: Report, alliances: Iterable[AllianceSummary]) -> str | None:
    """The id of the alliance ``report`` belongs to, or None for a new alliance."""
    scored = [(s, a.id) for a in alliances if (s := match_score(report, a)) is not None]
    if not scored:
        return None
    scored.sort(key=lambda pair: (-pair[0], pair[1]))
    return scored[0][1]


def fold_duplicates(reports: Mapping[str, Sequence[Report]]) -> list[tuple[str, str]]:
    """Alliances that turn out to be one (a rename folded their institutions together):
    ``(kept, absorbed)`` pairs, each absorbed alliance's every report matching the kept
    one's facts. The alliance seen first is kept, so its id, which bureaus already know,
    survives."""
    folded = {a: list(r) for a, r in reports.items()}
    ids = sorted(
        (a for a, r in folded.items() if r), key=lambda a: (min(r.seen_at for r in folded[a]), a)
    )
    pairs: list[tuple[str, str]] = []
    for position, keep in enumerate(ids):
        for other in ids[position + 1 :]:
            if not folded[keep] or not folded[other]:
                continue
            target = AllianceSummary.of(keep, folded[keep])
            if all(match_score(r, target) is not None for r in folded[other]):
                folded[keep].extend(folded[other])
                folded[other] = []
                pairs.append((keep, other))
    return pairs


def new_alliance_id(report: Report, extractor_version: str) -> str:
    """Deterministic: the same report of the same extraction always founds the same id."""
    return founding_id(report.article_id, report.event_index, extractor_version)


def founding_id(article_id: str, event_index: int, extractor_version: str) -> str:
    """The id a new alliance founded by this event of this extraction takes (unless
    taken): known before the event is resolved, so a batch can look all of them up."""
    key = f"{article_id}|{event_index}|{extractor_version}"
    return "a" + hashlib.sha256(key.encode()).hexdigest()[:15]


# --- merging and conflicts -----------------------------------------------------------


def _vote(
    pairs: Iterable[tuple[str | bool | None, Report]],
    prefer: Mapping[Any, int] | None = None,
) -> tuple[str | bool | None, tuple[Alternative, ...]]:
    """Most-supported value (distinct articles, then confidence, then preference)."""
    articles: dict[str | bool | None, set[str]] = defaultdict(set)
    # Confidence counts once per article: one article repeating itself is one voice.
    best: dict[tuple[str | bool | None, str], float] = {}
    for value, report in pairs:
        articles[value].add(report.article_id)
        key = (value, report.article_id)
        best[key] = max(best.get(key, 0.0), report.confidence)
    if not articles:
        return None, ()
    weight: dict[str | bool | None, float] = defaultdict(float)
    for (value, _), confidence in best.items():
        weight[value] += confidence
    ranking = sorted(
        articles,
        key=lambda v: (
            -len(articles[v]),
            -round(weight[v], 6),
            (prefer or {}).get(v, 0),
            str(v),
        ),
    )
    alternatives = tuple(
        Alternative(value=v, support=len(articles[v]), article_ids=tuple(sorted(articles[v])))
        for v in ranking
    )
    return ranking[0], alternatives


def _date_preference(values: Iterable[str | bool | None]) -> dict[str | bool | None, int]:
    # Among equally supported dates: a day before a month, then the earlier one.
    ranked = sorted((v for v in values if isinstance(v, str)), key=lambda d: (len(d) != 10, d))
    return {v: i for i, v in enumerate(ranked)}


def aggregate(
    reports: Sequence[Report], institution_provinces: Mapping[str, str | None] | None = None
) -> AllianceFacts:
    """The facts of an alliance from all its reports, alternatives kept with their sources."""
    if not reports:
        raise ValueError("an alliance needs at least one report")
    ordered = sorted(reports, key=lambda r: (r.seen_at, r.article_id, r.event_index))
    type_prefer = {t.value: (1 if t in GENERIC_TYPES else 0) for t in EventType}
    kind, type_alts = _vote(((r.type.value, r) for r in ordered), type_prefer)
    specialty, specialty_alts = _vote((r.specialty, r) for r in ordered if r.specialty)
    dates = [r.date for r in ordered if r.date]
    when, date_alts = _vote(((d, r) for r in ordered if (d := r.date)), _date_preference(dates))

    lead_votes: dict[str, set[str]] = defaultdict(set)
    member_votes: dict[str, set[str]] = defaultdict(set)
    appearance: dict[str, int] = {}
    for r in ordered:
        for ident in r.lead:
            lead_votes[ident].add(r.article_id)
            appearance.setdefault(ident, len(appearance))
        for ident in r.members:
            member_votes[ident].add(r.article_id)
            appearance.setdefault(ident, len(appearance))
    everyone = sorted(appearance, key=appearance.__getitem__)
    lead = tuple(
        i for i in everyone if lead_votes[i] and len(lead_votes[i]) >= len(member_votes[i])
    )
    members = tuple(i for i in everyone if i not in lead)

    provinces = list(normalize_provinces(p for r in ordered for p in r.provinces))
    for ident in everyone:
        province = province_short((institution_provinces or {}).get(ident))
        if province and province not in provinces:
            provinces.append(province)
    cross_vote, cross_alts = _vote((r.cross_province, r) for r in ordered)
    cross = len(provinces) > 1 if provinces else bool(cross_vote)

    best_per_article: dict[str, float] = {}
    for r in ordered:
        best_per_article[r.article_id] = max(best_per_article.get(r.article_id, 0.0), r.confidence)
    doubt = 1.0
    for value in best_per_article.values():
        doubt *= 1.0 - value
    confidence = round(min(0.999, 1.0 - doubt), 4)

    alternatives = {
        name: alts
        for name, alts in (
            ("type", type_alts),
            ("specialty", specialty_alts),
            ("date", date_alts),
            ("cross_province", cross_alts),
        )
        if len(alts) > 1
    }
    return AllianceFacts(
        type=EventType(str(kind)),
        specialty=str(specialty) if specialty else None,
        lead=lead,
        members=members,
        date=str(when) if when else None,
        provinces=tuple(provinces),
        cross_province=cross,
        confidence=confidence,
        first_seen=ordered[0].seen_at,
        last_seen=max(r.seen_at for r in ordered),
        article_ids=tuple(dict.fromkeys(r.article_id for r in ordered)),
        alternatives=alternatives,
    )


def changed_fields(before: AllianceFacts | None, after: AllianceFacts) -> tuple[str, ...]:
    """The fields an alert should name; every field for a new alliance."""
    if before is None:
        return FACT_FIELDS
    changed = [
        name
        for name in FACT_FIELDS
        if name != "sources" and getattr(before, name) != getattr(after, name)
    ]
    if set(before.article_ids) != set(after.article_ids):
        changed.append("sources")
    if before.alternatives != after.alternatives and "alternatives" not in changed:
        changed.append("alternatives")
    return tuple(changed)
