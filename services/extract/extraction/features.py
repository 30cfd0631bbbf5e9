"""What the text says about each institution and each (lead, member) pair, as numbers.

The cues summed per institution and per ordered pair by :mod:`.reading` become numbers
here; the models in :mod:`.model` weigh them. Every feature is about the language
(who is said to lead, to join, to sign with whom, in a reported or a planned formation),
never about particular names.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections import Counter

from . import cues
from .analysis import ArticleText, View
from .dates import DateMention
from .reading import MAX_CANDIDATES, SentenceFlags, _dated_before, read_cues, sentence_flags
from .text import is_closed, tells_story

#: what the pair model weighs of each side (the rest of :meth:`ArticleFeatures.unary` feeds
#: the lead model): a small set, because 120 articles cannot weigh more
_LEAD_SIDE = (
    "lead_cue",
    "lead_cue_any",
    "member_cue_any",
    "named_alliance",
    "founded_at",
    "plaque_owner",
    "writer",
    "count",
    "trigger_clause",
    "formation_only_modal",
    "venue",
    "branch",
    "relative",
)


#: how many sentences apart a lead and a member may be named: in every real labelled
#: article the two share a sentence or sit in neighbouring ones
NEAR = 3


_MEMBER_SIDE = (
    "member_cue",
    "member_cue_any",
    "lead_cue_any",
    "trigger_clause",
    "formation_only_modal",
    "venue",
    "writer",
    "count",
    "branch",
    "relative",
)


#: the pair model's names of the side features, built once (in the order of the sides)
_LEAD_KEYS = tuple(("L_" + k, k) for k in _LEAD_SIDE)
_MEMBER_KEYS = tuple(("M_" + k, k) for k in _MEMBER_SIDE)


def _counts_members(template: str) -> bool:
    """``COUNTED_MEMBERS.search``, skipped where it cannot match: each match counts with 家,
    所 or 个."""
    return (
        "家" in template or "所" in template or "个" in template
    ) and cues.COUNTED_MEMBERS.search(template) is not None


def _other_headlines(art: ArticleText) -> tuple[list[int], set[int]]:
    """The sentences of a "latest news" box printed before the story, and the institutions
    only they name: headlines before its first sentence of prose that name only institutions
    the story itself never names (a title, a subtitle or a "原标题:" line names the story's
    own). The first line is the page's title unless two or more such headlines show a box."""
    views = art.views
    start = next((k for k, v in enumerate(views) if tells_story(v.sentence.text)), None)
    if start is None:
        return [], set()
    told = {i for v in views[start:] for i in _named(v)}
    foreign = [k for k in range(start) if views[k].insts() and not told & _named(views[k])]
    muted = foreign if len(foreign) >= 2 else [k for k in foreign if k > 0]
    named_elsewhere = {i for k, v in enumerate(views) if k not in muted for i in _named(v)}
    return muted, {i for k in muted for i in views[k].insts() if i not in named_elsewhere}


def _named(v: View) -> set[int]:
    """The institutions a sentence names, those inside a co-built hospital's name included."""
    return {*v.insts(), *v.builders.values()}


def _log(n: float) -> float:
    return math.log1p(max(n, 0.0))


class ArticleFeatures:
    """Features of one article, its candidate institutions and their ordered pairs."""

    def __init__(
        self,
        art: ArticleText,
        levels: dict[int, float],
        dates: list[DateMention],
        reference: dt.date | None,
    ) -> None:
        self.art = art
        self.levels = levels
        self.dates = dates
        years = [d.year for d in dates if d.explicit_year and d.year]
        ref_year = reference.year if reference else (max(years) if years else None)
        starts = [d.start for d in dates]
        self.flags = [
            sentence_flags(v, _dated_before(v, dates, starts, ref_year)) for v in art.views
        ]
        # another story's headlines: nothing they report is this one's, and the institutions
        # only they name take no part in it
        muted, self.other_news = _other_headlines(art)
        for k in muted:
            self.flags[k] = SentenceFlags()
        last_formation = -10
        for k, (v, f) in enumerate(zip(art.views, self.flags, strict=True)):
            if f.event:
                last_formation = k
            elif (
                not f.formation
                and k - last_formation <= 2
                and v.ids
                and cues.STRUCTURE.search(v.template)
                and not f.negative
            ):
                # "联盟由A牵头, 首批成员单位包括B、C": the alliance just formed, described
                f.formation = True
                f.alliance_noun = True
        self.cues = read_cues(art.views, self.flags, levels)
        counts: Counter[int] = Counter()
        self.in_title: set[int] = set()
        self.in_event: Counter[int] = Counter()
        self.in_formation: Counter[int] = Counter()
        self.first_event_sentence: set[int] = set()
        self.first_position: dict[int, int] = {}
        seen_event = False
        order = 0
        # where each institution is named, in sentences (for :meth:`near`); the rows of a list
        # or table after its introduction ("名单如下:", "1. A医院", ...) are one with it, so a
        # list of fifty rows is as near its introduction as its first row
        self.sentences_of: dict[int, list[int]] = {}
        told = -1
        listing = False
        for v, f in zip(art.views, self.flags, strict=True):
            line = v.sentence.text.rstrip()
            row = listing and not is_closed(line)
            told += not row
            listing = row or line.endswith(":")
            for i in _named(v):
                seen = self.sentences_of.setdefault(i, [])
                if not seen or seen[-1] != told:
                    seen.append(told)
            for builder in v.builders.values():
                counts[builder] += 1  # named inside the co-built hospital's name
                if builder not in self.first_position:
                    self.first_position[builder] = order
                    order += 1
            for i in v.insts():
                counts[i] += v.ids.count(i)
                if i not in self.first_position:
                    self.first_position[i] = order
                    order += 1
                if v.sentence.title:
                    self.in_title.add(i)
                if f.formation:
                    self.in_formation[i] += 1
                if f.event:
                    self.in_event[i] += 1
            if f.event and not v.sentence.title and not seen_event and v.insts():
                self.first_event_sentence = set(v.insts())
                seen_event = True
        self.counts = counts
        relevant = [
            i
            for i in counts
            if (
                self.in_formation[i]
                or i in self.in_title
                or self.cues.lead[i]
                or self.cues.member[i]
            )
            and i not in self.cues.hosted_builds
            and i not in self.other_news
            and self.cues.background[i] < counts[i]
        ]
        relevant.sort(key=lambda i: (-self.in_event[i], -counts[i], self.first_position[i]))
        self.candidates = relevant[:MAX_CANDIDATES]
        top = max((levels.get(i, 2.5) for i in self.candidates), default=0.0)
        low = min((levels.get(i, 2.5) for i in self.candidates), default=0.0)
        self.top_level, self.low_level = top, low
        self._unary: dict[int, dict[str, float]] = {}

    def unary(self, i: int) -> dict[str, float]:
        cached = self._unary.get(i)
        if cached is not None:
            return cached
        c = self.cues
        inst = self.art.insts[i]
        level = self.levels.get(i, 2.5)
        out = {
            "count": _log(self.counts[i]),
            "title": float(i in self.in_title),
            "event": float(self.in_event[i] > 0),
            "event_n": _log(self.in_event[i]),
            "formation_only_modal": float(self.in_formation[i] > 0 and self.in_event[i] == 0),
            "first_event": float(i in self.first_event_sentence),
            "trigger_clause": float(c.in_clause[i] > 0),
            "first_mentioned": float(self.first_position.get(i, 99) == 0),
            "lead_cue": float(c.lead_event[i] > 0),
            "lead_cue_any": float(c.lead[i] > 0),
            "member_cue": float(c.member_event[i] > 0),
            "member_cue_any": float(c.member[i] > 0),
            "named_alliance": float(c.named_alliance[i] > 0),
            "plaque_owner": float(c.plaque_owner[i] > 0),
            "venue": float(c.venue[i] > 0),
            "founded_at": float(c.founded_at[i] > 0),
            "level": level / 5.0,
            "top_level": float(level >= self.top_level and self.top_level > self.low_level),
            "low_level": float(level <= self.low_level and self.top_level > self.low_level),
            "writer": float(i == self.art.writer),
            "branch": float(inst.name.endswith(("分院", "院区"))),
            "relative": float(inst.relative),
        }
        self._unary[i] = out
        return out

    def pair(self, a: int, b: int) -> dict[str, float]:
        """Features of "a leads, b joins": what is said of the two together, how they rank,
        and what is said of each (``L_`` the would-be lead, ``M_`` the would-be member)."""
        c = self.cues
        la, lb = self.levels.get(a, 2.5), self.levels.get(b, 2.5)
        ua, ub = self.unary(a), self.unary(b)
        out = {name: ua[k] for name, k in _LEAD_KEYS}
        out.update({name: ub[k] for name, k in _MEMBER_KEYS})
        # .get(key, 0) rather than counter[key]: the same 0 for the many pairs never counted,
        # without a call of Counter.__missing__ for each
        ab, ba = (a, b), (b, a)
        directed, directed_back = c.directed.get(ab, 0), c.directed.get(ba, 0)
        out.update(
            {
                "cooc_event": float(c.cooc_event.get(ab, 0) > 0),
                "cooc_clause": float(c.cooc_clause.get(ab, 0) > 0),
                "cooc_modal_only": float(
                    c.cooc_modal.get(ab, 0) > 0 and c.cooc_event.get(ab, 0) == 0
                ),
                "directed": float(directed > 0),
                "directed_reverse": float(directed_back > 0),
                "directed_elsewhere": float(
                    directed == 0 and directed_back == 0 and any(x == a for x, _ in c.directed)
                ),
                "branch_host": float(
                    c.branch_host.get(ab, 0) > 0 or self.art.insts[a].branch_of == b
                ),
                "parties_first": float(c.parties.get(ab, 0) > 0),
                "parties_second": float(c.parties.get(ba, 0) > 0),
                "pairwise_same": float(c.pairwise_same.get(ab, 0) > 0),
                "pairwise_other": float(c.pairwise_other.get(ab, 0) > 0),
                "level_diff": (la - lb) / 4.0,
                "level_higher": float(la > lb),
                "level_equal": float(la == lb),
                "lead_and_member": float(
                    c.lead_event.get(a, 0) > 0 and c.member_event.get(b, 0) > 0
                ),
                "member_is_lead_cued": float(c.lead_event.get(b, 0) > 0),
                "lead_is_member_cued": float(c.member_event.get(a, 0) > 0),
            }
        )
        return out

    def near(self, a: int, b: int) -> bool:
        """Whether ``a`` and ``b`` may be a pair: named within :data:`NEAR` sentences of each
        other, or ``b`` named as a member wherever ("联盟首批成员单位包括B、C" paragraphs after
        the founding). The parties of one formation are told together; two institutions only
        ever named far apart (a page's other news, a sidebar) are not a pair."""
        if self.cues.member.get(b, 0) and not self.cues.lead.get(b, 0):
            return True
        xs, ys = self.sentences_of.get(a, ()), self.sentences_of.get(b, ())
        for x in xs:
            k = bisect.bisect_left(ys, x - NEAR)
            if k < len(ys) and ys[k] <= x + NEAR:
                return True
        return False

    def stated(self, a: int, b: int) -> bool | None:
        """What the text states outright of "a leads b": True for a pair of a parallel list
        ("A和B、C和D分别签署") or a directed cue in a reported formation ("A托管B", "B加入A…"),
        False for two institutions of one parallel list that are not a pair, else None."""
        c = self.cues
        # .get: as in pair, no Counter.__missing__ call for each pair never counted
        if c.pairwise_same.get((a, b), 0):
            return True
        if c.pairwise_other.get((a, b), 0) or c.pairwise_same.get((b, a), 0):
            return False
        if c.directed_event.get((a, b), 0) and not c.directed_event.get((b, a), 0):
            return True
        return None

    def roles_allow(self, a: int, b: int) -> bool:
        """Explicit cues are not overruled: what the text says leads does not join, what it
        says joins does not lead, and "A托管B" never reads as B leading A."""
        c = self.cues
        if c.directed[(b, a)] and not c.directed[(a, b)]:
            return False
        if c.lead_stated[b] and not c.member_event[b]:
            return False  # co-leads do not lead each other
        return not (c.member_event[a] and not c.lead_event[a])  # what joins does not lead

    def is_notice(self) -> bool:
        """A policy document, a recruitment or a procurement notice: no formation to report."""
        title = self.art.sentences[0].text if self.art.sentences else ""
        if cues.NOTICE_TITLE.search(title):
            return True
        if cues.LIST_NOTICE.search(title):
            return False
        policy = cues.POLICY_TITLE.search(title) if len(title) <= 80 else None
        if policy and not cues.POLICY_CITED.search(title, 0, policy.start() + 1):
            return True
        headings = list(cues.POLICY_HEADING.finditer(self.art.text))
        if len(headings) < 2:
            return False
        # a plan's headings after a reported formation are its attachment ("附件: 实施方案"),
        # not a page that is the plan
        reported = next(
            (v.sentence.start for v, f in zip(self.art.views, self.flags, strict=True) if f.event),
            None,
        )
        return reported is None or headings[0].start() < reported

    def article(self) -> dict[str, float]:
        events = [
            v
            for v, f in zip(self.art.views, self.flags, strict=True)
            if f.event and (v.insts() or f.carried)
        ]
        formations = [v for v, f in zip(self.art.views, self.flags, strict=True) if f.formation]
        title = [v for v in self.art.views if v.sentence.title]
        title_text = " ".join(v.template for v in title)
        two = [
            v
            for v, f in zip(self.art.views, self.flags, strict=True)
            if f.event and (len(v.insts()) >= 2 or f.carried)
        ]
        text = self.art.text
        out = {
            "event_sentences": _log(len(events)),
            "event_two_insts": _log(len(two)),
            "formation_sentences": _log(len(formations)),
            "modal_only": float(bool(formations) and not any(f.event for f in self.flags)),
            "title_trigger": float(bool(cues.TRIGGER.search(title_text))),
            "title_alliance": float(bool(cues.ALLIANCE_NOUN.search(title_text))),
            "title_meeting": float(bool(cues.MEETING.search(title_text))),
            "negative_domain": _log(len(cues.NEGATIVE_DOMAIN.findall(text))),
            "policy": float(self.is_notice()),
            "institutions": _log(len(self.candidates)),
            "lead_cue": float(any(self.cues.lead_event.values())),
            "member_cue": float(any(self.cues.member_event.values())),
            "directed": float(bool(self.cues.directed)),
            "named_alliance": float(any(self.cues.named_alliance.values())),
            "government_party": float(any(self.cues.government_party.values())),
            "counted_members": float(any(_counts_members(v.template) for v in events)),
            "renewal": float(bool(cues.RENEWAL.search(text))),
            "company": float(any(cues.COMPANY.search(v.template) for v in events)),
            "government": float(any(cues.GOVERNMENT.search(v.template) for v in events)),
            "project": float(any(cues.PROJECT.search(v.template) for v in events)),
            "single_party": float(bool(events) and not two),
        }
        return out
