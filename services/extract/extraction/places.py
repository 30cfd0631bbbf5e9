"""Province / city / county of places and institutions, from a bundled gazetteer.

``services/common/data/gazetteer.tsv`` lists every province (P), city (C) and county-level
division (D) with its short alias (the services' one place vocabulary reads it too); ``data/known_places.tsv`` places institutions whose names carry no
admin-division name (university hospitals and the like).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from services.common.places import GAZETTEER_TSV

DATA = Path(__file__).with_name("data")

#: Short names of the provincial-level divisions, as reported in ``provinces``.
PROVINCE_SHORT = [
    "北京",
    "天津",
    "上海",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "内蒙古",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门",
]
_ADMIN_END = "省市县区州旗盟"
_ADMIN_CHAR = re.compile("[省市县区州旗盟]")
_BAD_TWO_CHAR = {
    "城区",
    "郊区",
    "矿区",
    "市区",
    "新区",
    "林区",
    "特区",
    "景区",
    "园区",
    "社区",
    "辖区",
    "片区",
    "街区",
    "县区",
    "东区",
    "西区",
    "南区",
    "北区",
    "市县",
    "全省",
    "本市",
    "中区",
    "示范区",
}


@dataclass(frozen=True)
class Division:
    code: str
    level: str  # "P", "C" or "D"
    name: str
    alias: str
    parent: str | None

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Division({self.level} {self.name})"


@dataclass(frozen=True)
class Place:
    """Where something is. ``strong`` when read from a full admin name or a province."""

    province: str | None = None
    city: str | None = None
    county: str | None = None
    strong: bool = False

    @property
    def known(self) -> bool:
        return self.province is not None


@dataclass
class Gazetteer:
    by_code: dict[tuple[str, str], Division] = field(default_factory=dict)
    full: dict[str, list[Division]] = field(default_factory=dict)
    alias: dict[str, list[Division]] = field(default_factory=dict)
    known: list[tuple[str, str, str]] = field(default_factory=list)
    max_len: int = 0
    #: the lengths of the full names that end / start with each character, longest first:
    #: a scan for a name at a position tries only the lengths some name has there
    lengths_ending: dict[str, tuple[int, ...]] = field(default_factory=dict)
    lengths_starting: dict[str, tuple[int, ...]] = field(default_factory=dict)
    _places: dict[tuple[str, str, bool], Place] = field(default_factory=dict)

    def parent(self, div: Division) -> Division | None:
        if div.parent is None:
            return None
        level = {"D": "C", "C": "P"}.get(div.level)
        if level is None:
            return None
        return self.by_code.get((level, div.parent))

    def place_of(self, div: Division, strong: bool = True) -> Place:
        key = (div.level, div.code, strong)
        cached = self._places.get(key)
        if cached is None:
            cached = self._places[key] = self._place_of(div, strong)
        return cached

    def _place_of(self, div: Division, strong: bool) -> Place:
        chain: dict[str, Division] = {div.level: div}
        cur: Division | None = div
        while cur is not None:
            cur = self.parent(cur)
            if cur is not None:
                chain[cur.level] = cur
        prov = chain.get("P")
        city = chain.get("C")
        county = chain.get("D")
        return Place(
            province=province_short(prov.name) if prov else None,
            city=city.name if city else None,
            county=county.name if county else None,
            strong=strong,
        )


def province_short(name: str) -> str:
    for short in PROVINCE_SHORT:
        if name.startswith(short):
            return short
    return name


@lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    g = Gazetteer()
    for line in GAZETTEER_TSV.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        level, code, name, alias, parent, others = (line.split("\t") + [""] * 6)[:6]
        div = Division(code, level, name, alias, None if parent == "-" else parent)
        g.by_code[(level, code)] = div
        names = [name] + [n for n in others.split(",") if n]
        for n in names:
            if len(n) == 2 and n in _BAD_TWO_CHAR:
                continue
            g.full.setdefault(n, []).append(div)
            g.max_len = max(g.max_len, len(n))
        if alias and len(alias) >= 2 and alias != name:
            g.alias.setdefault(alias, []).append(div)
    for line in (DATA / "known_places.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            prefix, prov, city = line.split("\t")
            g.known.append((prefix, prov, "" if city == "-" else city))
    g.known.sort(key=lambda t: -len(t[0]))
    ending: dict[str, set[int]] = {}
    starting: dict[str, set[int]] = {}
    for n in g.full:
        ending.setdefault(n[-1], set()).add(len(n))
        starting.setdefault(n[0], set()).add(len(n))
    g.lengths_ending = {c: tuple(sorted(ls, reverse=True)) for c, ls in ending.items()}
    g.lengths_starting = {c: tuple(sorted(ls, reverse=True)) for c, ls in starting.items()}
    return g


@dataclass(frozen=True)
class PlaceMention:
    start: int
    end: int
    name: str
    candidates: tuple[Division, ...]


def find_place_names(text: str) -> list[PlaceMention]:
    """Full admin-division names (with 省/市/县/区/州/旗/盟) in ``text``."""
    g = gazetteer()
    out: list[PlaceMention] = []
    last_end = -1
    for hit in _ADMIN_CHAR.finditer(text):
        end = hit.end()
        # longest first, as from max_len down to 2, but only lengths some name ending here has
        for length in g.lengths_ending.get(hit.group(), ()):
            start = end - length
            if length > end or length < 2 or start < last_end:
                continue
            cands = g.full.get(text[start:end])
            if cands:
                out.append(PlaceMention(start, end, text[start:end], tuple(cands)))
                last_end = end
                break
    return out


_UNSET = object()


class PlaceContext:
    """The places an article talks about, used to resolve ambiguous and relative names."""

    def __init__(self, mentions: list[PlaceMention]) -> None:
        g = gazetteer()
        self.provinces: Counter[str] = Counter()
        self.cities: Counter[str] = Counter()
        self.counties: Counter[str] = Counter()
        self._home_province: object = _UNSET
        self._home_county: object = _UNSET
        self._home_city: object = _UNSET
        self._county_div: dict[str, Division] = {}
        self._city_div: dict[str, Division] = {}
        unique = [m for m in mentions if len(m.candidates) == 1]
        for m in unique:
            self._count(g, m.candidates[0])
        for m in mentions:
            if len(m.candidates) > 1:
                div = self.choose(m.candidates)
                if div is not None:
                    self._count(g, div)

    def _count(self, g: Gazetteer, div: Division) -> None:
        place = g.place_of(div)
        if place.province:
            self.provinces[place.province] += 1
        if div.level == "D":
            self.counties[div.name] += 1
            self._county_div[div.name] = div
            parent = g.parent(div)
            if parent is not None and parent.level == "C":
                self.cities[parent.name] += 1
                self._city_div[parent.name] = parent
        elif div.level == "C":
            self.cities[div.name] += 1
            self._city_div[div.name] = div

    def direct_city_mentions(self, name: str) -> int:
        """Mentions of the city itself, not counting those of its counties."""
        g = gazetteer()
        total = self.cities.get(name, 0)
        for county, n in self.counties.items():
            parent = g.parent(self._county_div[county])
            if parent is not None and parent.name == name:
                total -= n
        return total

    def choose(self, candidates: tuple[Division, ...] | list[Division]) -> Division | None:
        """Pick the candidate that fits the article's places; None when undecidable."""
        if len(candidates) == 1:
            return candidates[0]
        g = gazetteer()
        best: list[tuple[int, Division]] = []
        for div in candidates:
            place = g.place_of(div)
            score = 0
            if place.province and place.province in self.provinces:
                score += 2 * self.provinces[place.province]
            if place.city and place.city in self.cities:
                score += 3 * self.cities[place.city]
            best.append((score, div))
        best.sort(key=lambda t: -t[0])
        if best[0][0] > 0 and (len(best) == 1 or best[0][0] > best[1][0]):
            return best[0][1]
        # prefer the higher level (a city over a county of the same name)
        levels = sorted(candidates, key=lambda d: "PCD".index(d.level))
        if "PCD".index(levels[0].level) < "PCD".index(levels[1].level):
            return levels[0]
        return None

    @property
    def home_province(self) -> str | None:
        if self._home_province is _UNSET:
            self._home_province = self.provinces.most_common(1)[0][0] if self.provinces else None
        return self._home_province  # type: ignore[return-value]

    def home_county(self) -> Division | None:
        if self._home_county is _UNSET:
            self._home_county = self._find_home_county()
        return self._home_county  # type: ignore[return-value]

    def _find_home_county(self) -> Division | None:
        if not self.counties:
            return None
        name, count = self.counties.most_common(1)[0]
        div = self._county_div[name]
        place = gazetteer().place_of(div)
        if self.home_province and place.province != self.home_province:
            return None
        return div

    def home_city(self) -> Division | None:
        if self._home_city is _UNSET:
            self._home_city = self._find_home_city()
        return self._home_city  # type: ignore[return-value]

    def _find_home_city(self) -> Division | None:
        county = self.home_county()
        if county is not None:
            parent = gazetteer().parent(county)
            if parent is not None and parent.level == "C":
                return parent
        if not self.cities:
            return None
        return self._city_div[self.cities.most_common(1)[0][0]]


def locate_name(name: str, ctx: PlaceContext | None = None) -> tuple[Place, int]:
    """Place of an institution from the start of its name; also the prefix length used."""
    g = gazetteer()
    pos = 0
    found: list[Division] = []
    strong = False
    while pos < len(name):
        hit: tuple[int, list[Division]] | None = None
        # longest first, but only the lengths of names starting with this character
        for length in g.lengths_starting.get(name[pos], ()):
            if length > len(name) - pos or length < 2:
                continue
            cands = g.full.get(name[pos : pos + length])
            if cands:
                hit = (length, cands)
                break
        if hit is None:
            break
        length, cands = hit
        # keep candidates consistent with what was found before in the name
        if found:
            prev = found[-1]
            consistent = [d for d in cands if _within(g, d, prev)]
            cands = consistent or cands
        div = ctx.choose(cands) if ctx is not None else (cands[0] if len(cands) == 1 else None)
        if div is None and cands:
            div = cands[0] if len(cands) == 1 else None
        if div is None:
            break
        found.append(div)
        strong = True
        pos += length
    if found:
        return g.place_of(found[-1], strong=True), pos
    for prefix, prov, city in g.known:
        if name.startswith(prefix):
            return Place(prov, city or None, None, strong=True), 0
    for short in PROVINCE_SHORT:
        if name.startswith(short) and len(name) > len(short) + 1:
            muni = short + "市" if short in ("北京", "天津", "上海", "重庆") else None
            return Place(short, muni, None, strong=True), len(short)
    for length in (3, 2):
        cands = g.alias.get(name[:length])
        if cands and len(name) > length + 1 and name[length] not in _ADMIN_END:
            div = ctx.choose(cands) if ctx is not None else None
            if div is None and len(cands) == 1:
                div = cands[0]
            if div is not None:
                place = g.place_of(div, strong=False)
                return place, length
    return Place(strong=strong), 0


def _within(g: Gazetteer, child: Division, parent: Division) -> bool:
    cur: Division | None = child
    while cur is not None:
        if cur.code == parent.code and cur.level == parent.level:
            return True
        cur = g.parent(cur)
    return False
