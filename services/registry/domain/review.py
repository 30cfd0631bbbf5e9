"""Analysts' review of alliances: what each action may do and what it does to the facts.
Pure logic, no I/O.

An analyst confirms an alliance, corrects some of its facts, rejects it, merges two into
one or splits articles off into a new one. A corrected field is *locked*: the alliance's
facts are still recomputed from its reports whenever one arrives or is withdrawn
(``alliances.aggregate``), and the corrections are laid over the result
(:func:`apply_corrections`), so a later extraction, or the replay of an old one, never
undoes an analyst's work while its new sources still attach.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum, StrEnum
from typing import Any

from services.common.contracts import EventType
from services.common.places import Level, UnknownPlace
from services.common.places import check as check_place
from services.registry.domain.alliances import (
    AllianceFacts,
    normalize_specialty,
    parse_event_date,
)
from services.registry.domain.names import clean_name, name_key, province_short

#: The facts an analyst can correct (and so lock), in the order alerts name them.
LOCKABLE_FIELDS = ("type", "specialty", "lead", "members", "date", "provinces")
MAX_NAMES = 200
#: Longer names are not institution names; the store passes over them in extractions.
MAX_NAME_LENGTH = 120
_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")


class ReviewStatus(StrEnum):
    unreviewed = "unreviewed"
    confirmed = "confirmed"
    corrected = "corrected"
    rejected = "rejected"


class ReviewAction(Enum):
    """What an analyst did (a plain Enum: a str one's ``split`` would shadow str.split)."""

    confirm = "confirm"
    correct = "correct"
    reject = "reject"
    merge = "merge"
    split = "split"
    #: recorded on the alliance a merge absorbed (``merge`` is on the survivor)
    absorbed = "absorbed"


#: The statuses whose alliances the export hands out as labelled articles.
REVIEWED = (ReviewStatus.confirmed, ReviewStatus.corrected, ReviewStatus.rejected)


@dataclass(frozen=True)
class Analyst:
    """Someone holding a live review key."""

    id: str
    name: str


class UnknownAlliance(LookupError):
    """No alliance has this id (a 404)."""


class ReviewError(ValueError):
    """An action the analyst asked for that cannot be done as asked (a 422, with why)."""


class ReviewConflict(Exception):
    """An action on an alliance that no longer stands on its own (a 409): merged into
    ``survivor``, or merged into itself."""

    def __init__(self, message: str, survivor: str | None = None) -> None:
        super().__init__(message)
        self.survivor = survivor


def check_changes(changes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The corrections an analyst asked for, checked and normalised as the registry
    stores extracted facts (names cleaned, specialty and provinces in their short form).

    Lead and member names stay names here; the store resolves them to institutions.
    Raises :class:`ReviewError` naming what is wrong.
    """
    if changes is None:
        raise ReviewError("a correction needs `changes`: the fields to set")
    if not changes:
        raise ReviewError("`changes` is empty: name at least one field to correct")
    unknown = sorted(set(changes) - set(LOCKABLE_FIELDS))
    if unknown:
        raise ReviewError(
            f"cannot correct {', '.join(unknown)}; correctable: {', '.join(LOCKABLE_FIELDS)}"
        )
    out: dict[str, Any] = {}
    for name in LOCKABLE_FIELDS:
        if name not in changes:
            continue
        value = changes[name]
        if name == "type":
            try:
                out[name] = EventType(value).value
            except ValueError:
                known = ", ".join(t.value for t in EventType)
                raise ReviewError(f"unknown type {value!r}; known: {known}") from None
        elif name == "specialty":
            out[name] = normalize_specialty(value) if value else None
        elif name == "date":
            out[name] = _checked_date(value)
        elif name == "provinces":
            out[name] = _checked_provinces(value)
        else:
            out[name] = _checked_names(name, value)
    lead_keys = {name_key(n) for n in out.get("lead", ())}
    both = [n for n in out.get("members", ()) if name_key(n) in lead_keys]
    if both:
        raise ReviewError(f"{'、'.join(both)} cannot be both a lead and a member")
    if "lead" in out and "members" in out and not out["lead"] and not out["members"]:
        raise ReviewError("an alliance needs at least one institution")
    return out


def _checked_date(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _DATE.match(value) or parse_event_date(value) is None:
        raise ReviewError(f"bad date {value!r}: give YYYY-MM-DD or YYYY-MM")
    return value


def _checked_provinces(value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise ReviewError("provinces must be a list of province names")
    out: list[str] = []
    for word in value:
        if not isinstance(word, str) or not word.strip():
            raise ReviewError(f"bad province {word!r}")
        try:
            check_place(Level.province, word.strip())
        except UnknownPlace as unknown:
            raise ReviewError(str(unknown)) from None
        short = province_short(word)
        if short and short not in out:
            out.append(short)
    return out


def _checked_names(field: str, value: Any) -> list[str]:
    if not isinstance(value, list | tuple):
        raise ReviewError(f"{field} must be a list of institution names")
    if len(value) > MAX_NAMES:
        raise ReviewError(f"{field}: at most {MAX_NAMES} names")
    out: list[str] = []
    for name in value:
        cleaned = clean_name(name) if isinstance(name, str) else ""
        if not name_key(cleaned) or len(cleaned) > MAX_NAME_LENGTH:
            raise ReviewError(f"{field}: {name!r} is not an institution name")
        if cleaned not in out:
            out.append(cleaned)
    return out


def apply_corrections(
    facts: AllianceFacts,
    corrections: Mapping[str, Any],
    institution_provinces: Mapping[str, str | None] | None = None,
) -> AllianceFacts:
    """``facts`` as the reports establish them, with the analyst's corrections laid over.

    ``corrections`` holds lead and members as institution ids. An institution an analyst
    placed in one role is taken out of the other; with only the lead locked, the rest of
    the reports' institutions are members (a locked member list is the whole list); the
    provinces of corrected institutions
    join the alliance's unless the provinces themselves are locked.
    """
    if not corrections:
        return facts
    lead = tuple(corrections.get("lead", facts.lead))
    members = tuple(corrections.get("members", facts.members))
    if "lead" in corrections and "members" not in corrections:
        # Whoever the reports put in the lead and the analyst did not stays, as a member:
        # an institution is never lost, only placed (a merged alliance's lead, say).
        members = tuple(dict.fromkeys(i for i in (*members, *facts.lead) if i not in lead))
    elif "members" in corrections and "lead" not in corrections:
        lead = tuple(i for i in lead if i not in members)
    if "provinces" in corrections:
        provinces = tuple(corrections["provinces"])
    else:
        found = list(facts.provinces)
        for ident in (*lead, *members):
            short = province_short((institution_provinces or {}).get(ident))
            if short and short not in found:
                found.append(short)
        provinces = tuple(found)
    cross = len(provinces) > 1 if provinces else facts.cross_province
    # A locked field's disagreements are settled: the analyst chose.
    alternatives = {k: v for k, v in facts.alternatives.items() if k not in corrections}
    if "provinces" in corrections or "lead" in corrections or "members" in corrections:
        alternatives.pop("cross_province", None)
    return replace(
        facts,
        type=EventType(corrections["type"]) if "type" in corrections else facts.type,
        specialty=corrections.get("specialty", facts.specialty),
        lead=lead,
        members=members,
        date=corrections.get("date", facts.date),
        provinces=provinces,
        cross_province=cross,
        alternatives=alternatives,
    )


def corrected_changes(
    before: AllianceFacts | None, after: AllianceFacts, fields: Iterable[str]
) -> tuple[str, ...]:
    """Which of the corrected ``fields`` an analyst's correction actually changed."""
    wanted = set(fields)
    if before is None:
        return tuple(f for f in LOCKABLE_FIELDS if f in wanted)
    changed = [
        f for f in LOCKABLE_FIELDS if f in wanted and getattr(before, f) != getattr(after, f)
    ]
    if "cross_province" not in changed and before.cross_province != after.cross_province:
        changed.append("cross_province")
    return tuple(changed)


def status_after(
    action: ReviewAction, current: ReviewStatus, has_corrections: bool
) -> ReviewStatus:
    """An alliance's review status after ``action``. Confirming or correcting a rejected
    alliance takes it back; an alliance with locked fields stays ``corrected`` when it is
    confirmed again (its corrections still stand)."""
    if action == ReviewAction.reject:
        return ReviewStatus.rejected
    if action == ReviewAction.correct or has_corrections:
        return ReviewStatus.corrected
    if action == ReviewAction.confirm:
        return ReviewStatus.confirmed
    return current


def check_merge(survivor: str, other: str, merged_into: Mapping[str, str | None]) -> None:
    """Raise :class:`ReviewConflict` unless ``other`` can be merged into ``survivor``
    (``merged_into`` gives, for both, the alliance each was merged into, if any)."""
    if survivor == other:
        raise ReviewConflict(f"cannot merge {survivor} into itself")
    for ident in (survivor, other):
        if merged_into.get(ident):
            raise ReviewConflict(
                f"{ident} was merged into {merged_into[ident]}", merged_into[ident]
            )


def check_split(article_ids: Sequence[str], source_ids: Sequence[str]) -> list[str]:
    """The articles to split off, in the alliance's order; :class:`ReviewError` unless
    they are some, but not all, of the alliance's sources."""
    wanted = list(dict.fromkeys(s.strip() for s in source_ids if s.strip()))
    if not wanted:
        raise ReviewError("name at least one source article to split off")
    strangers = [s for s in wanted if s not in article_ids]
    if strangers:
        raise ReviewError(f"not sources of this alliance: {', '.join(strangers)}")
    if set(wanted) >= set(article_ids):
        raise ReviewError("cannot split off every source: that is the alliance itself")
    return [a for a in article_ids if a in wanted]
