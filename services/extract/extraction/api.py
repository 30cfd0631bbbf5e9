"""The extraction entry point: ``extract(ArticleInput) -> ExtractionResult``."""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass

from services.common.contracts import AllianceEvent

from . import cues
from .analysis import ArticleText
from .dates import dateline, find_dates
from .events import Decision, EventWriter, decide, unnamed_but_sure
from .features import ArticleFeatures
from .identity import same_institution
from .institutions import Resolution, resolve
from .mentions import find_mentions
from .model import Models, trained_models
from .places import PlaceContext, find_place_names
from .text import normalise

#: Bump whenever rules, dictionaries or model weights change, so history can be re-extracted.
EXTRACTOR_VERSION = "0.6.0"

#: a person of an institution: "兰大一院副院长郭顺林"
_STAFF = re.compile(r"\s*(?:党委)?(?:副)?(?:院长|书记|主任|专家|领导|负责人|处长|科长)")
#: the title speaks of the writer itself: "我院与…", "医院与X签署…" (a bare 医院 is 我院)
_TITLE_SELF = re.compile(r"我院|本院|^\W*医院(?:与|和|同)")
_SOURCE_LINE = re.compile(r"^\s*[\[【(]?\s*(?:来源|稿件来源|文章来源|信息来源)\s*[:|]")


@dataclass(frozen=True)
class ArticleInput:
    body: str
    title: str = ""
    content_type: str = "text/plain"  # or "text/html"
    published: dt.date | None = None


@dataclass(frozen=True)
class ExtractionResult:
    relevant: bool
    events: tuple[AllianceEvent, ...]
    extractor_version: str
    text: str  # the normalised text evidence offsets point into
    truncated: bool = False  # more events than MAX_EVENTS: the most confident were kept


@dataclass(frozen=True)
class Analysis:
    """An article read up to the models: what training and extraction share."""

    text: str
    reference: dt.date | None
    places: PlaceContext
    article: ArticleText
    features: ArticleFeatures


def analyse(article: ArticleInput) -> Analysis:
    is_html = "html" in (article.content_type or "").lower()
    norm = normalise(article.body or "", title=article.title or "", is_html=is_html)
    text = norm.text
    reference = article.published or dateline(norm.head)
    if cues.TRIGGER.search(text) or cues.ALLIANCE_NOUN.search(text):
        ctx = PlaceContext(find_place_names(text))
        res = resolve(text, find_mentions(text), ctx)
    else:
        # no word of forming or of alliances: nothing to read institutions for
        ctx, res = PlaceContext([]), Resolution(mentions=[], institutions=[])
    art = ArticleText(text, res, writer_of(text, res, norm.publisher))
    levels = {inst.index: inst.level for inst in res.institutions}
    dates = find_dates(text, reference)
    return Analysis(text, reference, ctx, art, ArticleFeatures(art, levels, dates, reference))


def writer_of(text: str, res: Resolution, owner: str = "") -> int | None:
    """The institution that writes "我院": the page's owner named in its footer, else one
    named on a source line, else the one alone in the title."""
    if owner:
        for inst in res.institutions:
            if any(same_institution(owner, name) for name in inst.names):
                return inst.index
    first_line_end = text.find("\n")
    title_end = first_line_end if first_line_end >= 0 else len(text)
    in_title: list[int] = []
    for m in res.mentions:
        if m.inst < 0 or m.kind not in ("name", "alias"):
            continue
        newline = text.rfind("\n", max(0, m.start - 40), m.start)
        if (newline >= 0 or m.start <= 40) and _SOURCE_LINE.match(text, newline + 1):
            return m.inst  # a short source line names the writer
        if m.end <= title_end and m.inst not in in_title:
            in_title.append(m.inst)
    if len(in_title) == 1 and not _TITLE_SELF.search(text[:title_end]):
        return in_title[0]
    return _writer_beside(text, res)


def _writer_beside(text: str, res: Resolution) -> int | None:
    """ "我院与舟曲县人民医院签订协议, …兰大一院副院长…参加": the institution named beside 我院
    in its sentences, never as its counterpart, is 我院."""
    votes: dict[int, int] = {}
    partners: set[int] = set()
    named = sorted(
        (m for m in res.mentions if m.kind in ("name", "alias") and m.inst >= 0),
        key=lambda m: m.start,
    )
    starts = [m.start for m in named]
    for p in (m for m in res.mentions if m.kind == "pronoun"):
        floor = max(0, p.start - 400)
        start = (
            max(text.rfind("。", floor, p.start), text.rfind("\n", floor, p.start), floor - 1) + 1
        )
        end = min(
            k
            for k in (
                text.find("。", p.end, p.end + 400),
                text.find("\n", p.end, p.end + 400),
                min(len(text), p.end + 400),
            )
            if k >= 0
        )
        for m in named[bisect.bisect_left(starts, start) : bisect.bisect_left(starts, end)]:
            if m.end <= end:
                gap = text[min(p.end, m.end) : max(p.start, m.start)]
                if re.fullmatch(r"\s*(?:与|和|同|及|、)\s*", gap):
                    partners.add(m.inst)
                elif _STAFF.match(text, m.end):
                    votes[m.inst] = votes.get(m.inst, 0) + 1  # its staff attend beside 我院
    ranked = sorted(((n, i) for i, n in votes.items() if i not in partners), reverse=True)
    if len(ranked) == 1 or len(ranked) > 1 and ranked[0][0] > ranked[1][0]:
        return ranked[0][1]
    return None


def extract(article: ArticleInput, models: Models | None = None) -> ExtractionResult:
    """Alliance events reported by one article. Pure: same input, same output."""
    a = analyse(article)
    decision: Decision = decide(a.features, models or trained_models())
    events = EventWriter(a.article, a.features, a.places, a.reference).events(decision)
    return ExtractionResult(
        relevant=bool(events) or unnamed_but_sure(decision),
        events=events,
        extractor_version=EXTRACTOR_VERSION,
        text=a.text,
        truncated=decision.truncated,
    )
