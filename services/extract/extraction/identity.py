"""When two names are one institution: 西安市红会医院 = 陕西省西安市红会医院, 山大二院 =
山西医科大学第二医院 (an abbreviation as a character subsequence), 第一附属 = 附属第一; and
what a branch (分院, 院区) or a group belongs to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .name_rules import (
    _BRANCH,
    _GROUP,
    _NUMERALS,
    _SPECIALTY_WORDS,
    _SUFFIX,
    _full_place_len,
    _leading_place_len,
    _starts_with_place,
    is_generic,
)
from .places import PROVINCE_SHORT, gazetteer

# ---------------------------------------------------------------- resolution
_ORDINAL_AFFILIATED = re.compile(r"第([一二三四五六七八九十]+)附属")


def _key(name: str) -> str:
    # 第一附属医院 and 附属第一医院 are two orders of one name; 妇儿 is short for 妇女儿童
    name = name.replace("中医医院", "中医院").replace("妇女儿童", "妇儿")
    name = _GROUP_INFIX.sub("", name)  # 河津市医疗集团人民医院 is 河津市人民医院
    return _ORDINAL_AFFILIATED.sub(r"附属第\1", name)


_GROUP_INFIX = re.compile(
    r"(?<=[市县区旗])(?:医疗集团|医共体|医联体)(?=人民医院|中医院|妇幼保健院|第)"
)


@lru_cache(maxsize=8192)
def _short_place(name: str) -> str:
    """The name with its leading admin name written short: 长沙市妇幼保健院 -> 长沙妇幼保健院."""
    g = gazetteer()
    for length in range(min(g.max_len, len(name) - 1), 2, -1):
        divs = g.full.get(name[:length])
        if (
            divs
            and divs[0].level != "P"
            and len(divs[0].alias) >= 2
            and name[length] not in "省市县区"
        ):
            return divs[0].alias + name[length:]
    return name


def _numerals(s: str) -> set[str]:
    """Ordinal numerals of a name, not those of its place: 六安市第二人民医院 -> {二} (not 六)."""
    return {c for c in s[_leading_place_len(s) :] if c in _NUMERALS}


def _specialties(s: str) -> set[str]:
    found = set()
    for w in _SPECIALTY_WORDS:
        if w in s:
            found.add(w)
            s = s.replace(w, "")
    return found


def _subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(c in it for c in short)


_PROVINCE_PREFIX = re.compile(
    "^(?:" + "|".join(PROVINCE_SHORT) + ")(?:省|市|壮族自治区|回族自治区|维吾尔自治区|自治区)"
)


@lru_cache(maxsize=8192)
def _strip_province(name: str) -> str:
    m = _PROVINCE_PREFIX.match(name)
    if m and len(name) > m.end() + 3:
        rest = name[m.end() :]
        if _starts_with_place(rest):
            return rest
    return name


@dataclass(frozen=True)
class _Feat:
    key: str
    numerals: frozenset[str]
    specialties: frozenset[str]
    kind: int  # 1 branch, 2 group, 0 other


@lru_cache(maxsize=8192)
def _feat(name: str) -> _Feat:
    key = _key(_strip_province(name))
    kind = 1 if key.endswith(_BRANCH) else 2 if key.endswith(_GROUP) else 0
    return _Feat(key, frozenset(_numerals(key)), frozenset(_specialties(key)), kind)


@lru_cache(maxsize=65536)
def same_institution(a: str, b: str) -> bool:
    """Whether two names in one article designate the same institution."""
    if _general_abbreviation(a, b) or _general_abbreviation(b, a):
        return True
    return _same_feat(_feat(a), _feat(b))


#: a general hospital written short, as Taiwan writes them: 三总 (三军总医院), 荣总 (荣民总医院)
_GENERAL_SHORT = re.compile(r"[\u4e00-\u9fff]总")


def _general_abbreviation(short: str, name: str) -> bool:
    return (
        _GENERAL_SHORT.fullmatch(short) is not None
        and name.endswith("总医院")
        and short[0] in name[:-3]
    )


def _same_feat(fa: _Feat, fb: _Feat) -> bool:
    a, b = fa.key, fb.key
    if a == b or _short_place(a) == _short_place(b):
        return True  # 长沙妇幼保健院 = 长沙市妇幼保健院
    county_a, county_b = a.replace("县人民医院", "县医院"), b.replace("县人民医院", "县医院")
    if a.endswith("医院") and (
        county_a == county_b or _short_place(county_a) == _short_place(county_b)
    ):
        return True  # 迭部县医院 = 迭部县人民医院 = 迭部医院: a county's hospital is its people's
    if fa.kind != fb.kind or fa.numerals != fb.numerals:
        return False
    if len(a) <= len(b):
        short, long, fs, fl = a, b, fa, fb
    else:
        short, long, fs, fl = b, a, fb, fa
    if short[0] not in "省市县区" and short[0] != long[0]:
        return len(short) >= 4 and long.endswith(short)
    if len(short) >= 4 and long.endswith(short) and short[0] not in "省市县区":
        return True
    if fs.specialties != fl.specialties:
        return False
    if short[0] in "省市县区":
        k = long.find(short[0])
        if k <= 0 or not _starts_with_place(long[: k + 1]):
            return False
        rest = long[k + 1 :]
        s_rest = short[1:]
        inner = _full_place_len(rest)
        if inner and not s_rest.startswith(rest[:inner]):
            return False  # 市人民医院 is not 衢州市柯城区人民医院 (a district's hospital)
        return s_rest == rest or (
            len(s_rest) >= 2 and _subsequence(s_rest, rest) and s_rest[-1] == rest[-1]
        )
    if len(short) >= 4 and long.endswith(short):
        return True
    if 3 <= len(short) <= 8 and short[0] == long[0] and short[-1] == long[-1]:
        place = _leading_place_len(short)
        if place and _leading_place_len(long) > place and long.startswith(short[:place]):
            return False  # 衢州市人民医院 is not 衢州市柯城区人民医院 (a place inside it)
        if _without_affiliation(long) == short:
            return True  # 南京儿童医院 = 南京医科大学附属儿童医院
        if not _ABBREVIATION_CORE.search(_abbreviation_core(short)):
            return False  # 台安医院 is not 台南市立安南医院, 敦化市医院 not 敦化市林业医院
        return _subsequence(short, long) and len(short) < len(long)
    return False


#: what the middle of an abbreviation is made of: 山大二院, 哈医大二院, 北医三院, 湘雅二医院
_ABBREVIATION_CORE = re.compile(r"[大医附一二三四五六七八九十]")


_AFFILIATION = re.compile(
    r"^[\u4e00-\u9fff]{0,6}?(?:大学|学院)(?:[\u4e00-\u9fff]{0,4}?学院)?(?:附属|附设)"
)


def _without_affiliation(name: str) -> str:
    """南京医科大学附属儿童医院 -> 南京儿童医院: the place and what follows the affiliation."""
    place = _leading_place_len(name)
    return name[:place] + _AFFILIATION.sub("", name[place:])


def _abbreviation_core(name: str) -> str:
    """The part of a short name between its place and its suffix: 哈医大二院 -> 哈医大二."""
    core = name[_leading_place_len(name) :]
    for suffix in ("医院", "院"):
        if core.endswith(suffix):
            return core[: -len(suffix)]
    return core


_INNER = re.compile(r"^(.+?(?:医院|卫生院|医疗集团|医学中心|医疗中心|防治中心))")


_INNER_HOSPITAL = re.compile(
    r"^(.+?(?:医院|医学中心|医疗中心|防治中心|(?<=[大医])[一二三四五六七八九]院))"
)


def branch_parent(name: str) -> str | None:
    """天津市肿瘤医院德州分院 -> 天津市肿瘤医院; X医院城市医疗集团 -> X医院 (named after it);
    三总澎湖分院 -> 三总 (a general hospital written short)."""
    if name.endswith(_BRANCH):
        short = _GENERAL_SHORT.match(name)
        if short is not None and _leading_place_len(name[2:-2]) == len(name) - 4 > 0:
            return short.group()
        m = _INNER.match(name[:-2])
    elif name.endswith(_GROUP):
        suffix_len = next(len(g) for g in _GROUP if name.endswith(g))
        m = _INNER_HOSPITAL.match(name[:-suffix_len])
        if m is None and name.endswith("医院集团"):
            m = _INNER_HOSPITAL.fullmatch(name[:-2])  # 北京儿童医院集团: 北京儿童医院's group
    else:
        return None
    if m is None or len(m.group(1)) > len(name) - 2:
        return None
    parent = m.group(1)
    suffix = next((x.group() for x in _SUFFIX.finditer(parent) if x.end() == len(parent)), None)
    if suffix is not None and is_generic(parent, suffix):
        return None
    return parent
