"""Alliance events from an analysed article: the models' choices made into events.

Pairs the pair model accepts become (lead, member) pairs; pairs sharing a lead are one event,
and leads that share exactly the same members are co-leads of one event. An article the
relevance model accepts but whose members are not named gives a lead-only event. Each event
takes its evidence, type, specialty and date from the sentence that reports it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from dataclasses import dataclass

from services.common.contracts import AllianceEvent, EventType, Evidence, InstitutionMention

from .analysis import ArticleText, View
from .cues import ID, TRIGGER
from .dates import DateMention
from .features import ArticleFeatures
from .model import Models
from .places import PlaceContext
from .types import (
    alliance_specialty,
    cooperation_items,
    event_type,
    hospital_specialty,
    specialties_in,
)

#: the score given to a pair the text states outright, whatever the pair model makes of it
STATED = 0.9
#: how sure the pair model must be of a pair whose lead is not the article's main lead
OTHER_LEAD = 0.8
#: how sure the relevance model must be to call an article relevant whose parties it cannot
#: name (cross-validated: 0.6 and 0.7 help alike, 0.75 and above change nothing)
SURE_WITHOUT_PARTIES = 0.7
#: pair scores this close are one reading of the text (members of one list score alike)
TIE = 0.01
#: at most this many events an article (more is a list page or a fault; the best are kept)
MAX_EVENTS = 50
#: a clause about what came before: "继8月10日与A签署协议后" (its date is not this event's)
_EARLIER_EVENT = re.compile(r"继[^。;!?]{0,60}?(?:之后|以后|后)")
_CLAUSE_BREAK = re.compile(r"[,:]")
_DATELINE_TAIL = re.compile(r"\s*(?:讯|电)(?![子话脑])")


@dataclass
class Choice:
    leads: list[int]
    members: list[int]
    confidence: float


@dataclass(frozen=True)
class Decision:
    relevant: bool
    relevance: float
    choices: tuple[Choice, ...]
    truncated: bool = False


def pair_scores(fx: ArticleFeatures, models: Models) -> dict[tuple[int, int], float]:
    """The pair model's score of every ordered pair of candidates the text names near each
    other: the parties of one formation are told together, and two institutions named only
    far apart (the page's other news, a sidebar) are no pair, whatever else is said of them."""
    return {
        (a, b): models.pair.probability(fx.pair(a, b))
        for a in fx.candidates
        for b in fx.candidates
        if a != b and fx.near(a, b)
    }


def relevance_features(
    fx: ArticleFeatures, models: Models, scored: dict[tuple[int, int], float]
) -> dict[str, float]:
    """The article's own features and what the pair and lead models make of it."""
    out = fx.article()
    out["max_pair"] = max(scored.values(), default=0.0)
    out["max_lead"] = max(
        (models.lead.probability(fx.unary(i)) for i in fx.candidates), default=0.0
    )
    return out


def decide(fx: ArticleFeatures, models: Models) -> Decision:
    """Which (lead, member) pairs and lead-only events the models accept."""
    if fx.is_notice():
        return Decision(False, 0.0, ())
    scored = pair_scores(fx, models)
    relevance = models.relevance.probability(relevance_features(fx, models, scored))
    if relevance < models.relevance.threshold:
        return Decision(False, relevance, ())
    accepted: dict[tuple[int, int], float] = {}
    for p, s in scored.items():
        stated = fx.stated(*p)
        if stated is True:
            accepted[p] = max(s, STATED)  # structure first: what the text states outright
        elif stated is None and s >= models.pair.threshold and fx.roles_allow(*p):
            accepted[p] = s
    if not accepted:
        # a relevant article reports its formation: its best pair of parties named in the clause
        # of a reported trigger ("A与B签约共建医联体") stands even if the model is unsure
        clause_pairs = [
            (s, p)
            for p, s in scored.items()
            if fx.cues.cooc_clause[p] and fx.stated(*p) is not False and fx.roles_allow(*p)
        ]
        if clause_pairs:
            best, (lead, member) = max(clause_pairs)
            cued = fx.cues.member_event
            # the members of one coordinated list read alike: "A与B、C建立…" takes B and C, and
            # so do the members a cue names with the best one ("集团由A、B和C组成")
            for s, p in clause_pairs:
                if p[0] == lead and (s >= best - TIE or (cued[member] and cued[p[1]])):
                    accepted[p] = s
    for (a, b), s in list(accepted.items()):
        if (b, a) in accepted and accepted[(b, a)] > s:
            del accepted[(a, b)]
    # one article, one main lead: the lead of its best pair; other leads need the text to state
    # their pairs, or a pair model that is sure
    inferred = {p: s for p, s in accepted.items() if fx.stated(*p) is not True}
    if inferred:
        (main, _), best = max(inferred.items(), key=lambda t: t[1])
        mains = {main} | {x for g in fx.cues.co_leads if main in g for x in g}
        # a second formation told alike ("A与B签订…;同日,C与D签订…"): its lead reads exactly
        # as the main one, with parties of its own
        taken = {x for p in inferred if p[0] == main for x in p}
        mains |= {
            a
            for (a, b), s in inferred.items()
            if s >= best - TIE and a not in taken and b not in taken
        }
        accepted = {
            p: s
            for p, s in accepted.items()
            if p[0] in mains or fx.stated(*p) is True or s >= OTHER_LEAD
        }
    # an institution is a lead or a member, not both: its strongest pair decides
    role: dict[int, tuple[str, float]] = {}
    for (a, b), s in sorted(accepted.items(), key=lambda t: -t[1]):
        role.setdefault(a, ("lead", s))
        role.setdefault(b, ("member", s))
    pairs = {
        p: s for p, s in accepted.items() if role[p[0]][0] == "lead" and role[p[1]][0] == "member"
    }
    by_lead: dict[int, dict[int, float]] = {}
    for (a, b), s in pairs.items():
        by_lead.setdefault(a, {})[b] = s
    for group in fx.cues.co_leads:
        # leads named together share the members any of them was found with
        shared = {m: s for lead in group if lead in by_lead for m, s in by_lead[lead].items()}
        if shared:
            for lead in group:
                if lead in fx.candidates and lead not in shared:
                    by_lead[lead] = {**shared, **by_lead.get(lead, {})}
    choices: list[Choice] = []
    for lead, members in by_lead.items():
        ordered = sorted(members, key=lambda m: fx.first_position.get(m, 99))
        same = next((c for c in choices if sorted(c.members) == sorted(ordered)), None)
        if same is not None:
            same.leads.append(lead)
            same.confidence = max(same.confidence, max(members.values()))
            continue
        choices.append(Choice([lead], ordered, max(members.values())))
    if not choices:
        leads = [(models.lead.probability(fx.unary(i)), i) for i in fx.candidates]
        joined = [i for i in fx.candidates if fx.cues.member_event[i] and not fx.cues.lead_event[i]]
        if joined and not any(p >= models.lead.threshold for p, _ in leads):
            # members the text names as joining an alliance: its lead is the one whose alliance
            # the same article names in an event ("A麻醉科专科联盟新成员授牌…B、C获授牌"), else
            # it goes unnamed ("为A、B等11家成员单位授牌"): an event without a lead
            owners = [
                i
                for i in fx.candidates
                if fx.cues.named_alliance[i]
                and fx.cues.lead_event[i]
                and i not in joined
                and all(fx.roles_allow(i, b) for b in joined)
            ]
            return Decision(
                True,
                relevance,
                (Choice(owners[:1] if len(owners) == 1 else [], joined, relevance),),
            )
        leads.sort(reverse=True)
        if leads and leads[0][0] >= models.lead.threshold:
            # co-leads: others the text itself names as leading ("由A与B共同牵头")
            chosen = [leads[0][1]] + [
                i
                for p, i in leads[1:]
                if p >= models.lead.threshold
                and fx.unary(i)["lead_cue"]
                and fx.unary(leads[0][1])["lead_cue"]
            ]
            # the institutions the text says join, join the alliance of the article's lead
            joining = [
                i
                for i in fx.candidates
                if fx.cues.member_event[i]
                and not fx.cues.lead_event[i]
                and i not in chosen
                and all(fx.roles_allow(a, i) for a in chosen)
            ]
            choices.append(Choice(chosen, joining, leads[0][0] * relevance))
    choices.sort(key=lambda c: -c.confidence)
    truncated = len(choices) > MAX_EVENTS
    # a formation the models are sure of is reported even when its parties go unnamed
    # ("医院医院缔结了心血管内科专科联盟" on a page that blanked its names)
    relevant = bool(choices) or relevance >= SURE_WITHOUT_PARTIES
    return Decision(relevant, relevance, tuple(choices[:MAX_EVENTS]), truncated)


def unnamed_but_sure(decision: Decision) -> bool:
    """A formation the relevance model is sure of, whose parties the article does not name."""
    return decision.relevant and decision.relevance >= SURE_WITHOUT_PARTIES


class EventWriter:
    """Turns choices into contract events: evidence, type, specialty, date, places."""

    def __init__(
        self, art: ArticleText, fx: ArticleFeatures, ctx: PlaceContext, reference: dt.date | None
    ) -> None:
        self.art = art
        self.fx = fx
        self.ctx = ctx
        self.dates = fx.dates
        self.cooperation = cooperation_items(art.text)
        self.title = next((v for v in art.views if v.sentence.title), None)
        self.article_specialties = specialties_in(art.text)
        # indexes, so that an event's sentences and dates are found without rescanning the text
        self.views_of: dict[int, list[int]] = {}
        for k, v in enumerate(art.views):
            for i in v.insts():
                self.views_of.setdefault(i, []).append(k)
        self._date_starts = [d.start for d in self.dates]
        self._ranked: dict[
            tuple[tuple[int, ...], tuple[int, ...], bool], list[tuple[tuple[int, ...], View]]
        ] = {}
        # per sentence (by index): each choice ranks the same sentences again
        self._clause_memo: dict[int, list[list[int]]] = {}
        self._date_memo: dict[int, DateMention | None] = {}

    def events(self, decision: Decision) -> tuple[AllianceEvent, ...]:
        return tuple(
            self._event(part)
            for c in decision.choices
            for part in self._by_date(c)
            if self._named(part.leads) or self._named(part.members)
        )

    def _named(self, insts: list[int]) -> list[int]:
        """The institutions the article names (not an unnamed writer's "我院")."""
        return [i for i in insts if i != self.art.unnamed_writer]

    def _by_date(self, c: Choice) -> list[Choice]:
        """Members one lead signed with on different days are different events."""
        if len(c.members) < 2:
            return [c]
        days: dict[str | None, list[int]] = {}
        for m in c.members:
            ranked = self._sentences(Choice(c.leads, [m], c.confidence), by_member=True)
            evidence = ranked[0][1] if ranked else self.art.views[0]
            inside = [
                d
                for d in self._dates_in(evidence.sentence.start, evidence.sentence.end)
                if d.precision == 2
            ]
            day = inside[0].iso() if len(inside) == 1 else None
            days.setdefault(day, []).append(m)
        if len([d for d in days if d is not None]) < 2:
            return [c]
        undated = days.pop(None, [])
        parts = [Choice(c.leads, members, c.confidence) for members in days.values()]
        parts[0].members.extend(undated)
        return parts

    def _sentences(self, c: Choice, by_member: bool = False) -> list[tuple[tuple[int, ...], View]]:
        """The sentences that speak of the event, best first: the lead and a member in the
        clause of a trigger, then in a reported formation, then anywhere."""
        memo = (tuple(c.leads), tuple(c.members), by_member)
        if memo in self._ranked:
            return self._ranked[memo]
        leads, members = set(c.leads), set(c.members)
        out: list[tuple[tuple[int, ...], View]] = []
        where = {k for i in leads | members for k in self.views_of.get(i, [])}
        if by_member:
            # only where a member is named (the evidence of one member's pair is among them)
            where = {k for i in members for k in self.views_of.get(i, [])} or where
        for k in sorted(where):
            v, f = self.art.views[k], self.fx.flags[k]
            here = set(v.insts())
            both = bool(leads & here) and (bool(members & here) or not members)
            clause = any(
                bool(leads & set(ids)) and (bool(members & set(ids)) or not members)
                for ids in self._trigger_clause_insts(v)
            )
            key = (
                int(both and clause and f.event),
                int(both and f.event),
                int(f.event),
                int(both),
                int(f.formation),
                int(self._date_inside(v) is not None),
                int(not v.sentence.title),
            )
            out.append((key, v))
        out.sort(key=lambda t: t[0], reverse=True)  # stable: the earlier sentence on ties
        self._ranked[memo] = out
        return out

    def _dates_in(self, start: int, end: int) -> list[DateMention]:
        lo = bisect.bisect_left(self._date_starts, start)
        hi = bisect.bisect_left(self._date_starts, end)
        return [d for d in self.dates[lo:hi] if d.end <= end]

    def _trigger_clause_insts(self, v: View) -> list[list[int]]:
        memo = self._clause_memo.get(v.sentence.index)
        if memo is None:
            spans = [part for part in _CLAUSE_BREAK.split(v.template) if TRIGGER.search(part)]
            memo = [[v.ids[int(k)] for k in ID.findall(part)] for part in spans]
            self._clause_memo[v.sentence.index] = memo
        return memo

    def _evidence(self, c: Choice) -> View:
        ranked = self._sentences(c)
        return ranked[0][1] if ranked else self.art.views[0]

    def _type(self, c: Choice, evidence: View) -> EventType:
        others = [v.masked for key, v in self._sentences(c)[1:] if key[2]]
        first = next(
            (
                v.masked
                for v, f in zip(self.art.views, self.fx.flags, strict=True)
                if f.event and not v.sentence.title
            ),
            "",
        )
        return event_type(
            evidence.masked, self.title.masked if self.title else "", others + [first]
        )

    def _specialty(self, evidence: View, etype: EventType, lead: int) -> str | None:
        spec = alliance_specialty(evidence.sentence.text)
        if spec is None and etype is EventType.specialty_alliance:
            if self.title is not None:
                spec = alliance_specialty(self.title.sentence.text)
            if spec is None and self.article_specialties:
                # the most named; of equals, the first named (a set's order varies per process)
                spec = max(
                    dict.fromkeys(self.article_specialties), key=self.article_specialties.count
                )
        if spec is None:
            spec = hospital_specialty(self.art.insts[lead].name)
        return spec

    def _date_inside(self, v: View) -> DateMention | None:
        k = v.sentence.index
        if k not in self._date_memo:
            self._date_memo[k] = self._find_date_inside(v)
        return self._date_memo[k]

    def _find_date_inside(self, v: View) -> DateMention | None:
        inside = [d for d in self._dates_in(v.sentence.start, v.sentence.end) if d.precision > 0]
        if len(inside) > 1:
            # a news-agency dateline ("新华网乌鲁木齐7月10日电") dates the report, not the event
            inside = [d for d in inside if not _DATELINE_TAIL.match(self.art.text, d.end)] or inside
        # "继8月10日…签署协议后,…": that date is the earlier event's
        earlier = [
            m.span()
            for m in _EARLIER_EVENT.finditer(self.art.text, v.sentence.start, v.sentence.end)
        ]
        inside = [d for d in inside if not any(a <= d.start < b for a, b in earlier)]
        if inside:
            return max(inside, key=lambda d: (not d.iso_format, d.precision, -d.start))
        return None

    def _date(self, v: View) -> DateMention | None:
        inside = self._date_inside(v)
        if inside is not None:
            return inside
        start = v.sentence.start
        before = [
            d
            for d in self._dates_in(start - 1200, start)
            if d.precision == 2 and not self._header_date(d)
        ]
        return before[-1] if before else None

    def _header_date(self, d: DateMention) -> bool:
        text = self.art.text
        line_start = text.rfind("\n", max(0, d.start - 60), d.start) + 1 if d.start > 60 else 0
        line_end = text.find("\n", d.end, d.end + 60)
        line = text[line_start : line_end if line_end >= 0 else d.end + 60]
        return len(line) < 60 and not re.search(r"[,。]", line)

    def _event(self, c: Choice) -> AllianceEvent:
        evidence = self._evidence(c)
        etype = self._type(c, evidence)
        date = self._date(evidence)
        if date is None:
            # the event's date may sit in its other sentences: "6月20日下午…授牌仪式在我院举行"
            for key, v in self._sentences(c)[1:]:
                if key[4] and date is None:
                    date = self._date_inside(v)
        home = self.ctx.home_province
        provinces: list[str] = []
        strong: set[str] = set()
        for i in self._named(c.leads + c.members):
            place = self.art.insts[i].place
            prov = place.province
            if prov and not place.strong and home and prov != home:
                prov = None
            if prov and place.strong:
                strong.add(prov)
            prov = prov or home
            if prov and prov not in provinces:
                provinces.append(prov)
        s = evidence.sentence
        return AllianceEvent(
            type=etype,
            specialty=self._specialty(evidence, etype, (self._named(c.leads) or c.members)[0]),
            lead=tuple(self._mention(i) for i in self._named(c.leads)),
            members=tuple(self._mention(i) for i in self._named(c.members)),
            date=date.iso() if date is not None else None,
            provinces=tuple(provinces),
            cross_province=len(strong) >= 2,
            cooperation=self.cooperation,
            confidence=round(min(max(c.confidence, 0.0), 1.0), 2),
            evidence=Evidence(text=s.text, start=s.start, end=s.end),
        )

    def _mention(self, i: int) -> InstitutionMention:
        inst = self.art.insts[i]
        place = inst.place
        home = self.ctx.home_province
        province, city, county = place.province, place.city, place.county
        if province and not place.strong and home and province != home:
            province = city = county = None
        return InstitutionMention(
            name=inst.name,
            aliases=inst.aliases,
            province=province or home,
            city=city,
            county=county,
        )
