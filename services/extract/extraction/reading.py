"""The cues of :mod:`.cues`, read sentence by sentence and summed per institution and per
ordered pair: who is said to lead, to join, to sign with whom, in a reported or a planned
formation. :mod:`.features` turns them into numbers for the models."""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, field

from . import cues, structure
from .analysis import View
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
    s = v.sentence.text
    f.negative = bool(
        cues.NEGATIVE_DOMAIN.search(t)
        # every AFFILIATION match holds 附属 or 教学医院: the search only where one is
        or ("附属" in s or "教学医院" in s)
        and cues.AFFILIATION.search(s)
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


def _with_needs(
    patterns: list[re.Pattern[str]], needs: tuple[tuple[str, ...], ...]
) -> list[tuple[re.Pattern[str], str, str]]:
    """Each role pattern with the first and the last of its needs (see cues.LEAD_UNARY_NEEDS;
    the same string twice where it has one): a sentence without a character of each is not
    searched."""
    return [(p, n[0], n[-1]) for p, n in zip(patterns, needs, strict=True)]


_LEAD_UNARY = _with_needs(cues.LEAD_UNARY, cues.LEAD_UNARY_NEEDS)
_MEMBER_UNARY = _with_needs(cues.MEMBER_UNARY, cues.MEMBER_UNARY_NEEDS)
_DIRECTED = _with_needs(cues.DIRECTED, cues.DIRECTED_NEEDS)


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
        # every match of DIRECTED, of the host patterns and of PARTIES / PAIRWISE holds two
        # placeholders or more (each "〔k〕" opens with 〔): skip them where there is one
        two = t.count("〔") >= 2
        present = set(t)  # for the patterns' needs
        for p, need, also in _LEAD_UNARY:
            if present.isdisjoint(need) or present.isdisjoint(also):
                continue
            for m in p.finditer(t):
                named = _ids(m.group("lead"), v)
                for i in named:
                    c.lead[i] += 1
                    c.lead_event[i] += weight
                    c.lead_stated[i] += weight
                if weight and len(set(named)) > 1:
                    c.co_leads.append(frozenset(named))  # "A、B、C牵头": one alliance, three leads
        for p, need, also in _MEMBER_UNARY:
            if present.isdisjoint(need) or present.isdisjoint(also):
                continue
            for m in p.finditer(t):
                for i in _ids(m.group("mem"), v):
                    c.member[i] += 1
                    c.member_event[i] += weight
        for p, need, also in _DIRECTED if two else ():
            if present.isdisjoint(need) or present.isdisjoint(also):
                continue
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
        at_host = (cues.BRANCH_AT_HOST, cues.BRANCH_UNVEILED_AT_HOST) if two else ()
        for m in [hit for p in at_host for hit in p.finditer(t)]:
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
        for m in cues.OUTPOST_AT_HOST.finditer(t) if two else ():
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
        if f.formation and not f.modal and two:
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
