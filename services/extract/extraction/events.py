"""Alliance events from normalised article text.

A sentence yields an event when it has a formation trigger (签约, 授牌, 挂牌, 揭牌, 成立,
加入, 组建, 托管 ...) in a clause that is not recalled history, a plan or an unrelated
签约 (family doctors, elderly care), and at least two distinct institutions in the
clauses around that trigger. Roles come from explicit patterns (以A为核心, A牵头, A托管B,
A为B授牌, B加入A…联盟, …为成员单位) and otherwise from the institutions' rank
(university / province > city > county > township). Members also come from list rows
after an introduction ("成员单位名单如下:" then "1. X医院" / table rows) and from labelled
fields ("牵头医院:A" then "成员单位:B、C"). Events of one article that share a
(lead, member) pair or a lead are merged.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field

from services.common.contracts import AllianceEvent, EventType, Evidence, InstitutionMention

from .dates import DateMention, find_dates
from .institutions import Institution, Mention, Resolution
from .places import PlaceContext
from .types import (
    alliance_specialty,
    cooperation_items,
    detect_type,
    hospital_specialty,
    specialties_in,
    type_priority,
)

_SENTENCE = re.compile(r"[^。!?;\n]+[。!?;]?")
_CLAUSE_SPLIT = re.compile(r"[,:]")
_TRIGGER = re.compile(
    r"签约|签订|签署|授牌|挂牌|揭牌|成立|加入|组建|建立|携手|牵手|结成|共建|颁发|授予|托管|组成|结为|缔结"
    r"|举行.{0,12}仪式|正式成为|成为.{0,12}(?:成员|单位|分院)|纳入|落户|启动|新增|吸纳|吸收|接纳|扩容"
    r"|正式启用|投入使用|实现联网"
)
_STRONG_TRIGGER = re.compile(r"签约|签订|签署|授牌|挂牌|揭牌|成立|加入|组建|托管|颁发|授予|结成|缔结|结为|举行|成为")
_HISTORY = re.compile(
    r"周年|年前|早在|此前|曾经|曾于|以来|多年来|近年来|过去|原来|回顾|回忆|历史|托管下|的托管|帮扶下|支持下|指导下"
    r"|帮助下|带领下|期间"
)
_PLAN = re.compile(r"将|拟|计划|即将|准备|有望|预计|力争|争取|筹备|筹建|规划|下一步|今后|未来|鼓励|支持|推动|推进")
_NEGATIVE = re.compile(
    r"医养结合|养老院|敬老院|养老服务|托育|幼儿园|家庭医生|签约服务|签约居民|签约率|签约医生|招聘|物业|保洁|食堂"
    r"|采购|中标|签约仪式上的讲话"
)
_POLICY_TITLE = re.compile(r"(?:印发|关于).{0,60}(?:方案|通知|意见|办法|规划|细则|指南|要点)|实施方案|工作方案|指导意见")
#: "按照县政府印发的…方案" cites a plan as the basis of what is reported
_POLICY_CITED = re.compile(r"按照|根据|依据|落实|遵照")
_POLICY_HEADING = re.compile(r"(?m)^\s*[一二三四五六七八九十]+、\s*(?:工作目标|总体要求|指导思想|基本原则|重点任务|主要任务"
                             r"|保障措施|组织实施|工作任务|实施步骤|主要目标|总体目标|建设目标|工作要求)")
_BACKREF = re.compile(r"该联盟|该医联体|该医共体|该集团|联盟成员|成员单位|首批成员|共同组建|加入联盟|联盟单位|成员医院"
                      r"|理事单位|联盟首批|成为联盟")
_STRUCTURE = re.compile(r"以.{2,40}?为(?:核心|龙头|牵头|主体|总医院|总院)|为(?:成员单位|成员医院|基层分院|区级分院|分院"
                        r"|理事长单位|副理事长单位|常务理事单位|理事单位)"
                        r"|由.{2,40}?(?:牵头|领衔)|成员(?:单位|医院)?(?:包括|有|为|是)")
#: a bare back-reference to the alliance the article is about: "…成为联盟首批成员单位"
_ALLIANCE_BACKREF = re.compile(r"(?:成为|加入)(?:了|到)?(?:该|本)?联盟|联盟(?:的)?(?:首批|新|正式)?成员")
#: institutions that join the alliance of the previous event without naming its lead:
#: "A、B签约加入联盟", "A、B被授予联盟成员单位牌匾", "A、B成为联盟新成员单位"
_BARE_JOIN = re.compile(r"(?:加入|成为|授予|纳入)(?:了|到|为)?(?:该|本|这个)?(?:联盟|医联体|医共体|专科联盟)"
                        r"|(?<!〕)(?:联盟|医联体|医共体)(?:的)?(?:首批|新|正式)?成员(?:单位|医院)"
                        r"|(?:首批|新)成员(?:单位|医院)(?:名单)?[^〔,。]{0,4},(?:〔\d*〕(?:、|和|及)?)+等?[^〔,。]{0,8}?"
                        r"(?:接受|领取)授牌")
#: triggers that report a formation only for a remote network ("远程会诊中心正式启用, 与…实现联网")
_DATELINE_TAIL = re.compile(r"\s*(?:讯|电)(?![子话脑])")
_REMOTE_TRIGGERS = ("正式启用", "投入使用", "实现联网")
#: a trigger that only dates what follows: "挂牌仪式结束后", "签约后"
_AFTER_TRIGGER = re.compile(r"(?:仪式|大会|活动)?(?:结束|完成)?(?:后|之后|以后|以来)")
#: wording that makes an agreement "other" in its own right (not a back-reference to an alliance)
_OTHER_SPECIFIC = re.compile(r"对口帮扶|对口支援|帮扶|支援|战略合作|合作协议|结对|策略联盟|战略联盟")
_NOTICE_TITLE = re.compile(r"招聘|招标|采购|中标|比选|询价|遴选公告|招募")
_LIST_NOTICE = re.compile(r"名单|公布|批复")
#: a sentence that introduces a list on the following lines
_LIST_INTRO = re.compile(r"(?:[:]|如下|名单)\s*$")
_LIST_INTRO_WORD = re.compile(r"成员|名单|单位|如下|包括|分别|医院|卫生院")
_LIST_ROW_NOISE = re.compile(r"^\s*[(]?(?:\d{1,3}|[一二三四五六七八九十]{1,3})\s*[.、)]?|[\s、,;|/·•\-—]"
                             r"|[\u4e00-\u9fff]{2,8}(?:省|市|县|区|州|旗)|[一二三]级|[甲乙]等|二甲|三甲|三乙|二乙")
_TABLE_HEADER = re.compile(r"序号|名称|单位|机构")
_LEAD_LABEL = re.compile(r"^\s*(?:牵头(?:医院|单位|机构)|龙头医院|核心医院|理事长单位|主任委员单位|总院|总医院)\s*[:]")
_MEMBER_LABEL = re.compile(r"^\s*(?:成员(?:单位|医院|机构)|分院|协作(?:单位|医院)|联盟成员|紧密型成员单位"
                           r"|基层分院|托管(?:单位|医院))\s*[:]")
_SPEECH = re.compile(r"表示|指出|认为|希望|强调|说|介绍|据悉|据了解|致辞|讲话")

_OPEN_GAP = re.compile(r"\s*\(\s*")
_CLOSE_GAP = re.compile(r"\s*\)")
_L = r"〔\d+〕(?:(?:、|和|及|与|以及|,|暨)〔\d+〕)*"
_ID = re.compile(r"〔(\d+)〕")
_LEAD_PATTERNS = [
    re.compile(r"以(?P<lead>" + _L + r")为(?:核心|龙头|牵头|主体|依托|总医院|总院|牵头医院|牵头单位|中心|主导|主"
               r"|龙头医院|核心医院|牵头方|总院)"),
    re.compile(r"由(?P<lead>" + _L + r")(?:共同|联合)?(?:牵头|领衔|发起|为总医院|为总院|为龙头|为核心|作为牵头"
               r"|担任牵头|任理事长)"),
    re.compile(r"(?P<lead>" + _L + r")(?:共同|联合)?(?:牵头|领衔|发起成立|发起)"),
    re.compile(r"(?P<lead>" + _L + r")(?:作为|为|任|担任|是)(?:(?!副)[^〔,。]){0,6}?(?:牵头单位|牵头医院|理事长单位"
               r"|主任委员单位|主席单位|盟主单位|核心医院|龙头医院|总医院|总院|牵头方)"),
    re.compile(r"(?P<lead>〔\d+〕)(?:正式|全面|整体)?托管(?:了)?(?P<mem>" + _L + ")"),
    re.compile(r"(?P<mem>" + _L + r")(?:由|交由|委托)(?P<lead>〔\d+〕)(?:全面|整体|正式)?托管"),
    re.compile(r"(?P<lead>〔\d+〕)[^〔,。]{0,12}?(?:为|向|给)(?:包括)?(?P<mem>" + _L
               + r")(?:在内的[^〔,。]{0,10}?|[^〔,。]{0,8}?)(?:颁发|授予|授牌|揭牌|挂牌|颁授)"),
    re.compile(r"(?P<mem>" + _L + r")[^〔,。]{0,8}?加入(?:了|到)?(?P<lead>〔\d+〕)"),
    re.compile(r"(?P<mem>" + _L + r")[^〔,。]{0,6}?在(?P<lead>〔\d+〕)的(?:帮扶|支援|指导|托管|带领|帮助)"),
    re.compile(r"(?P<lead>〔\d+〕)(?:将|会|还|也)?(?:派出|派驻|选派|对口支援|对口帮扶|帮扶|支援|托管)(?P<mem>"
               + _L + ")"),
]
_MEMBER_PATTERNS = [
    re.compile(r"到(?P<mem>" + _L + r")[^〔。]{0,14}?(?:举行|揭牌|授牌|挂牌)"),
    re.compile(r"(?P<mem>" + _L + r")(?:等[^〔,。]{0,10}?)?(?:作为|为|成为)[^〔,。]{0,8}?(?:成员单位|成员医院|成员|分院|协作单位|联盟单位|理事单位|常务理事单位|副理事长单位"
               r"|基层分院|区级分院|协作医院|合作医院|托管医院|对口医院|医共体分院|医联体单位|紧密型医联体单位)"),
]
# A named alliance right after an institution: 武汉大学中南医院关节与运动医学科专科联盟
_NAMED_ALLIANCE = re.compile(r"(?<![与和及、·〕])(?P<lead>〔\d+〕)(?:(?!加入|成为|签|授|揭|挂|携手|牵手|联合)(?:[^〔,。的与和]|与(?=[^〔,。与和]{1,6}医学)))"
                             r"{0,12}?(?:专科联盟|专病联盟|科联盟|科联体)")
# 〔A〕与辖区内18家乡镇卫生院组建…: members counted, not named
_UNNAMED_MEMBERS = re.compile(r"〔\d+〕(?:与|和|联合|带领|携手)[^〔,。]{0,8}?(?:\d+|[一二三四五六七八九十两]+|多|各|所有)"
                              r"家?[^〔,。]{0,8}?(?:医院|卫生院|医疗机构|医疗卫生机构|单位|卫生服务中心)")
_HELPER = re.compile(r"(?P<lead>〔\d+〕)[^〔,。]{0,8}?(?:派出|派驻|选派|帮助|帮扶|支援|指导|托管|进驻)")
_HELPED = re.compile(r"(?:帮助|帮扶|支援|指导|进驻|托管)(?:了)?(?P<mem>〔\d+〕)")


@dataclass
class Candidate:
    leads: list[int]
    members: list[int]
    explicit: set[int]  # institutions whose role came from an explicit pattern
    etype: EventType | None
    specialty: str | None
    date: DateMention | None
    date_inherited: bool
    start: int
    end: int
    title: bool
    confidence: float
    type_in_sentence: bool
    pairs: set[tuple[int, int]] = field(default_factory=set)


@dataclass
class Sentence:
    start: int
    end: int
    text: str
    title: bool


def split_sentences(text: str) -> list[Sentence]:
    out: list[Sentence] = []
    first_line_end = text.find("\n")
    if first_line_end < 0:
        first_line_end = len(text)
    for m in _SENTENCE.finditer(text):
        raw = m.group()
        stripped = raw.strip()
        if not stripped:
            continue
        start = m.start() + raw.index(stripped[0])
        out.append(Sentence(start, start + len(stripped), stripped, m.start() < first_line_end))
    return out


def _clauses(sentence: Sentence) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    pos = 0
    for m in _CLAUSE_SPLIT.finditer(sentence.text):
        spans.append((sentence.start + pos, sentence.start + m.start()))
        pos = m.end()
    spans.append((sentence.start + pos, sentence.end))
    return [s for s in spans if s[1] > s[0]]


class Extractor:
    def __init__(self, text: str, res: Resolution, ctx: PlaceContext,
                 reference: dt.date | None) -> None:
        self.text = text
        self.res = res
        self.insts = res.institutions
        self.ctx = ctx
        self.reference = reference
        self.dates = find_dates(text, reference)
        explicit_years = [d.year for d in self.dates if d.explicit_year and d.year]
        self.ref_year = reference.year if reference else (max(explicit_years) if explicit_years else None)
        self.sentences = split_sentences(text)
        self.mentions = sorted((m for m in res.mentions if m.inst >= 0 or m.kind == "pronoun"),
                               key=lambda m: m.start)
        self._starts = [m.start for m in self.mentions]
        self._all_mentions = sorted(res.mentions, key=lambda m: m.start)
        self._all_starts = [m.start for m in self._all_mentions]
        self.helper = Counter[int]()
        self._self_counts = Counter(m.inst for m in self.mentions if m.kind in ("name", "alias")
                                    and not m.plaque and m.inst >= 0)
        self._article_specialties = Counter(specialties_in(text))
        self._compute_helpers()

    # ------------------------------------------------------------ helpers
    @property
    def title_type(self) -> EventType | None:
        return detect_type(self._title())

    @property
    def article_type(self) -> EventType | None:
        if not hasattr(self, "_article_type"):
            found = [t for s in self.sentences if (t := detect_type(s.text)) is not None]
            self._article_type = min(found, key=type_priority) if found else None
        return self._article_type

    def _article_type_not_other(self) -> EventType | None:
        for t in (self.title_type, self.article_type):
            if t is not None and t is not EventType.other:
                return t
        return None

    def _title(self) -> str:
        end = self.text.find("\n")
        return self.text[: end if end >= 0 else len(self.text)]

    def _mentions_in(self, start: int, end: int) -> list[Mention]:
        lo = bisect.bisect_left(self._starts, start)
        out: list[Mention] = []
        for m in self.mentions[lo:]:
            if m.start >= end:
                break
            if m.end <= end:
                out.append(m)
        return out

    def _inst_of(self, m: Mention, sentence_insts: set[int]) -> int:
        if m.kind == "pronoun":
            return self._self_institution(sentence_insts, m)
        inst = m.inst
        if inst >= 0 and self.insts[inst].branch_of is not None:
            return inst
        return inst

    def _self_institution(self, exclude: set[int], m: Mention) -> int:
        if m.name == "该院":
            before = [x for x in self.mentions if x.end <= m.start and x.kind in ("name", "alias")
                      and x.inst >= 0 and x.inst not in exclude and not x.plaque]
            return before[-1].inst if before else -1
        best = -1
        best_key: tuple[float, int] = (-1.0, -1)
        for inst, count in self._self_counts.items():
            if inst in exclude:
                continue
            key = (self.insts[inst].level, count)
            if key > best_key:
                best, best_key = inst, key
        return best

    def _template(self, mentions: list[Mention], ids: list[int], start: int, end: int) -> str:
        parts: list[str] = []
        pos = start
        for k, m in enumerate(mentions):
            gap = self.text[pos:m.start]
            if k and ids[k] >= 0 and ids[k] == ids[k - 1] and _OPEN_GAP.fullmatch(gap):
                close = _CLOSE_GAP.match(self.text, m.end)
                if close is not None and close.end() <= end:
                    # A(B) naming one institution twice reads as A
                    pos = close.end()
                    continue
            parts.append(gap)
            parts.append(f"〔{k}〕" if ids[k] >= 0 else self.text[m.start:m.end])
            pos = m.end
        parts.append(self.text[pos:end])
        return "".join(parts)

    def _compute_helpers(self) -> None:
        for s in self.sentences:
            ms = [m for m in self._mentions_in(s.start, s.end) if not m.plaque]
            if not ms:
                continue
            ids = [self._inst_of(m, set()) for m in ms]
            tpl = self._template(ms, ids, s.start, s.end)
            for m in _HELPER.finditer(tpl):
                self.helper[ids[int(_ID.search(m.group("lead")).group(1))]] += 1  # type: ignore[union-attr]
            for m in _HELPED.finditer(tpl):
                self.helper[ids[int(_ID.search(m.group("mem")).group(1))]] -= 1  # type: ignore[union-attr]

    def _masked(self, start: int, end: int) -> str:
        """Text with institution names blanked (their words are not cue words)."""
        parts: list[str] = []
        pos = start
        lo = max(0, bisect.bisect_left(self._all_starts, start) - 1)
        for m in self._all_mentions[lo:]:
            if m.start >= end:
                break
            if m.end <= start or m.start < pos:
                continue
            parts.append(self.text[pos:m.start])
            parts.append("〔〕")
            pos = m.end
        parts.append(self.text[pos:end])
        return "".join(parts)

    def _is_history(self, start: int, end: int) -> bool:
        segment = self._masked(start, end)
        if _HISTORY.search(segment):
            return True
        if self.ref_year is None:
            return False
        return any(d.explicit_year and d.year is not None and d.year < self.ref_year - 1
                   for d in self.dates if d.start >= start and d.end <= end)

    # ------------------------------------------------------------ per sentence
    def is_policy_document(self) -> bool:
        head = self.text[:200]
        if _NOTICE_TITLE.search(self._title()):
            return True  # a recruitment or procurement notice
        if _LIST_NOTICE.search(self._title()):
            return False  # "关于公布…名单的通知" announces who formed what
        cited = [m for m in _POLICY_TITLE.finditer(head)
                 if not _POLICY_CITED.search(head, max(0, m.start() - 12), m.start() + 1)]
        return bool(cited) or len(_POLICY_HEADING.findall(self.text)) >= 2

    # ------------------------------------------------------------ lists and labelled fields
    def _list_items(self, si: int) -> list[int]:
        """Sentences after an introduction ("成员单位名单如下:") that are list rows naming
        institutions: "1. 湖州市中医院", "2 岳阳市第二人民医院 岳阳市 三级"."""
        s = self.sentences[si]
        if not _LIST_INTRO.search(s.text) or not _LIST_INTRO_WORD.search(s.text):
            return []
        items: list[int] = []
        for j in range(si + 1, min(len(self.sentences), si + 80)):
            row = self.sentences[j]
            if _LEAD_LABEL.match(row.text) or _MEMBER_LABEL.match(row.text):
                return []  # labelled fields ("牵头医院:X", "成员单位:Y"): read as such
            if not items and _TABLE_HEADER.search(row.text) and not self._mentions_in(row.start, row.end):
                continue
            if not self._is_list_row(row):
                break
            items.append(j)
        return items

    def _is_list_row(self, s: Sentence) -> bool:
        if len(s.text) > 60 or self.text[s.end:s.end + 1] not in ("", "\n") \
                or (s.start and self.text[s.start - 1] != "\n"):
            return False
        ms = [m for m in self._mentions_in(s.start, s.end) if m.inst >= 0 and not m.plaque]
        if not ms:
            return False
        rest = self._masked(s.start, s.end).replace("〔〕", "")
        rest = _LIST_ROW_NOISE.sub("", rest)
        return len(rest) <= 12

    def _labelled(self, si: int, label: re.Pattern[str]) -> list[int]:
        s = self.sentences[si]
        m = label.match(s.text)
        if m is None:
            return []
        out: list[int] = []
        for mention in self._mentions_in(s.start + m.end(), s.end):
            if mention.inst >= 0 and not mention.plaque and mention.inst not in out:
                parent = self.insts[mention.inst].branch_of
                out.append(parent if parent is not None else mention.inst)
        return out

    def _labelled_candidate(self, si: int, leads: list[int], members: list[int],
                            first: int) -> Candidate | None:
        members = [i for i in members if i not in leads]
        if not leads or not members:
            return None
        s = self.sentences[si]
        heading = " ".join(x.text for x in self.sentences[max(0, first - 2):si + 1])
        etype = detect_type(heading)
        if etype is None or etype is EventType.other:
            etype = self._article_type_not_other() or etype
        if etype is None:
            return None
        start = self.sentences[first].start
        date, inherited = self._date_for(start, s.end)
        cand = Candidate(leads=leads, members=members, explicit=set(leads) | set(members),
                         etype=etype, specialty=alliance_specialty(heading), date=date,
                         date_inherited=inherited, start=start, end=s.end, title=False,
                         confidence=0.75, type_in_sentence=True)
        cand.pairs = {(a, b) for a in leads for b in members}
        return cand

    def candidates(self) -> list[Candidate]:
        out: list[Candidate] = []
        if self.is_policy_document():
            return out
        last_event_sentence = -10
        pending = -10  # last sentence announcing a formation without naming two parties
        list_rows: set[int] = set()
        labelled_lead: tuple[int, list[int]] | None = None  # "牵头医院:X" waiting for its members
        for si, s in enumerate(self.sentences):
            if si in list_rows or _NEGATIVE.search(s.text):
                continue
            field_leads = self._labelled(si, _LEAD_LABEL)
            if field_leads:
                labelled_lead = (si, field_leads)
                continue
            field_members = self._labelled(si, _MEMBER_LABEL)
            if field_members and labelled_lead is not None and si - labelled_lead[0] <= 2:
                cand = self._labelled_candidate(si, labelled_lead[1], field_members, labelled_lead[0])
                labelled_lead = None
                if cand is not None:
                    out.append(cand)
                    last_event_sentence = si
                    continue
            items = self._list_items(si)
            if items:
                list_rows.update(items)
            sentence_history = self._is_history(s.start, s.end) and bool(
                re.match(r"^(?:据悉|据了解|早在|此前|\d{4}年)", s.text))
            if sentence_history:
                continue
            clauses = _clauses(s)
            clause_mentions = [[m for m in self._mentions_in(a, b) if not m.plaque and not m.plural]
                               for a, b in clauses]
            scope: set[int] = set()
            triggered = False
            for ci, (a, b) in enumerate(clauses):
                for t in _TRIGGER.finditer(self.text, a, b):
                    if self._is_history(a, b) or _AFTER_TRIGGER.match(self.text, t.end()):
                        continue
                    if t.group() in _REMOTE_TRIGGERS and detect_type(s.text) is not EventType.remote_network:
                        continue  # a new building or campus "投入使用" is not a formation
                    if _PLAN.search(self._masked(a, t.start())):
                        continue
                    if not _STRONG_TRIGGER.match(t.group()) and detect_type(s.text) is None \
                            and alliance_specialty(s.text) is None:
                        continue
                    triggered = True
                    scope |= self._scope(clauses, clause_mentions, ci)
            if not scope and si - pending <= 2 and _STRUCTURE.search(s.text) \
                    and not self._is_history(s.start, s.end):
                # 以A为核心医院, B、C为成员单位 right after "…医疗集团揭牌"
                scope = set(range(len(clauses)))
            if triggered and detect_type(s.text) is not None:
                pending = si
            if not scope:
                if _BACKREF.search(s.text) and si - last_event_sentence <= 3 and out:
                    self._attach_members(out[-1], clauses, clause_mentions)
                if items and out and si - last_event_sentence <= 6:
                    self._attach_rows(out[-1], items)
                continue
            if out and si - last_event_sentence <= 4 \
                    and self._joins_previous(s, clauses, clause_mentions, out[-1]):
                last_event_sentence = si
                continue
            cand = self._candidate(s, clauses, clause_mentions, sorted(scope))
            if cand is None and triggered:
                cand = self._lead_only(s, clauses, clause_mentions, sorted(scope))
            if cand is None:
                if _BACKREF.search(s.text) and si - last_event_sentence <= 3 and out:
                    self._attach_members(out[-1], clauses, clause_mentions)
                if items and out and si - last_event_sentence <= 6:
                    self._attach_rows(out[-1], items)
                continue
            out.append(cand)
            last_event_sentence = si
            if items:
                self._attach_rows(cand, items)
        return out

    def _attach_rows(self, event: Candidate, rows: list[int]) -> None:
        for j in rows:
            s = self.sentences[j]
            for m in self._mentions_in(s.start, s.end):
                inst = m.inst
                if inst < 0 or m.plaque or inst in event.leads or inst in event.members:
                    continue
                event.members.append(inst)
                event.explicit.add(inst)
                event.pairs |= {(lead, inst) for lead in event.leads}
                break  # one institution a row: the others are columns (places, grades)

    def _scope(self, clauses: list[tuple[int, int]], cm: list[list[Mention]], ci: int) -> set[int]:
        def distinct(idx: list[int]) -> int:
            return len({m.inst if m.kind != "pronoun" else -2 for i in idx for m in cm[i]})

        if distinct([ci]) >= 2:
            return {ci}
        scope = [ci]
        for step in (-1, 1):
            j = ci + step
            while 0 <= j < len(clauses) and abs(j - ci) <= 3 and cm[j]:
                clause_text = self.text[clauses[j][0]:clauses[j][1]]
                if _SPEECH.search(clause_text) or self._is_history(*clauses[j]):
                    break
                scope.append(j)
                j += step
        return set(scope)

    def _joins_previous(self, s: Sentence, clauses: list[tuple[int, int]], cm: list[list[Mention]],
                        prev: Candidate) -> bool:
        """Members joining the alliance of the previous event, its lead not named as such here."""
        if not _BARE_JOIN.search(self._masked(s.start, s.end)):
            return False
        own = detect_type(self.text[s.start:s.end])
        if own is not None and own is not EventType.other and own is not prev.etype:
            return False  # the sentence speaks of another alliance: "…专科联盟成立, A、B加入联盟"
        ms = [m for ci in range(len(clauses)) for m in cm[ci] if m.kind != "pronoun" and m.inst >= 0]
        if not ms:
            return False
        tpl = self._template(ms, [m.inst for m in ms], s.start, s.end)
        if any(p.search(tpl) for p in _LEAD_PATTERNS) or _NAMED_ALLIANCE.search(tpl):
            return False  # the sentence names its own lead
        join = _BARE_JOIN.search(tpl)
        first_lead = next((k for k, m in enumerate(ms) if m.inst in prev.leads), None)
        if join is None or first_lead is not None and tpl.find(f"〔{first_lead}〕") < join.start():
            return False  # "A与B…签约, B成为该联盟成员": an event of its own
        joined: list[int] = []
        for m in ms:
            parent = self.insts[m.inst].branch_of
            inst = parent if parent is not None else m.inst
            if inst not in prev.leads and inst not in joined:
                joined.append(inst)
        if not joined:
            return False
        for inst in joined:
            if inst not in prev.members:
                prev.members.append(inst)
            prev.explicit.add(inst)
        prev.pairs = {(a, b) for a in prev.leads for b in prev.members}
        return True

    def _attach_members(self, event: Candidate, clauses: list[tuple[int, int]],
                        cm: list[list[Mention]]) -> None:
        for ms in cm:
            for m in ms:
                inst = self._inst_of(m, set())
                if inst >= 0 and inst not in event.leads and inst not in event.members:
                    event.members.append(inst)
                    event.pairs |= {(lead, inst) for lead in event.leads}

    def _candidate(self, s: Sentence, clauses: list[tuple[int, int]], cm: list[list[Mention]],
                   scope: list[int]) -> Candidate | None:
        start, end = clauses[scope[0]][0], clauses[scope[-1]][1]
        mentions = [m for i in scope for m in cm[i]]
        ids: list[int] = []
        for i in scope:
            named = {m.inst for m in cm[i] if m.kind != "pronoun" and m.inst >= 0}
            ids.extend(self._inst_of(m, named) for m in cm[i])
        keep = [(m, i) for m, i in zip(mentions, ids, strict=True) if i >= 0]
        if not keep:
            return None
        mentions = [m for m, _ in keep]
        ids = [i for _, i in keep]
        tpl = self._template(mentions, ids, start, end)
        leads: list[int] = []
        members: list[int] = []
        explicit: set[int] = set()
        # a branch (…分院) stands for its parent institution as the lead
        resolved: list[int] = []
        for inst in ids:
            parent = self.insts[inst].branch_of
            if parent is not None:
                resolved.append(parent)
                if parent not in leads:
                    leads.append(parent)
                explicit.add(parent)
            else:
                resolved.append(inst)
        ids = resolved
        for pattern in _LEAD_PATTERNS:
            for m in pattern.finditer(tpl):
                for k in _ID.findall(m.group("lead")):
                    inst = ids[int(k)]
                    if inst not in leads:
                        leads.append(inst)
                    explicit.add(inst)
                if "mem" in m.groupdict() and m.group("mem"):
                    for k in _ID.findall(m.group("mem")):
                        inst = ids[int(k)]
                        if inst not in members:
                            members.append(inst)
                        explicit.add(inst)
        for pattern in _MEMBER_PATTERNS:
            for m in pattern.finditer(tpl):
                for k in _ID.findall(m.group("mem")):
                    inst = ids[int(k)]
                    if inst not in members and inst not in leads:
                        members.append(inst)
                    explicit.add(inst)
        ordered: list[int] = []
        for inst in ids:
            if inst not in ordered:
                ordered.append(inst)
        if len(ordered) < 2:
            return None
        members = [i for i in members if i not in leads]
        rest = [i for i in ordered if i not in leads and i not in members]
        if not leads:
            named_alliance = [ids[int(m.group("lead")[1:-1])] for m in _NAMED_ALLIANCE.finditer(tpl)]
            named_alliance = [i for i in named_alliance if i not in members]
            if named_alliance:
                top = max(self.insts[i].level for i in ordered)
                if all(self.insts[i].level >= top - 1 for i in named_alliance[:1]):
                    leads = named_alliance[:1]
                    explicit.add(leads[0])
                    rest = [i for i in rest if i not in leads]
        if not leads and not members:
            elsewhere = self._lead_elsewhere(clauses, cm, scope, ordered)
            if elsewhere is not None:
                leads = [elsewhere]
                explicit.add(elsewhere)
                rest = [i for i in rest if i != elsewhere]
        if leads:
            members += rest
            if re.search(r"为(?:〔\d+〕)?总(?:医)?院", tpl):
                # 以A为总医院 …: a "X总医院" mentioned alongside is A itself
                members = [i for i in members if not self.insts[i].name.endswith(("总医院", "总院"))]
        elif members:
            leads = rest
        else:
            leads = [self._rank_lead(ordered)]
            members = [i for i in ordered if i not in leads]
        if not leads or not members:
            return None
        sentence_text = self.text[s.start:s.end]
        etype = detect_type(sentence_text)
        in_sentence = etype is not None
        if etype is None or etype is EventType.other and "联盟" in sentence_text:
            spec_name = alliance_specialty(sentence_text)
            if spec_name is not None:
                etype = EventType.specialty_alliance
                in_sentence = True
        if etype is None:
            etype = self.title_type or self.article_type
        elif etype is EventType.other and (not _OTHER_SPECIFIC.search(self._masked(s.start, s.end))
                                           or _ALLIANCE_BACKREF.search(self._masked(s.start, s.end))):
            # a bare "联盟" / "协作" refers back to the alliance the article is about
            etype = self._article_type_not_other() or etype
        if etype is None:
            return None
        date, inherited = self._date_for(s.start, s.end)
        confidence = 0.55
        if explicit & set(leads):
            confidence += 0.15
        if in_sentence:
            confidence += 0.1
        if date is not None and not inherited:
            confidence += 0.05
        if any(self.insts[i].relative for i in leads + members):
            confidence -= 0.05
        cand = Candidate(
            leads=leads, members=members, explicit=explicit, etype=etype, specialty=None,
            date=date, date_inherited=inherited, start=s.start, end=s.end, title=s.title,
            confidence=min(confidence, 0.95), type_in_sentence=in_sentence,
        )
        cand.pairs = {(a, b) for a in leads for b in members}
        cand.specialty = alliance_specialty(sentence_text)
        return cand

    def _lead_elsewhere(self, clauses: list[tuple[int, int]], cm: list[list[Mention]], scope: list[int],
                        ordered: list[int]) -> int | None:
        """A lead named as such in another clause of the sentence: "A与B签约, B作为牵头单位…"."""
        found: set[int] = set()
        before_scope = True
        for ci, (a, b) in enumerate(clauses):
            if ci in scope:
                continue
            ms = [m for m in cm[ci] if m.kind != "pronoun" and m.inst >= 0]
            if not ms:
                continue
            ids = [m.inst for m in ms]
            tpl = self._template(ms, ids, a, b)
            for pattern in _LEAD_PATTERNS[:4]:
                for m in pattern.finditer(tpl):
                    for k in _ID.findall(m.group("lead")):
                        inst = ids[int(k)]
                        parent = self.insts[inst].branch_of
                        found.add(parent if parent is not None else inst)
                        before_scope = before_scope and ci < scope[0]
        if len(found) == 1:
            inst = found.pop()
            if inst in ordered or before_scope:
                # "以A为核心医院, 整合B、C组建…": the declared lead of the formation that follows
                return inst
        return None

    def _lead_only(self, s: Sentence, clauses: list[tuple[int, int]], cm: list[list[Mention]],
                   scope: list[int]) -> Candidate | None:
        """A formation led by a named institution whose members are not named individually."""
        mentions = [m for i in scope for m in cm[i] if m.kind != "pronoun" and m.inst >= 0]
        insts: set[int] = set()
        for m in mentions:
            parent = self.insts[m.inst].branch_of
            insts.add(parent if parent is not None else m.inst)
        if len(insts) != 1:
            return None
        start, end = clauses[scope[0]][0], clauses[scope[-1]][1]
        tpl = self._template(mentions, [m.inst for m in mentions], start, end)
        lead = insts.pop()
        explicit = any(p.search(tpl) for p in _LEAD_PATTERNS[:4]) or any(
            self.insts[m.inst].branch_of is not None for m in mentions) or bool(
            _NAMED_ALLIANCE.search(tpl)) or bool(_UNNAMED_MEMBERS.search(tpl))
        etype = detect_type(self.text[s.start:s.end])
        if not explicit or etype is None or etype is EventType.other:
            return None
        date, inherited = self._date_for(s.start, s.end)
        cand = Candidate(leads=[lead], members=[], explicit={lead}, etype=etype,
                         specialty=alliance_specialty(self.text[s.start:s.end]), date=date,
                         date_inherited=inherited, start=s.start, end=s.end, title=s.title,
                         confidence=0.5, type_in_sentence=True)
        return cand

    def _rank_lead(self, ordered: list[int]) -> int:
        def key(i: int) -> tuple[float, int, int]:
            return (self.insts[i].level, self.helper[i], -ordered.index(i))

        return max(ordered, key=key)

    def _date_for(self, start: int, end: int) -> tuple[DateMention | None, bool]:
        inside = [d for d in self.dates if d.start >= start and d.end <= end and d.precision > 0]
        if len(inside) > 1:
            # a news-agency dateline ("新华网乌鲁木齐7月10日电") dates the report, not the event
            inside = [d for d in inside if not _DATELINE_TAIL.match(self.text, d.end)] or inside
        if inside:
            best = max(inside, key=lambda d: (not d.iso_format, d.precision, -d.start))
            return best, False
        before = [d for d in self.dates if d.end <= start and start - d.end < 1200 and d.precision == 2
                  and not self._is_header_date(d)]
        if before:
            return before[-1], True
        return None, False

    def _is_header_date(self, d: DateMention) -> bool:
        line_start = self.text.rfind("\n", 0, d.start) + 1
        line_end = self.text.find("\n", d.end)
        line = self.text[line_start: line_end if line_end >= 0 else len(self.text)]
        return len(line) < 60 and not re.search(r"[,。]", line)

    # ------------------------------------------------------------ article level
    def events(self) -> list[AllianceEvent]:
        cands = self.candidates()
        merged = _merge(cands)
        out: list[AllianceEvent] = []
        cooperation = cooperation_items(self.text)
        for c in merged:
            if not c.leads:
                continue
            if not c.members and any(o.members and set(o.leads) & set(c.leads) for o in merged):
                continue
            out.append(self._event(c, cooperation))
        return out

    def _event(self, c: Candidate, cooperation: tuple[str, ...]) -> AllianceEvent:
        lead_names = {self.insts[i].name for i in c.leads}
        c.members = [i for i in c.members if self.insts[i].name not in lead_names]
        etype = c.etype or EventType.other
        specialty = c.specialty
        if specialty is None and etype is EventType.specialty_alliance:
            specialty = alliance_specialty(self._title())
            if specialty is None and self._article_specialties:
                specialty = self._article_specialties.most_common(1)[0][0]
        if specialty is None:
            specialty = hospital_specialty(self.insts[c.leads[0]].name)
        home = self.ctx.home_province
        provinces: list[str] = []
        strong: set[str] = set()
        for i in c.leads + c.members:
            place = self.insts[i].place
            prov = place.province
            if prov and not place.strong and home and prov != home:
                prov = None
            if prov and place.strong:
                strong.add(prov)
            prov = prov or home
            if prov and prov not in provinces:
                provinces.append(prov)
        date = c.date.iso() if c.date is not None else None
        evidence_text = self.text[c.start:c.end]
        return AllianceEvent(
            type=etype,
            specialty=specialty,
            lead=tuple(self._mention(i) for i in c.leads),
            members=tuple(self._mention(i) for i in c.members),
            date=date,
            provinces=tuple(provinces),
            cross_province=len(strong) >= 2,
            cooperation=cooperation,
            confidence=round(c.confidence, 2),
            evidence=Evidence(text=evidence_text, start=c.start, end=c.end),
        )

    def _mention(self, i: int) -> InstitutionMention:
        inst: Institution = self.insts[i]
        place = inst.place
        home = self.ctx.home_province
        province, city, county = place.province, place.city, place.county
        if province and not place.strong and home and province != home:
            province = city = county = None
        return InstitutionMention(name=inst.name, aliases=inst.aliases, province=province or home,
                                  city=city, county=county)


def _merge(cands: list[Candidate]) -> list[Candidate]:
    out: list[Candidate] = []
    for c in cands:
        target = None
        for o in out:
            if _compatible_dates(o, c) and (o.pairs & c.pairs or set(o.leads) & set(c.leads)
                                            and (o.etype == c.etype or o.pairs & c.pairs)):
                target = o
                break
            if o.pairs & {(b, a) for a, b in c.pairs}:
                target = o
                break
        if target is None:
            out.append(c)
            continue
        _absorb(target, c)
    return out


def _compatible_dates(a: Candidate, b: Candidate) -> bool:
    if a.date is None or b.date is None or a.date_inherited or b.date_inherited:
        return True
    return a.date.iso() == b.date.iso() or a.date.precision != b.date.precision


def _absorb(t: Candidate, c: Candidate) -> None:
    explicit_leads = {i for i in t.leads if i in t.explicit} | {i for i in c.leads if i in c.explicit}
    explicit_members = {i for i in t.members if i in t.explicit} | {i for i in c.members if i in c.explicit}
    leads = list(dict.fromkeys(t.leads + c.leads))
    members = list(dict.fromkeys(t.members + c.members))
    for i in list(leads):
        if i in members:
            # conflicting roles: an explicit role wins, else the first event's view
            if i in explicit_leads and i not in explicit_members:
                members.remove(i)
            elif i in explicit_members and i not in explicit_leads:
                leads.remove(i)
            elif i in t.leads:
                members.remove(i)
            else:
                leads.remove(i)
    t.leads, t.members = leads, members
    t.explicit |= c.explicit
    t.pairs = {(a, b) for a in leads for b in members}
    if c.etype is not None and (t.etype is None or type_priority(c.etype) < type_priority(t.etype)):
        t.etype = c.etype
    if t.specialty is None:
        t.specialty = c.specialty
    better_date = c.date is not None and (
        t.date is None or t.date_inherited and not c.date_inherited
        or (c.date.precision > t.date.precision and not c.date_inherited))
    if better_date:
        t.date, t.date_inherited = c.date, c.date_inherited
    if t.title and not c.title or c.confidence > t.confidence and not c.title:
        t.start, t.end, t.title = c.start, c.end, c.title
    t.confidence = max(t.confidence, c.confidence)
