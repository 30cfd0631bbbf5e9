"""Names that come in groups or stand for others: co-built hospitals (A医院邓州医院), lists
that share one suffix (A、B、C卫生院), names distributed over a list, and pronouns and
county governments that stand for a hospital."""

from __future__ import annotations

import bisect
import re

from .name_rules import (
    _BRANCH,
    _GENERIC,
    _GOV,
    _GROUP,
    _LIST_BEFORE,
    _LIST_SUFFIX,
    _PERSON_TITLE,
    _PRONOUN,
    _STRONG_STOP,
    _WEAK_STOP,
    Mention,
    _full_place_len,
    _trim_prefix,
)
from .places import PROVINCE_SHORT, gazetteer

_GROUP_BEFORE = re.compile(r"([\u4e00-\u9fff]{2,8}?)(医共体|医联体|医疗集团)$")


_CO_BUILT_GAP = re.compile(r"(?:医疗集团|医院集团|集团|医共体|医联体)?")


_CO_BUILT_SUFFIX = ("医院", "中医院", "中医医院", "妇幼保健院", "人民医院")


def _join_co_built(text: str, mentions: list[Mention]) -> list[Mention]:
    """ "河南省妇幼保健院邓州医院", "A医院集团邵阳县医院": a hospital that another one builds
    at a place, read as one name whose parent is the builder; "汝阳医院" listed right after such
    a name ("…邓州医院、汝阳医院") is built by the same parent."""
    out: list[Mention] = []
    last_parent: tuple[str, int] | None = None  # (parent name, end of the co-built mention)
    for m in mentions:
        prev = out[-1] if out else None
        gap = _CO_BUILT_GAP.match(text, prev.end) if prev is not None else None
        if (
            prev is not None
            and gap is not None
            and gap.end() == m.start
            and prev.parent is None
            and prev.kind == "name"
            and m.kind == "name"
            and _placed_hospital(m.name)
            and not prev.name.endswith(_GROUP + _BRANCH)
        ):
            # the hospital built is the local one (邓州医院, 双峰县中医医院); its builder is kept
            joined = Mention(
                prev.start,
                m.end,
                m.name,
                parent=prev.name,
                plaque=prev.plaque or m.plaque,
                in_title_doc=prev.in_title_doc,
            )
            out[-1] = joined
            last_parent = (prev.name, m.end)
            continue
        if (
            last_parent is not None
            and text[last_parent[1] : m.start] in ("、", "和", "及")
            and m.kind == "name"
            and _placed_hospital(m.name)
        ):
            m.parent = last_parent[0]
            last_parent = (last_parent[0], m.end)
        elif m.kind == "name" and m.name.endswith("医院") and _is_province(m.name[:-2]):
            continue  # "帮扶青海医院", "青海省医院": the hospitals of a province, not one of them
        whole = _CO_BUILT_WHOLE.match(m.name) if m.kind == "name" and m.parent is None else None
        if (
            whole is not None
            and _placed_hospital(whole.group(2))
            and len(whole.group(1)) >= 4
            and not _GENERIC_HOSPITAL.fullmatch(whole.group(1))
        ):
            m.name, m.parent = whole.group(2), whole.group(1)  # A医院集团邵阳县医院, one name
            last_parent = (m.parent, m.end)
        out.append(m)
    return out


_CO_BUILT_WHOLE = re.compile(
    r"^(.+?(?:医院|中医院))(?:医疗集团|医院集团|集团)?(.{2,8}(?:医院|中医院|中医医院))$"
)


_GENERIC_HOSPITAL = re.compile(r"(?:省|市|县|区)?(?:人民|中医|中心)?医院")


def _is_province(name: str) -> bool:
    return name in PROVINCE_SHORT or any(d.level == "P" for d in gazetteer().full.get(name, []))


def _placed_hospital(name: str) -> bool:
    """A place and a hospital suffix and nothing else: 邓州医院, 邵阳县医院, 福建医院."""
    for suffix in _CO_BUILT_SUFFIX:
        if name.endswith(suffix):
            head = name[: -len(suffix)]
            g = gazetteer()
            return bool(head) and (head in g.full or head in g.alias or head in PROVINCE_SHORT)
    return False


def _enclosing(
    spans: list[tuple[int, int]], starts: list[int], start: int, end: int
) -> tuple[int, int] | None:
    """The span (quote, book title) that holds [start, end), if any (spans do not nest)."""
    k = bisect.bisect_left(starts, start) - 1
    if k >= 0 and spans[k][0] < start and end < spans[k][1]:
        return spans[k]
    return None


def _drop_nested(mentions: list[Mention]) -> list[Mention]:
    mentions = sorted(mentions, key=lambda x: (x.start, -x.end))
    out: list[Mention] = []
    for m in mentions:
        if out and m.start >= out[-1].start and m.end <= out[-1].end:
            continue
        if out and m.start < out[-1].end:  # overlapping: keep the longer
            if m.end - m.start > out[-1].end - out[-1].start:
                out[-1] = m
            continue
        out.append(m)
    return out


def _shared_suffix_lists(text: str, existing: list[Mention]) -> list[Mention]:
    """驿城、文沃、焦山3个社区卫生服务中心 -> three names; 南环社区和水月寺社区卫生服务中心 -> two."""
    out: list[Mention] = []
    starts = [x.start for x in existing]
    for hit in _LIST_SUFFIX.finditer(text):
        m = _LIST_BEFORE.search(text, max(0, hit.start() - 48), hit.start())
        if m is None:
            continue
        items_text = m.group(1)
        suffix = hit.group()
        base = m.start(1)
        pos = 0
        parts = re.split(r"(、|和|及|与)", items_text)
        counted = m.group(2) is not None
        joined = "、" not in items_text and all(
            len(x) <= 5 for x in parts[::2]
        )  # 南环社区和水月寺社区
        if len(parts) < 5 and not counted and not joined or _PERSON_TITLE.search(items_text):
            continue  # "副镇长李银想、铁场卫生院": a person and one named health centre
        for part in parts:
            if part in ("、", "和", "及", "与"):
                pos += len(part)
                continue
            item = part
            start = base + pos
            pos += len(part)
            trimmed = _trim_prefix(item).lstrip("".join(_STRONG_STOP))
            start += len(item) - len(trimmed)
            if suffix.startswith("社区") and trimmed.endswith("社区"):
                trimmed = trimmed[:-2]  # 南环社区 + 社区卫生服务中心
            if not trimmed or len(trimmed) > 5 or _GENERIC.fullmatch(trimmed):
                continue
            k = bisect.bisect_right(starts, start) - 1
            if k >= 0 and existing[k].start <= start < existing[k].end:
                continue
            if trimmed.endswith(("卫生院", "医院", "中心", "机构", "单位", "部门")):
                continue  # a kind of its own: "县级医疗机构和乡镇卫生院" are two kinds, not two names
            out.append(Mention(start, start + len(trimmed), trimmed + suffix, kind="name"))
    return out


#: places sharing one kind of hospital: "修水县、武宁县、永修县三县人民医院", "修水、武宁、永修三县
#: 人民医院" (three hospitals); without a count, only a list of three or more
_DISTRIBUTED = re.compile(
    r"((?:[\u4e00-\u9fff]{2,5}?(?:、|和|及))+[\u4e00-\u9fff]{2,5}?)"
    r"(?:等)?(?:[两二三四五六七八九十\d]+个?(?P<level>[县市区旗]))?"
    r"(?P<kind>人民医院|中医医院|中医院|妇幼保健院|疾病预防控制中心)"
)
#: a run of the only characters a _DISTRIBUTED match is made of (it has no lookaround, so
#: every match lies inside one run, and scanning run by run finds the same matches)
_DISTRIBUTED_RUN = re.compile(r"[\u4e00-\u9fff、\d]+")


def _distributed_matches(text: str) -> list[re.Match[str]]:
    """``_DISTRIBUTED.finditer(text)``, faster: only in the runs holding what every match
    holds, a list separator and a hospital kind (each kind has 院 or 控制中心)."""
    out: list[re.Match[str]] = []
    for run in _DISTRIBUTED_RUN.finditer(text):
        seg = run.group()
        if ("院" in seg or "控制中心" in seg) and ("、" in seg or "和" in seg or "及" in seg):
            out.extend(_DISTRIBUTED.finditer(text, run.start(), run.end()))
    return out


def _distributed_lists(text: str) -> list[tuple[tuple[int, int], list[Mention]]]:
    """Each place of a list before a shared hospital kind, as one name: the region the list
    covers, and the names (each spanning its place; the last one also the kind)."""
    found: list[tuple[tuple[int, int], list[Mention]]] = []
    for m in _distributed_matches(text):
        kind, level, pos = m.group("kind"), m.group("level") or "", m.start(1)
        parts = re.split(r"(、|和|及)", m.group(1))
        if not level and len(parts) < 5:
            continue  # "与九江市和修水县人民医院": a city and one hospital
        names: list[Mention] = []
        for part in parts:
            if part in ("、", "和", "及"):
                pos += len(part)
                continue
            item = _trim_prefix(part).lstrip("".join(_STRONG_STOP))
            start = pos + len(part) - len(item)
            pos += len(part)
            place = item if _full_place_len(item) == len(item) else item + level
            if (
                not item
                or not level
                and item[-1] not in "县市区旗"
                or _full_place_len(place) != len(place)
            ):
                names = []
                break  # not every item is a place: an ordinary name
            names.append(Mention(start, start + len(item), place + kind))
        if len(names) >= 2:
            names[-1].end = m.end()
            found.append(((names[0].start, m.end()), names))
    return found


def _pronouns_and_governments(text: str) -> list[Mention]:
    out: list[Mention] = []
    for m in _PRONOUN.finditer(text):
        out.append(Mention(m.start(), m.end(), m.group(), kind="pronoun"))
    for m in _GOV.finditer(text):
        s = m.start()
        # the place right before 政府: a full admin name, or a town ending in 镇/乡
        g = gazetteer()
        found = None
        for length in range(min(g.max_len, s), 1, -1):
            if text[s - length : s] in g.full:
                found = (s - length, text[s - length : s])
                break
        if found is None and s >= 2 and text[s - 1] in "镇乡":
            i = s - 1
            while (
                i > max(0, s - 5)
                and "\u4e00" <= text[i - 1] <= "\u9fff"
                and text[i - 1] not in _STRONG_STOP
                and text[i - 1] not in _WEAK_STOP
            ):
                i -= 1
            if s - 1 - i >= 1:
                found = (i, text[i:s])
        if found is None:
            continue
        start, place = found
        out.append(Mention(start, m.end(), text[start : m.end()], kind="gov", place_stem=place))
    return out
