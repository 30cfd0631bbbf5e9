"""One place vocabulary: what a province, city or county word means, in every service.

A bureau filters by place in three spots: the registry's API (and the dashboard on it),
and its alert subscriptions in notify. They must agree, so both read a word here, against
the bundled gazetteer (``data/gazetteer.tsv``: every province, city and county-level
division of China with its short alias and former names):

- a province is its short name: 四川省 and 四川 are 四川; 广西壮族自治区 is 广西;
- a city is its short name: 西安市 and 西安 are 西安; 大理白族自治州, 大理州 and 大理 are 大理;
- a county keeps its suffix, because 朝阳区 and 朝阳县 are different places; its gazetteer
  alias and former names name it too (叙永 is 叙永县, 双江县 is 双江拉祜族佤族布朗族傣族自治县).

A word the gazetteer does not know at its level is refused (:class:`UnknownPlace`) with the
nearest names it does know, so a typo fails loudly instead of matching nothing forever.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import TypedDict

GAZETTEER_TSV = Path(__file__).with_name("data") / "gazetteer.tsv"

_PROVINCE_SUFFIXES = (
    "维吾尔自治区",
    "壮族自治区",
    "回族自治区",
    "特别行政区",
    "自治区",
    "省",
    "市",
)
_CITY_SUFFIXES = ("自治州", "地区", "州", "盟", "市")
_COUNTY_SUFFIXES = ("自治县", "自治旗", "县", "区", "市", "旗")
_SPACE = re.compile(r"\s+")


class Level(StrEnum):
    province = "province"
    city = "city"
    county = "county"

    @property
    def chinese(self) -> str:
        return {"province": "省", "city": "市", "county": "县"}[self.value]


_GAZETTEER_LEVEL = {"P": Level.province, "C": Level.city, "D": Level.county}


def fold(text: str) -> str:
    """Width, case and spacing do not make two words different places."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text)).lower()


def _strip(word: str, suffixes: Iterable[str]) -> str:
    for suffix in suffixes:
        if word.endswith(suffix) and len(word) - len(suffix) >= 2:
            return word[: -len(suffix)]
    return word


@dataclass(frozen=True)
class AdminDivision:
    level: Level
    code: str
    name: str
    alias: str
    parent_code: str | None
    other_names: tuple[str, ...] = ()

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, self.alias, *self.other_names)


@dataclass
class Vocabulary:
    """The gazetteer, indexed by level and by every name a division goes by."""

    divisions: list[AdminDivision] = field(default_factory=list)
    by_name: dict[Level, dict[str, list[AdminDivision]]] = field(
        default_factory=lambda: {level: {} for level in Level}
    )
    by_code: dict[tuple[Level, str], AdminDivision] = field(default_factory=dict)

    def add(self, division: AdminDivision) -> None:
        self.divisions.append(division)
        self.by_code[(division.level, division.code)] = division
        index = self.by_name[division.level]
        for name in {fold(n) for n in division.names if n}:
            index.setdefault(name, []).append(division)

    def named(self, level: Level, word: str) -> list[AdminDivision]:
        """The divisions of ``level`` that ``word`` names (empty when none)."""
        folded = fold(word)
        found = self.by_name[level].get(folded)
        if found is None and level is not Level.county:
            # 四川 省, 西安 市: a suffix the gazetteer does not list still names the place.
            stem = _strip(folded, _PROVINCE_SUFFIXES if level is Level.province else _CITY_SUFFIXES)
            found = self.by_name[level].get(stem)
        return found or []

    def parent(self, division: AdminDivision) -> AdminDivision | None:
        if division.parent_code is None or division.level is Level.province:
            return None
        level = Level.city if division.level is Level.county else Level.province
        return self.by_code.get((level, division.parent_code))


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    vocab = Vocabulary()
    for line in GAZETTEER_TSV.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        level, code, name, alias, parent, others = (line.split("\t") + [""] * 6)[:6]
        vocab.add(
            AdminDivision(
                level=_GAZETTEER_LEVEL[level],
                code=code,
                name=name,
                alias=alias or name,
                parent_code=None if parent == "-" else parent,
                other_names=tuple(n for n in others.split(",") if n),
            )
        )
    return vocab


# -- keys: what a word is compared as ----------------------------------------------------


@lru_cache(maxsize=8192)
def province_key(word: str) -> str:
    """四川省, 四川 -> 四川; 广西壮族自治区, 广西 -> 广西; 北京市 -> 北京."""
    found = vocabulary().named(Level.province, word)
    if found:
        return found[0].alias
    return _strip(fold(word), _PROVINCE_SUFFIXES)


@lru_cache(maxsize=8192)
def city_key(word: str) -> str:
    """西安市, 西安 -> 西安; 大理白族自治州, 大理州 -> 大理."""
    found = vocabulary().named(Level.city, word)
    if len({d.alias for d in found}) == 1:
        return found[0].alias
    return _strip(fold(word), _CITY_SUFFIXES)


def county_key(word: str) -> str:
    """A county word as a filter compares it: folded, suffix kept (朝阳区 is not 朝阳县)."""
    return fold(word)


@lru_cache(maxsize=8192)
def county_keys(name: str) -> frozenset[str]:
    """Every filter word that finds a county named ``name``: its name, its gazetteer alias
    and former names; for a county the gazetteer lacks, its name and bare stem."""
    folded = fold(name)
    found = vocabulary().named(Level.county, name)
    if not found:
        return frozenset({folded, _strip(folded, _COUNTY_SUFFIXES)})
    return frozenset({folded} | {fold(n) for d in found for n in d.names if n})


def keys_of(
    province: str | None, city: str | None = None, county: str | None = None
) -> set[tuple[Level, str]]:
    """Every (level, key) under which a filter finds a place: what a registry stores to
    filter on, and what an alert is matched against."""
    keys: set[tuple[Level, str]] = set()
    if province:
        keys.add((Level.province, province_key(province)))
    if city:
        keys.add((Level.city, city_key(city)))
    if county:
        keys |= {(Level.county, key) for key in county_keys(county)}
    return keys


# -- the tree a picker offers ----------------------------------------------------------------

#: Counties governed by the province directly (仙桃市, 济源市...) are listed under this.
DIRECT_COUNTIES = "省直辖县级行政区划"


class City(TypedDict):
    name: str
    #: False for DIRECT_COUNTIES, which is no place of its own: pick its counties.
    pick: bool
    counties: list[str]


class Province(TypedDict):
    name: str
    cities: list[City]


@lru_cache(maxsize=1)
def region_tree() -> tuple[Province, ...]:
    """Provinces (full names, 四川省), each with its cities, each with its counties, in the
    order of their codes (the order of official lists): every name one a filter accepts."""
    vocab = vocabulary()
    by_level = {
        level: sorted(
            (d for d in vocab.divisions if d.level is level), key=lambda d: (d.code, d.name)
        )
        for level in Level
    }
    provinces = {d.code: Province(name=d.name, cities=[]) for d in by_level[Level.province]}
    cities: dict[str, City] = {}
    for division in by_level[Level.city]:
        province = provinces.get(division.parent_code or "")
        if province is not None:
            cities[division.code] = City(name=division.name, pick=True, counties=[])
            province["cities"].append(cities[division.code])
    for division in by_level[Level.county]:
        parent = division.parent_code or ""
        city = cities.get(parent)
        if city is None:
            province = provinces.get(parent[:2] + "0000")
            if province is None:
                continue
            city = cities[parent] = City(name=DIRECT_COUNTIES, pick=False, counties=[])
            province["cities"].append(city)
        city["counties"].append(division.name)
    return tuple(provinces[code] for code in sorted(provinces))


# -- refusing what is not a place -----------------------------------------------------------


class UnknownPlace(ValueError):
    """A filter word the gazetteer does not know at its level; says what it might have meant.

    ``suggestions`` are names that the same filter list accepts, nearest first.
    """

    def __init__(self, level: Level, word: str, suggestions: list[str], hint: str = "") -> None:
        self.level = level
        self.word = word
        self.suggestions = suggestions
        message = f"unknown {level.value} {word!r}"
        if hint:
            message += f" ({hint})"
        if suggestions:
            message += f"; nearest known: {', '.join(_labelled(level, suggestions))}"
        elif not hint:
            message += "; no similar name in the gazetteer"
        super().__init__(message)


def is_known(level: Level, word: str) -> bool:
    return bool(vocabulary().named(level, word))


def suggest(level: Level, word: str, limit: int = 5) -> list[str]:
    """The gazetteer's names of ``level`` nearest to ``word``, closest first."""
    folded = fold(word)
    index = vocabulary().by_name[level]

    def nearness(name: str) -> float:
        # Shared first characters count extra: a typo is rarely in the first one.
        shared = next((n for n in range(len(folded), 0, -1) if name.startswith(folded[:n])), 0)
        return difflib.SequenceMatcher(None, folded, name).ratio() + 0.1 * shared

    scored = sorted(((nearness(n), n) for n in index), key=lambda s: (-s[0], s[1]))
    out: list[str] = []
    for score, name in scored:
        if score < 0.5 or len(out) >= limit:
            break
        for division in index[name]:
            if division.name not in out:
                out.append(division.name)
    return out[:limit]


def _labelled(level: Level, names: list[str]) -> list[str]:
    """Names with their parents where one name is several places: 朝阳区 (北京市/长春市)."""
    vocab = vocabulary()
    out = []
    for name in names:
        divisions = [d for d in vocab.by_name[level].get(fold(name), []) if d.name == name]
        parents = [p.name for d in divisions if (p := vocab.parent(d)) is not None]
        out.append(f"{name} ({'/'.join(parents)})" if len(divisions) > 1 and parents else name)
    return out


def check(level: Level, word: str) -> None:
    """Raise :class:`UnknownPlace` unless ``word`` names a ``level`` division."""
    if is_known(level, word):
        return
    hint = ""
    for other in Level:
        if other is not level and is_known(other, word):
            names = sorted({d.name for d in vocabulary().named(other, word)})
            hint = f"{'/'.join(names)} is a {other.value}, not a {level.value}"
            break
    raise UnknownPlace(level, word, suggest(level, word), hint)
