"""Institution names: normalisation, admin-division prefixes, and the rename table.

Pure functions. A *name key* is what two spellings of one institution share: the name in
NFKC form without spaces or punctuation, without a leading province when a more specific
division follows (陕西省西安市红会医院 -> 西安市红会医院), and without a leading city when
a county-level division follows (泸州市叙永县人民医院 -> 叙永县人民医院).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

#: Provinces, municipalities and autonomous regions: short name -> full name.
PROVINCES: dict[str, str] = {
    "北京": "北京市",
    "天津": "天津市",
    "上海": "上海市",
    "重庆": "重庆市",
    "河北": "河北省",
    "山西": "山西省",
    "辽宁": "辽宁省",
    "吉林": "吉林省",
    "黑龙江": "黑龙江省",
    "江苏": "江苏省",
    "浙江": "浙江省",
    "安徽": "安徽省",
    "福建": "福建省",
    "江西": "江西省",
    "山东": "山东省",
    "河南": "河南省",
    "湖北": "湖北省",
    "湖南": "湖南省",
    "广东": "广东省",
    "海南": "海南省",
    "四川": "四川省",
    "贵州": "贵州省",
    "云南": "云南省",
    "陕西": "陕西省",
    "甘肃": "甘肃省",
    "青海": "青海省",
    "台湾": "台湾省",
    "内蒙古": "内蒙古自治区",
    "广西": "广西壮族自治区",
    "西藏": "西藏自治区",
    "宁夏": "宁夏回族自治区",
    "新疆": "新疆维吾尔自治区",
    "香港": "香港特别行政区",
    "澳门": "澳门特别行政区",
}
_FULL_TO_SHORT = {full: short for short, full in PROVINCES.items()}
#: Full province names, then short ones, the longest first: the order a prefix is sought in.
_FULL_NAMES_LONGEST_FIRST = tuple(sorted(_FULL_TO_SHORT.items(), key=lambda kv: -len(kv[0])))
_SHORT_NAMES_LONGEST_FIRST = tuple(sorted(PROVINCES, key=len, reverse=True))
_PROVINCE_SUFFIXES = (
    "壮族自治区",
    "回族自治区",
    "维吾尔自治区",
    "特别行政区",
    "自治区",
    "省",
    "市",
)

#: A city-level division at the start of a name: 2-4 characters, then 市 / 州 / 地区 / 盟.
_CITY_PREFIX = re.compile(r"^([\u4e00-\u9fff]{2,4}?(?:自治州|地区|市|州|盟))")
#: A county-level division: 1-4 characters, then 县 / 区 / 市 / 旗 (自治县 included).
_COUNTY_PREFIX = re.compile(r"^([\u4e00-\u9fff]{1,4}?(?:自治县|县|区|市|旗))")
#: Words that look like a division but start an institution's own name.
_NOT_A_DIVISION = ("城市", "城区", "市区", "市中心", "地区医院", "区域", "州立")
_PUNCTUATION = re.compile(r"[\s\u3000·•・.,，。、:：;；\"'“”‘’《》<>〈〉「」『』【】\[\]{}]+")
_MAX_RENAME_STEPS = 16


def clean_name(name: str) -> str:
    """NFKC, no whitespace or decorative punctuation, ASCII brackets for CJK ones."""
    text = unicodedata.normalize("NFKC", name)
    text = _PUNCTUATION.sub("", text)
    return text.replace("(", "(").replace(")", ")").strip()


def province_short(value: str | None) -> str | None:
    """陕西省 / 陕西 -> 陕西; 广西壮族自治区 -> 广西; anything else unchanged (cleaned)."""
    if value is None:
        return None
    text = clean_name(value)
    if not text:
        return None
    if text in PROVINCES:
        return text
    if text in _FULL_TO_SHORT:
        return _FULL_TO_SHORT[text]
    for suffix in _PROVINCE_SUFFIXES:
        if text.endswith(suffix) and text[: -len(suffix)] in PROVINCES:
            return text[: -len(suffix)]
    return text


def division_short(value: str | None) -> str | None:
    """A city or county as a comparable key: 西安市 / 西安 -> 西安; 叙永县 -> 叙永."""
    if value is None:
        return None
    text = clean_name(value)
    if not text:
        return None
    for suffix in ("自治州", "自治县", "地区", "市", "州", "县", "区", "旗", "盟"):
        if text.endswith(suffix) and len(text) > len(suffix) + 1:
            return text[: -len(suffix)]
    return text


def _leading_province(text: str) -> tuple[str, str] | None:
    """(short province, rest) when ``text`` starts with a province name."""
    for full, short in _FULL_NAMES_LONGEST_FIRST:
        if text.startswith(full):
            return short, text[len(full) :]
    for short in _SHORT_NAMES_LONGEST_FIRST:
        if text.startswith(short):
            return short, text[len(short) :]
    return None


def _starts_with_division(text: str, pattern: re.Pattern[str]) -> str | None:
    if any(text.startswith(word) for word in _NOT_A_DIVISION):
        return None
    match = pattern.match(text)
    if match is None:
        return None
    prefix = match.group(1)
    rest = text[len(prefix) :]
    # The division must be followed by a name of its own, not end the string.
    if len(rest) < 2 or any(rest.startswith(word) for word in _NOT_A_DIVISION):
        return None
    return prefix


def strip_admin_prefix(name: str) -> tuple[str, str | None]:
    """The name without redundant leading divisions, and the province it named (if any).

    Only a prefix followed by a more specific division is dropped: 陕西省人民医院 keeps its
    province (it is the name), 陕西省西安市红会医院 loses it.
    """
    text = clean_name(name)
    province: str | None = None
    found = _leading_province(text)
    if found is not None:
        short, rest = found
        if _starts_with_division(rest, _CITY_PREFIX) or _starts_with_division(rest, _COUNTY_PREFIX):
            province, text = short, rest
    city = _starts_with_division(text, _CITY_PREFIX)
    if city is not None:
        rest = text[len(city) :]
        if _starts_with_division(rest, _COUNTY_PREFIX) is not None:
            text = rest
    return text, province


def name_key(name: str) -> str:
    """What every spelling of one institution's name shares."""
    return strip_admin_prefix(name)[0]


def apply_renames(name: str, renames: Mapping[str, str]) -> str:
    """Follow the rename table (old name key -> new name) to the current name.

    Chains are followed (A -> B -> C) and a cycle stops at the last name before repeating.
    """
    current = name
    seen = {name_key(current)}
    for _ in range(_MAX_RENAME_STEPS):
        target = renames.get(name_key(current))
        if target is None:
            break
        key = name_key(target)
        if key in seen:
            break
        seen.add(key)
        current = target
    return current
