"""Document structure that names members outside of sentences: list rows after an
introduction ("成员单位名单如下:" then "1. 湖州市中医院", or table rows "3 绍兴市中医院 绍兴市
三级"), and labelled fields ("牵头医院:长沙市第一医院" then "成员单位:A、B")."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .analysis import View

_LIST_INTRO = re.compile(r"(?:[:]|如下|名单)\s*$")
_LIST_INTRO_WORD = re.compile(r"成员|名单|单位|如下|包括|分别|医院|卫生院")
_ROW_NOISE = re.compile(
    r"^\s*[(]?(?:\d{1,3}|[一二三四五六七八九十]{1,3})\s*[.、)]?|[\s、,;|/·•\-—]|〔\d+〕"
    r"|[\u4e00-\u9fff]{2,8}(?:省|市|县|区|州|旗)|[一二三]级|[甲乙]等|二甲|三甲|三乙|二乙"
)
_TABLE_HEADER = re.compile(r"序号|名称|单位|机构")
LEAD_LABEL = re.compile(
    r"^\s*(?:牵头(?:医院|单位|机构)|龙头医院|核心医院|理事长单位|主任委员单位|总院|总医院)\s*:"
)
MEMBER_LABEL = re.compile(
    r"^\s*(?:成员(?:单位|医院|机构)|分院|协作(?:单位|医院)|联盟成员|紧密型成员单位|基层分院"
    r"|托管(?:单位|医院))\s*:"
)
#: rows further than this from their introduction are not its list
_MAX_ROWS = 80


@dataclass(frozen=True)
class Listing:
    """Members named in rows after an introduction sentence (view indices)."""

    intro: int
    rows: tuple[int, ...]


@dataclass(frozen=True)
class Fields:
    """A labelled lead and its labelled members (institution indices)."""

    at: int  # the view of the members' label
    leads: tuple[int, ...]
    members: tuple[int, ...]


def listings(views: list[View]) -> list[Listing]:
    out: list[Listing] = []
    taken: set[int] = set()
    for i, v in enumerate(views):
        text = v.sentence.text
        if i in taken or not _LIST_INTRO.search(text) or not _LIST_INTRO_WORD.search(text):
            continue
        rows: list[int] = []
        for j in range(i + 1, min(len(views), i + _MAX_ROWS)):
            row = views[j]
            if LEAD_LABEL.match(row.sentence.text) or MEMBER_LABEL.match(row.sentence.text):
                break  # labelled fields are read as such
            if not rows and _TABLE_HEADER.search(row.sentence.text) and not row.ids:
                continue
            if not _is_row(row):
                break
            rows.append(j)
        if rows:
            taken.update(rows)
            out.append(Listing(i, tuple(rows)))
    return out


def _is_row(v: View) -> bool:
    if not v.ids or len(v.sentence.text) > 60:
        return False
    return len(_ROW_NOISE.sub("", v.template)) <= 12


def labelled_fields(views: list[View]) -> list[Fields]:
    out: list[Fields] = []
    lead: tuple[int, list[int]] | None = None
    for i, v in enumerate(views):
        if LEAD_LABEL.match(v.sentence.text) and v.ids:
            lead = (i, v.insts())
            continue
        if MEMBER_LABEL.match(v.sentence.text) and lead is not None and i - lead[0] <= 2:
            members = [x for x in v.insts() if x not in lead[1]]
            if members:
                out.append(Fields(i, tuple(lead[1]), tuple(members)))
            lead = None
    return out
