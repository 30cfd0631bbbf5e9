"""What the text says about each institution and each (lead, member) pair, as numbers.

The cues of :mod:`.cues` are read sentence by sentence and summed per institution and per
ordered pair; the models in :mod:`.model` weigh them. Every feature is about the language
(who is said to lead, to join, to sign with whom, in a reported or a planned formation),
never about particular names.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
import re
from collections import Counter
from dataclasses import dataclass, field

from . import cues, structure
from .analysis import ArticleText, View
from .dates import DateMention

#: at most this many institutions are weighed as participants (the most mentioned first)
MAX_CANDIDATES = 120


@dataclass
class SentenceFlags:
    formation: bool = False  # a trigger that reports a formation (with an alliance noun if weak)
    modal: bool = False  # planned, intended, recalled or renewed
    negative: bool = False  # family doctors, elderly care, procurement ...
    meeting: bool = False
    alliance_noun: bool = False
    carried: bool = False  # its parties are named in the sentence before ("会上签订了协议")
    #: spans (in the template) of the clauses holding a reported, not planned, trigger
    clauses: list[tuple[int, int]] = field(default_factory=list)

    @property
    def event(self) -> bool:
        return self.formation and not self.modal and not self.negative


@dataclass
class Cues:
    """Role cues found in the article, by institution and by ordered pair."""

    lead: Counter[int] = field(default_factory=Counter)
    lead_event: Counter[int] = field(default_factory=Counter)
    #: leads the text names as such in a reported formation (牵头, 以A为核心, A托管B, A为B授牌)
    lead_stated: Counter[int] = field(default_factory=Counter)
    member: Counter[int] = field(default_factory=Counter)
    member_event: Counter[int] = field(default_factory=Counter)
    named_alliance: Counter[int] = field(default_factory=Counter)
    plaque_owner: Counter[int] = field(default_factory=Counter)
    venue: Counter[int] = field(default_factory=Counter)
    founded_at: Counter[int] = field(default_factory=Counter)
    #: named only as earlier partners: "继A之后", "先后与A、B签署"
    background: Counter[int] = field(default_factory=Counter)
    government_party: Counter[int] = field(default_factory=Counter)
    co_leads: list[frozenset[int]] = field(default_factory=list)
    #: named inside the clause of a reported trigger ("A与B签约" rather than "在C的托管下")
    in_clause: Counter[int] = field(default_factory=Counter)
    #: co-built hospitals unveiled at a host: the host is the institution that joins
    hosted_builds: set[int] = field(default_factory=set)
    directed: Counter[tuple[int, int]] = field(default_factory=Counter)
    directed_event: Counter[tuple[int, int]] = field(default_factory=Counter)
    branch_host: Counter[tuple[int, int]] = field(default_factory=Counter)
    parties: Counter[tuple[int, int]] = field(default_factory=Counter)
    pairwise_same: Counter[tuple[int, int]] = field(default_factory=Counter)
    pairwise_other: Counter[tuple[int, int]] = field(default_factory=Counter)
    cooc_event: Counter[tuple[int, int]] = field(default_factory=Counter)
    cooc_formation: Counter[tuple[int, int]] = field(default_factory=Counter)
    cooc_modal: Counter[tuple[int, int]] = field(default_factory=Counter)
    cooc_clause: Counter[tuple[int, int]] = field(default_factory=Counter)
    cooc_any: Counter[tuple[int, int]] = field(default_factory=Counter)


def sentence_flags(v: View, old_years: bool = False) -> SentenceFlags:
    """``old_years``: the sentence dates itself years before the article (recalled history)."""
    t = v.template
    f = SentenceFlags()
    f.alliance_noun = bool(cues.ALLIANCE_NOUN.search(t))
    f.negative = bool(
        cues.NEGATIVE_DOMAIN.search(t)
        or cues.AFFILIATION.search(v.sentence.text)
        or cues.REGIONAL_CENTRE.search(t)
        and not cues.STRONG_ALLIANCE.search(t)
    )
    f.meeting = bool(cues.MEETING.search(t))
    for m in cues.TRIGGER.finditer(t):
        if (
            cues.WEAK_TRIGGER.fullmatch(m.group()[:2])
            and not f.alliance_noun
            and not cues.SIGNING.search(m.group())
        ):
            continue  # "举行合作签约仪式" still reports a signing
        clause_start = max(t.rfind(",", 0, m.start()), t.rfind(":", 0, m.start())) + 1
        before = t[clause_start : m.start()]
        after = t[m.end() : m.end() + 8]
        # "A托管的B": a trigger before 的 describes what already is, it reports no event
        modal = bool(
            cues.PLAN.search(before)
            or cues.HISTORY.search(before)
            or cues.HISTORY_AFTER.match(after)
            or after.startswith("的")
            or old_years
            or cues.PLAN_SENTENCE.search(t[:clause_start])
            and "了" not in t[clause_start : m.end() + 1]
            or cues.RENEWAL.search(t[clause_start : m.end() + 2])
        )
        if not modal:
            end = min(
                (k for k in (t.find(",", m.end()), t.find(":", m.end())) if k >= 0), default=len(t)
            )
            f.clauses.append((clause_start, end))
        if not f.formation or f.modal:
            f.formation = True
            f.modal = modal
    if f.formation and (cues.INTENTION.search(t) or cues.RENEWAL.search(t)):
        f.modal = True
        f.clauses.clear()
    return f


def _ids(group: str | None, view: View) -> list[int]:
    if not group:
        return []
    return [view.ids[int(k)] for k in cues.ID.findall(group) if int(k) < len(view.ids)]


#: a sentence that goes on about the parties of the one before: "会上签订了…协议"
_CARRY_ON = re.compile(
    r"^(?:会上|会后|随后|仪式上|签约仪式上|当天|当日|双方|两院|其间|活动中|此次)"
)


def read_cues(views: list[View], flags: list[SentenceFlags], levels: dict[int, float]) -> Cues:
    c = Cues()
    previous: list[int] = []
    for v, f in zip(views, flags, strict=True):
        insts = v.insts()
        parties = insts
        if f.event and _CARRY_ON.match(v.template) and set(previous) - set(insts):
            parties = list(dict.fromkeys(previous + insts))
            f.carried = len(parties) >= 2
        previous = insts or previous
        for a in parties:
            for b in parties:
                if a != b:
                    if f.event:
                        c.cooc_event[(a, b)] += 1
                    if f.formation:
                        c.cooc_formation[(a, b)] += 1
                        if f.modal:
                            c.cooc_modal[(a, b)] += 1
        if not insts and not v.plaque_owners:
            continue
        t = v.template
        for a in insts:
            for b in insts:
                if a != b:
                    c.cooc_any[(a, b)] += 1
        if f.event:
            # both in the clause that holds the trigger ("A与B签约,在C举行" keeps A, B)
            for a0, b0 in f.clauses:
                here = [v.ids[int(k)] for k in cues.ID.findall(t[a0:b0])]
                for a in set(here):
                    c.in_clause[a] += 1
                for a in here:
                    for b in here:
                        if a != b:
                            c.cooc_clause[(a, b)] += 1
        weight = 1 if f.formation and not f.negative else 0
        if not (f.formation or f.alliance_noun or cues.ROLE_WORDS.search(t)):
            continue  # no word of forming, of alliances or of roles: no role cue to read
        for p in cues.LEAD_UNARY:
            for m in p.finditer(t):
                named = _ids(m.group("lead"), v)
                for i in named:
                    c.lead[i] += 1
                    c.lead_event[i] += weight
                    c.lead_stated[i] += weight
                if weight and len(set(named)) > 1:
                    c.co_leads.append(frozenset(named))  # "A、B、C牵头": one alliance, three leads
        for p in cues.MEMBER_UNARY:
            for m in p.finditer(t):
                for i in _ids(m.group("mem"), v):
                    c.member[i] += 1
                    c.member_event[i] += weight
        for p in cues.DIRECTED:
            for m in p.finditer(t):
                leads, mems = _ids(m.group("lead"), v), _ids(m.group("mem"), v)
                for a in leads:
                    c.lead[a] += 1
                    c.lead_event[a] += weight
                    c.lead_stated[a] += weight
                    for b in mems:
                        if a != b:
                            c.directed[(a, b)] += 1
                            c.directed_event[(a, b)] += int(f.event)
                for b in mems:
                    c.member[b] += 1
                    c.member_event[b] += weight
        speaker = cues.SPEAKER.match(t)
        if speaker:
            subject = v.ids[int(speaker.group("k"))]
            for m in cues.SUPPORT_TO.finditer(t, speaker.end()):
                before = t[speaker.end() : m.start()]
                if cues.OTHER_GIVER.search(before) or cues.ID.search(before[-6:]):
                    continue  # someone else gives it, or the subject is the one helped
                for b in _ids(m.group("mem"), v):
                    if b != subject:
                        c.directed[(subject, b)] += 1
        if f.event and cues.STRONG_ALLIANCE.search(t):
            for m in cues.GOVERNMENT_PARTY.finditer(t):
                # "A与X县人民政府签署医联体协议": the hospital leads what the county joins
                for i in _ids(m.group("a") or m.group("b"), v):
                    c.lead[i] += 1
                    c.lead_event[i] += 1
                    c.government_party[i] += 1
        for m in cues.NAMED_ALLIANCE.finditer(t):
            for i in _ids(m.group("lead"), v):
                c.named_alliance[i] += 1
                if weight and not f.modal:
                    c.lead_event[i] += 1  # "A内分泌专科联盟成立": A's alliance
        for owner in v.plaque_owners if f.event else ():
            c.plaque_owner[owner] += 1
            for b in insts:
                if b != owner:
                    c.directed[(owner, b)] += 1
        hosted: set[int] = set()
        for m in [*cues.BRANCH_AT_HOST.finditer(t), *cues.BRANCH_UNVEILED_AT_HOST.finditer(t)]:
            branch_slots = [int(k) for k in cues.ID.findall(m.group("branch"))]
            if not any(k in v.branches for k in branch_slots):
                continue  # "A与B签约仪式在C举行": C is only where it happened
            hosted.update(branch_slots)
            for host in _ids(m.group("host"), v):
                c.member[host] += 1
                c.member_event[host] += weight
                for k in branch_slots:
                    builder = v.builders.get(k, v.ids[k])
                    if builder != host:
                        c.branch_host[(builder, host)] += 1
        c.hosted_builds |= {v.ids[k] for k in hosted if k in v.builders}
        if f.formation and not f.modal:
            for k, builder in v.builders.items():
                at = t.index(f"〔{k}〕")
                unveiled = re.match(
                    r"[”\"」]?(?:、〔\d+〕)*(?:同时)?" + cues.UNVEILED, t[at + len(f"〔{k}〕") :]
                )
                if (
                    k not in hosted
                    and builder != v.ids[k]
                    and unveiled
                    and not t[:at].endswith("在")
                ):
                    # "A集团双峰县中医医院揭牌": A builds it with the hospital named after the place
                    c.branch_host[(builder, v.ids[k])] += 1
                    c.lead[builder] += 1
                    c.lead_event[builder] += weight
                    c.lead_stated[builder] += weight
                    c.member[v.ids[k]] += 1
                    c.member_event[v.ids[k]] += weight
        for m in cues.OUTPOST_AT_HOST.finditer(t):
            lead, host = _ids(m.group("lead"), v)[0], _ids(m.group("host"), v)[0]
            if lead != host:
                c.branch_host[(lead, host)] += 1
                c.member[host] += 1
                c.member_event[host] += weight
        for k in v.branches:
            # "A集团邵阳县医院(邵阳县中医医院)": the hospital named in brackets is where A built
            inner = re.match(r"\(〔(\d+)〕\)", t[t.index(f"〔{k}〕") + len(f"〔{k}〕") :])
            if inner is not None:
                host = v.ids[int(inner.group(1))]
                if host != v.ids[k]:
                    c.branch_host[(v.ids[k], host)] += 1
                    c.member[host] += 1
                    c.member_event[host] += weight
        for m in cues.BACKGROUND.finditer(t):
            for i in _ids(m.group("a") or m.group("b"), v):
                c.background[i] += 1
        for m in cues.FOUNDED_AT.finditer(t):
            for i in _ids(m.group("venue"), v):
                c.founded_at[i] += 1
        for m in cues.VENUE.finditer(t):
            for i in _ids(m.group("venue"), v):
                c.venue[i] += 1
        if f.formation and not f.modal:
            for m in cues.PARTIES.finditer(t):
                a, b = _ids(m.group("a"), v)[0], _ids(m.group("b"), v)[0]
                if a != b:
                    c.parties[(a, b)] += 1
            for m in cues.PAIRWISE.finditer(t):
                if (
                    "分别" not in t[m.end() : m.end() + 30]
                    and "分别" not in t[max(0, m.start() - 8) : m.start()]
                ):
                    continue
                pairs = [
                    (_ids(x.group("a"), v)[0], _ids(x.group("b"), v)[0])
                    for x in cues.PAIR_IN_LIST.finditer(m.group())
                ]
                listed = {i for p in pairs for i in p}
                # parallel pairs keep one order: the side that ranks higher overall leads in each
                order = sum(levels.get(a, 2.5) - levels.get(b, 2.5) for a, b in pairs)
                for a, b in pairs:
                    c.pairwise_same[(a, b) if order >= 0 else (b, a)] += 1
                for a in listed:
                    for b in listed:
                        if a != b and (a, b) not in pairs and (b, a) not in pairs:
                            c.pairwise_other[(a, b)] += 1
    _read_structure(c, views, flags)
    if not any(c.lead_event.values()):
        # no lead named as such: the host of the founding leads ("西北呼吸危重症联盟在西京医院成立")
        for i, n in c.founded_at.items():
            c.lead[i] += n
            c.lead_event[i] += n
    return c


def _read_structure(c: Cues, views: list[View], flags: list[SentenceFlags]) -> None:
    """Members named in list rows and labelled fields join the lead named before them."""
    for listing in structure.listings(views):
        intro = views[listing.intro]
        # the lead: named in the introduction, else in the last event before it
        heads = intro.insts()
        if not heads:
            for k in range(listing.intro - 1, max(-1, listing.intro - 6), -1):
                if flags[k].event and views[k].insts():
                    heads = views[k].insts()
                    break
        leads = [i for i in heads if c.lead[i]] or heads
        for r in listing.rows:
            row = views[r].ids[0]  # one institution a row: the other columns are places, grades
            c.member[row] += 1
            c.member_event[row] += 1
            for a in leads:
                if a != row:
                    c.cooc_event[(a, row)] += 1
                    c.cooc_event[(row, a)] += 1
                    c.cooc_clause[(a, row)] += 1
                    c.cooc_clause[(row, a)] += 1
                    if c.lead[a]:
                        c.directed[(a, row)] += 1
    for fields in structure.labelled_fields(views):
        for a in fields.leads:
            c.lead[a] += 1
            c.lead_event[a] += 1
            c.lead_stated[a] += 1
            for b in fields.members:
                c.directed[(a, b)] += 1
                c.cooc_event[(a, b)] += 1
                c.cooc_event[(b, a)] += 1
                c.cooc_clause[(a, b)] += 1
                c.cooc_clause[(b, a)] += 1
        for b in fields.members:
            c.member[b] += 1
            c.member_event[b] += 1


def _dated_before(
    v: View, dates: list[DateMention], starts: list[int], ref_year: int | None
) -> bool:
    """The sentence names a year well before the article's: "2015年3月,A与B签约" in 2023."""
    if ref_year is None:
        return False
    s = v.sentence
    inside = dates[bisect.bisect_left(starts, s.start) : bisect.bisect_left(starts, s.end)]
    return any(
        d.explicit_year and d.year is not None and d.year < ref_year - 1 and d.end <= s.end
        for d in inside
    )


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
        for v, f in zip(art.views, self.flags, strict=True):
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
        out = {"L_" + k: ua[k] for k in _LEAD_SIDE}
        out.update({"M_" + k: ub[k] for k in _MEMBER_SIDE})
        out.update(
            {
                "cooc_event": float(c.cooc_event[(a, b)] > 0),
                "cooc_clause": float(c.cooc_clause[(a, b)] > 0),
                "cooc_modal_only": float(c.cooc_modal[(a, b)] > 0 and c.cooc_event[(a, b)] == 0),
                "directed": float(c.directed[(a, b)] > 0),
                "directed_reverse": float(c.directed[(b, a)] > 0),
                "directed_elsewhere": float(
                    c.directed[(a, b)] == 0
                    and c.directed[(b, a)] == 0
                    and any(x == a for x, _ in c.directed)
                ),
                "branch_host": float(c.branch_host[(a, b)] > 0 or self.art.insts[a].branch_of == b),
                "parties_first": float(c.parties[(a, b)] > 0),
                "parties_second": float(c.parties[(b, a)] > 0),
                "pairwise_same": float(c.pairwise_same[(a, b)] > 0),
                "pairwise_other": float(c.pairwise_other[(a, b)] > 0),
                "level_diff": (la - lb) / 4.0,
                "level_higher": float(la > lb),
                "level_equal": float(la == lb),
                "lead_and_member": float(c.lead_event[a] > 0 and c.member_event[b] > 0),
                "member_is_lead_cued": float(c.lead_event[b] > 0),
                "lead_is_member_cued": float(c.member_event[a] > 0),
            }
        )
        return out

    def stated(self, a: int, b: int) -> bool | None:
        """What the text states outright of "a leads b": True for a pair of a parallel list
        ("A和B、C和D分别签署") or a directed cue in a reported formation ("A托管B", "B加入A…"),
        False for two institutions of one parallel list that are not a pair, else None."""
        c = self.cues
        if c.pairwise_same[(a, b)]:
            return True
        if c.pairwise_other[(a, b)] or c.pairwise_same[(b, a)]:
            return False
        if c.directed_event[(a, b)] and not c.directed_event[(b, a)]:
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
        return len(cues.POLICY_HEADING.findall(self.art.text)) >= 2

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
            "counted_members": float(any(cues.COUNTED_MEMBERS.search(v.template) for v in events)),
            "renewal": float(bool(cues.RENEWAL.search(text))),
            "company": float(any(cues.COMPANY.search(v.template) for v in events)),
            "government": float(any(cues.GOVERNMENT.search(v.template) for v in events)),
            "project": float(any(cues.PROJECT.search(v.template) for v in events)),
            "single_party": float(bool(events) and not two),
        }
        return out
