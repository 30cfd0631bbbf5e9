"""Dates in article text, resolved against the publication date.

Handles ``2018年7月29日``, ``2023-10-14``, ``2023.12.25``, ``6月15日上午`` (year taken from
the reference date, one year back if that would put it in the future), ``当年11月30日``
(year of the last explicit year before it), ``去年3月``, ``2019年9月`` (month precision),
``昨天`` / ``今天``, ``今(30)日``, ``3月初`` / ``3月下旬`` (month precision), ``上周五`` /
``本周三`` (``上周`` alone gives the month when that week lies in one month), and Chinese
numerals (``十月二十七日``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_CN_DIGITS = {
    "〇": 0,
    "零": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}


def cn_number(text: str) -> int | None:
    """Small Chinese numerals (1..99) or ASCII digits; None when not a number."""
    if text.isdigit():
        return int(text)
    if not text:
        return None
    if "十" in text:
        head, _, tail = text.partition("十")
        tens = _CN_DIGITS.get(head, -1) if head else 1
        units = _CN_DIGITS.get(tail, -1) if tail else 0
        if tens < 0 or units < 0:
            return None
        return tens * 10 + units
    if len(text) == 1 and text in _CN_DIGITS:
        return _CN_DIGITS[text]
    return None


_NUM = r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})"
#: every date expression starts with a digit, a numeral or one of these words' first
#: characters; the lookahead lets the engine skip every other position at once (10x faster)
_DATE = re.compile(
    r"(?=[\d〇零一二三四五六七八九十两当同今去本次翌上这昨前])(?:"
    r"(?P<ymd>(?P<y1>(?:19|20)\d{2})\s*年\s*(?P<m1>"
    + _NUM
    + r")\s*月(?:\s*(?P<d1>"
    + _NUM
    + r")\s*[日号])?)"
    r"|(?P<iso>(?<!\d)(?P<y2>(?:19|20)\d{2})[-./](?P<m2>\d{1,2})[-./](?P<d2>\d{1,2})(?!\d))"
    r"|(?P<md>(?:(?P<rel>当年|同年|今年|去年|本年|次年|翌年)|(?<![\d年月]))(?P<m3>"
    + _NUM
    + r")\s*月\s*(?P<d3>"
    + _NUM
    + r")\s*[日号])"
    r"|(?P<ym>(?P<rel2>当年|同年|今年|去年|次年)(?P<m4>" + _NUM + r")月)"
    r"|(?P<yo>(?P<y5>(?:19|20)\d{2})\s*年(?!\s*\d{1,2}\s*月)(?P<end>年?底|末|初|年初|年末)?)"
    r"|(?P<mpart>(?<![\d年月])(?P<m6>" + _NUM + r")\s*月\s*(?:初|上旬|中旬|下旬|底|末|中|份))"
    r"|(?P<week>(?P<wrel>上周|上星期|上个星期|上礼拜|本周|这周|本星期|这个星期)(?P<wd>[一二三四五六日天末])?)"
    r"|(?P<paren>(?:今|昨|前)[天日]?\s*\(\s*(?P<d7>" + _NUM + r")\s*[日号]?\s*\)\s*日?)"
    r"|(?P<relday>今天|今日|昨天|昨日|前天|前日))"
)
_WEEKDAY = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6, "末": 5}


def _month_of(reference: dt.date, month: int) -> int:
    """Year of a month mentioned without one: the latest that is not after the reference."""
    return reference.year if month <= reference.month else reference.year - 1


def _day_before(reference: dt.date, day: int) -> dt.date | None:
    """The latest date with this day of month on or before the reference ("昨(7)日")."""
    year, month = reference.year, reference.month
    for _ in range(2):
        if _valid(year, month, day) and dt.date(year, month, day) <= reference:
            return dt.date(year, month, day)
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return None


@dataclass(frozen=True)
class DateMention:
    start: int
    end: int
    year: int | None
    month: int | None
    day: int | None
    explicit_year: bool
    iso_format: bool = False

    def iso(self) -> str | None:
        if self.year is None or self.month is None:
            return None
        if self.day is None:
            return f"{self.year:04d}-{self.month:02d}"
        return f"{self.year:04d}-{self.month:02d}-{self.day:02d}"

    @property
    def precision(self) -> int:
        """0 = year only or unresolved, 1 = month, 2 = day."""
        if self.year is None or self.month is None:
            return 0
        return 2 if self.day is not None else 1


def _valid(y: int | None, m: int | None, d: int | None) -> bool:
    if m is None or not 1 <= m <= 12:
        return False
    if d is None or y is None:
        return d is None or 1 <= d <= 31
    try:
        dt.date(y, m, d)
    except ValueError:
        return False
    return True


def find_dates(text: str, reference: dt.date | None) -> list[DateMention]:
    """Every date expression in ``text``, resolved against ``reference`` when needed."""
    out: list[DateMention] = []
    last_year: int | None = None
    ref_year = reference.year if reference else None
    for m in _DATE.finditer(text):
        y: int | None
        mo: int | None
        d: int | None
        explicit = False
        if m.group("ymd"):
            y, mo = int(m.group("y1")), cn_number(m.group("m1"))
            d = cn_number(m.group("d1")) if m.group("d1") else None
            explicit = True
        elif m.group("iso"):
            y, mo, d = int(m.group("y2")), int(m.group("m2")), int(m.group("d2"))
            explicit = True
        elif m.group("md"):
            mo, d = cn_number(m.group("m3")), cn_number(m.group("d3"))
            rel = m.group("rel")
            if rel in ("当年", "同年"):
                y = last_year if last_year is not None else ref_year
            elif rel in ("去年",):
                y = ref_year - 1 if ref_year else None
            elif rel in ("次年", "翌年"):
                y = last_year + 1 if last_year is not None else None
            else:
                y = ref_year
                if reference is not None and mo is not None and d is not None and _valid(y, mo, d):
                    candidate = dt.date(ref_year or 1, mo, d)
                    if candidate > reference + dt.timedelta(days=7):
                        y = (ref_year or 1) - 1
        elif m.group("ym"):
            mo, d = cn_number(m.group("m4")), None
            rel = m.group("rel2")
            if rel == "去年":
                y = ref_year - 1 if ref_year else None
            elif rel in ("当年", "同年"):
                y = last_year if last_year is not None else ref_year
            elif rel == "次年":
                y = last_year + 1 if last_year is not None else None
            else:
                y = ref_year
        elif m.group("yo"):
            y = int(m.group("y5"))
            last_year = y
            end = m.group("end") or ""
            mo = 12 if "底" in end or "末" in end else None
            out.append(DateMention(m.start(), m.end(), y, mo, None, True))
            continue
        elif m.group("mpart"):
            mo = cn_number(m.group("m6"))
            if reference is None or mo is None or not 1 <= mo <= 12:
                continue
            out.append(DateMention(m.start(), m.end(), _month_of(reference, mo), mo, None, False))
            continue
        elif m.group("week"):
            if reference is None:
                continue
            monday = reference - dt.timedelta(days=reference.weekday())
            if m.group("wrel").startswith("上"):
                monday -= dt.timedelta(days=7)
            wd = m.group("wd")
            if wd:
                day = monday + dt.timedelta(days=_WEEKDAY[wd])
                if day <= reference:
                    out.append(DateMention(m.start(), m.end(), day.year, day.month, day.day, False))
            else:
                sunday = monday + dt.timedelta(days=6)
                if sunday.month == monday.month:  # the week lies within one month
                    out.append(
                        DateMention(m.start(), m.end(), monday.year, monday.month, None, False)
                    )
            continue
        elif m.group("paren"):
            if reference is None:
                continue
            number = cn_number(m.group("d7"))
            day_of = _day_before(reference, number) if number else None
            if day_of is None:
                continue
            out.append(
                DateMention(m.start(), m.end(), day_of.year, day_of.month, day_of.day, False)
            )
            continue
        else:
            word = m.group("relday")
            if reference is None:
                continue
            delta = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2, "前日": 2}[word]
            day = reference - dt.timedelta(days=delta)
            out.append(DateMention(m.start(), m.end(), day.year, day.month, day.day, False))
            continue
        if not _valid(y, mo, d):
            continue
        if explicit:
            last_year = y
        out.append(DateMention(m.start(), m.end(), y, mo, d, explicit, bool(m.group("iso"))))
    return out


_HEADER_DATE = re.compile(
    r"(?:发布时间|发布日期|发表时间|发表日期|发布于|时间|日期|更新时间)\s*[:：]?\s*"
    r"((?:19|20)\d{2})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})"
)
_BARE_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})[-./](\d{1,2})[-./](\d{1,2})(?!\d)")


def dateline(head: str) -> dt.date | None:
    """A publication date printed near the top of an article ("发布时间:2022-01-26")."""
    m = _HEADER_DATE.search(head)
    if m is None:
        m = _BARE_DATE.search(head[:400])
    if m is None:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
