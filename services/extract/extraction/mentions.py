"""Institution names in an article. A name is found from its suffix by scanning left over
name characters until a function word, punctuation or a verb, then trimming dates and
slogans in front of the first admin-division name. Generic references (基层医院, 三级医院,
乡镇卫生院, 九家附属医院) are dropped."""

from __future__ import annotations

import re
from functools import lru_cache

from .lexicon import nouns
from .mention_lists import (
    _GROUP_BEFORE,
    _distributed_lists,
    _drop_nested,
    _enclosing,
    _join_co_built,
    _pronouns_and_governments,
    _shared_suffix_lists,
)
from .name_rules import (
    _ADMIN_END,
    _ADMIN_WORDS,
    _BOOK,
    _COUNTED,
    _CROSSABLE_INNER,
    _CROSSING_OUTER,
    _ENUMERATOR,
    _PLAQUE_AFTER,
    _PLAQUE_BEFORE,
    _PLAQUE_ROLE,
    _PLAQUE_UNVEILED,
    _PLURAL_BEFORE,
    _QUOTE,
    _STRONG_STOP,
    _SUFFIX,
    _TOWN_NAME,
    _TOWNSHIP_SUFFIXES,
    _WEAK_STOP,
    Mention,
    _full_place_len,
    _is_name_char,
    _starts_with_place,
    _trim_prefix,
    is_generic,
)
from .places import gazetteer


def _protected(text: str, pos: int, s: int) -> bool:
    """Whether the stop character at ``pos`` belongs to a place or known name before ``s``.

    Names of any length count: 印江土家族苗族自治县 (家), 察哈尔右翼前旗 (前), 延边朝鲜族自治州 (朝).
    """
    words = _protected_words()
    # a two-character name may start with the stop character only where a word cannot end
    # before it: 与和县人民医院 (not 县医院和县人民医院)
    fresh = pos == 0 or not _is_name_char(text[pos - 1]) or text[pos - 1] in _STRONG_STOP
    if fresh and text[pos : pos + 2] in _stop_initial_names() and pos + 2 <= s:
        return True
    for a in range(max(0, pos - 4), pos + 1):
        for b in range(max(pos + 1, a + 3 if a == pos else a + 2), min(s, a + 7) + 1):
            if text[a:b] in words:
                return True
    # longer admin names (they end in 县 / 州 / 旗 / 区 ...)
    g = gazetteer()
    for b in range(pos + 1, min(s, pos + g.max_len) + 1):
        if text[b - 1] not in _ADMIN_END:
            continue
        # the spans [a, b) with a <= pos, of the lengths some name ending at b has
        for length in g.lengths_ending.get(text[b - 1], ()):
            a = b - length
            if 0 <= a <= pos and (a < pos or length >= 3) and text[a:b] in g.full:
                return True
    return False


@lru_cache(maxsize=1)
def _stop_initial_names() -> frozenset[str]:
    """Two-character admin names that start with a stop character: 和县, 随县."""
    return frozenset(
        n for n in gazetteer().full if len(n) == 2 and n[0] in _STRONG_STOP | _WEAK_STOP
    )


@lru_cache(maxsize=1)
def _protected_words() -> frozenset[str]:
    g = gazetteer()
    words = {n for n in g.full if len(n) >= 3 or n[0] not in _STRONG_STOP | _WEAK_STOP}
    words |= {n for n in g.alias if len(n) >= 2 and n[0] not in "和同向以为从共"}
    words |= {prefix for prefix, _, _ in g.known}
    return frozenset(words)


_PREPOSITIONS = set("与和及到在对向为由给从跟把被让使等并也就这该其我们了的是或还又已即据至于着著")


_SEPARATORS = set("、,，;；:： \n")


def _town_continues(text: str, i: int, s: int, township: bool) -> bool:
    """六都寨镇卫生院 / 曾店镇卫生院: a stop character inside a town name after a list comma."""
    if not township:
        return False
    marker = 2 if text[s - 2 : s] == "街道" else 1
    if s - marker - (i - 1) <= 2 and text[i - 1] not in _STRONG_STOP and text[s - 2 : s] != "乡镇":
        return True  # a town's name has at least two characters: 中和街道, 和平镇
    if text[i - 1] in _PREPOSITIONS:
        return False
    g = gazetteer()
    for d in range(2, 6):
        j = i - d
        if j < 0:
            return True
        c = text[j]
        if c in _SEPARATORS and d < 5:
            return True
        if c in "区县市旗" and any(text[max(0, j + 1 - n) : j + 1] in g.full for n in range(2, 8)):
            return True  # 开福区伍家岭街道: the town follows its county
        if not ("\u4e00" <= c <= "\u9fff") or c in _PREPOSITIONS:
            return False
    return False


_UNIVERSITY_INNER = re.compile(r"学院|附属")


def _university_continues(text: str, i: int, s: int, ch: str) -> bool:
    """华中科技大学同济医学院附属协和医院: a weak stop right after 大学 inside a
    university's faculty-and-hospital chain is a name character."""
    return (
        ch in _WEAK_STOP
        and text[max(0, i - 3) : i - 1] == "大学"
        and bool(_UNIVERSITY_INNER.search(text, i, s))
    )


def _scan_prefix(text: str, s: int, floor: int, township: bool = False) -> int:
    i = s
    limit = max(floor, s - 26)
    while i > limit:
        ch = text[i - 1]
        if not _is_name_char(ch):
            break
        stop = ch in _STRONG_STOP or (
            ch in _WEAK_STOP and s - i >= 2 and text[i - 1 : i + 1] not in nouns()
        )
        if ch == "有" and text[i : i + 1] == "限":
            stop = False  # 有限公司职工医院
        if (
            stop
            and not _protected(text, i - 1, s)
            and not _town_continues(text, i, s, township)
            and not _university_continues(text, i, s, ch)
        ):
            break
        i -= 1
    return i


def _abbrev_ok(prefix: str, suffix: str) -> bool:
    if (
        len(suffix) == 2
        and suffix[0] in "一二三四五六七八九"
        or suffix == "附院"
        or suffix.startswith("附")
        and len(suffix) == 3
    ):
        return bool(
            re.fullmatch(
                r"[\u4e00-\u9fff]{1,4}大|[省市县区]|[\u4e00-\u9fff]{1,5}(?:医大|医学院|大学)"
                r"|[\u4e00-\u9fff]{1,3}医",
                prefix,
            )
        )  # 泸医附院, 川医附院
    return True


def find_mentions(text: str) -> list[Mention]:
    """Institution names, pronouns (我院) and signing governments, in text order."""
    quotes = [(m.start(), m.end()) for m in _QUOTE.finditer(text)]
    books = [(m.start(), m.end()) for m in _BOOK.finditer(text)]
    quote_starts, book_starts = [q[0] for q in quotes], [b[0] for b in books]
    out: list[Mention] = []
    suffix_ends: list[int] = []
    matches = list(_SUFFIX.finditer(text))
    for m in matches:
        suffix_ends.append(m.end())
    for idx, m in enumerate(matches):
        s, e = m.start(), m.end()
        suffix = m.group()
        floor = 0
        # do not run across an earlier complete name unless it is a group / branch
        for j in range(idx - 1, -1, -1):
            prev = matches[j]
            if prev.end() <= s - 27:
                break
            if prev.end() <= s:
                if prev.group().endswith(_CROSSABLE_INNER) or suffix.endswith(_CROSSING_OUTER):
                    continue
                floor = prev.end()
                break
        township = suffix in _TOWNSHIP_SUFFIXES and (
            text[s - 1 : s] in ("镇", "乡") or text[s - 2 : s] == "街道"
        )
        i = _scan_prefix(text, s, floor, township)
        prefix = _trim_prefix(text[i:s], text[max(floor, i - 3) : i])
        # 中县二医院 -> 县二医院: one stray character before an admin-relative name
        if (
            len(prefix) >= 2
            and prefix[1] in "省市县区"
            and not _full_place_len(prefix)
            and prefix[:2] not in _ADMIN_WORDS
            and not _TOWN_NAME.fullmatch(prefix)
        ):
            prefix = prefix[1:]
        start = s - len(prefix)
        if suffix in ("分院", "院区"):
            # 博罗县医共体铁场分院: the group the branch belongs to is part of its name
            group = _GROUP_BEFORE.search(text, max(0, start - 14), start)
            head = _trim_prefix(group.group(1)) if group is not None else ""
            if group is not None and _starts_with_place(head):
                prefix = head + group.group(2) + prefix
                start = s - len(prefix)
        if not _abbrev_ok(prefix, suffix):
            continue
        name = prefix + suffix
        if is_generic(name, suffix) or _COUNTED.search(prefix):
            continue
        if len(prefix) == 1 and prefix not in "省市县区" and len(suffix) <= 3:
            continue  # 组建成总医院: one stray character is not a name
        if len(prefix) == 2 and prefix[0] in "省市县区" and prefix[1] in _STRONG_STOP | _WEAK_STOP:
            continue  # 我市继妇幼保健院后: "市" and a function word
        if prefix[0] in "一两几" and not _starts_with_place(prefix):
            continue  # 彰显了一方医院的仁心: a number, not a name
        if "远程" in name:
            continue  # 敦化市远程医学中心: a hospital's facility, not an institution
        if (
            suffix.endswith("中心")
            and not suffix.endswith("卫生服务中心")
            and not (_starts_with_place(name) or re.search(r"大学|医学院|医科|附属", name))
        ):
            continue
        mention = Mention(start, e, name)
        newline = text.rfind("\n", max(0, start - 12), start)
        at_line_start = (
            newline >= 0 and _ENUMERATOR.fullmatch(text[newline + 1 : start]) is not None
        )
        mention.plural = (
            bool(_PLURAL_BEFORE.search(text[max(0, start - 4) : start])) and not at_line_start
        )
        quote = _enclosing(quotes, quote_starts, start, e)
        if quote is not None:
            qs, qe = quote
            before = text[max(0, qs - 10) : qs]
            after = text[qe : qe + 5]
            if (
                _PLAQUE_AFTER.search(after)
                or _PLAQUE_BEFORE.search(before)
                or _PLAQUE_UNVEILED.search(after)
                and _PLAQUE_ROLE.search(text[qs + 1 : qe - 1])
            ):
                mention.plaque = True
        mention.in_title_doc = _enclosing(books, book_starts, start, e) is not None
        out.append(mention)
    out = _join_co_built(text, _drop_nested(out))
    for region, names in _distributed_lists(text):
        out = [x for x in out if not (region[0] <= x.start and x.end <= region[1])]
        out.extend(names)
    out.sort(key=lambda x: (x.start, -x.end))
    out.extend(_shared_suffix_lists(text, out))
    out.extend(_pronouns_and_governments(text))
    out.sort(key=lambda x: (x.start, -x.end))
    return _drop_nested(out)
