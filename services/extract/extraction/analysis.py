"""An article read once: sentences, the institutions in each, and their templates.

Everything the features need is computed here in one pass over the text, so that the cost
of an article stays linear in its length: sentences longer than :data:`MAX_SENTENCE` are cut
(a page without punctuation is not one sentence), and mentions are looked up by offset.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from .identity import same_institution
from .institutions import Resolution
from .name_rules import ArticleInstitution, Mention

_SENTENCE = re.compile(r"[^。!?;\n]+[。!?;]?")
_SOFT_BREAK = re.compile(r"[,:、 ]")
#: longest sentence read as one; longer runs are cut at a comma, else anywhere
MAX_SENTENCE = 320
_OPEN_GAP = re.compile(r"\s*\(\s*")
_CLOSE_GAP = re.compile(r"\s*\)")


@dataclass(frozen=True)
class Sentence:
    index: int
    start: int
    end: int
    text: str
    title: bool


#: the suffix of a group named after its hospital (the group resolves to the hospital)
_EPONYMOUS_GROUP = re.compile(r"(?:医疗集团|医院集团|医疗健康集团|健康集团)$")
#: a group formed or joined where it is named: "A医疗集团成立", "成为A医院集团成员医院"
_GROUP_FORMED_AFTER = re.compile(
    r"[”\"」]?(?:正式|隆重|顺利)?(?:成立|揭牌|挂牌|组建|启动|成员)"
    r"|(?:首家|第[一二三四五六七八九十\d]+家)?(?:分院|院区)"
)
_GROUP_JOINED_BEFORE = re.compile(r"(?:加入|成为|纳入|组建|成立)[^,。;]{0,2}$")
#: a branch unveiled right where it is named, with no host: "A分院、B分院同时揭牌成立"
_UNVEILED_HERE = re.compile(
    r"(?:、[^、,。;在]{2,12}?(?:分院|院区))*(?:同时|正式|隆重|顺利)?(?:揭牌|挂牌|成立)"
)
#: a branch named as a branch of an alliance: 长兴县人民医院医共体洪桥分院
_ALLIANCE_BRANCH = re.compile(r"(医共体|医联体|医疗集团|医院集团)\S{0,8}?(分院|院区)$")


@dataclass
class View:
    """One sentence as a template: ``〔k〕`` stands for ``ids[k]`` (an institution index)."""

    sentence: Sentence
    template: str
    ids: list[int]
    #: institutions named inside a plaque or quoted title given in this sentence
    plaque_owners: set[int] = field(default_factory=set)
    #: a government stood for this institution ("叙永县人民政府与…签署")
    via_gov: set[int] = field(default_factory=set)
    #: placeholders that were a branch (分院) standing for its parent, or a co-built hospital
    branches: set[int] = field(default_factory=set)
    #: co-built hospitals' placeholders -> their builder
    builders: dict[int, int] = field(default_factory=dict)
    #: the sentence with institution names blanked but plaques and titles kept (for types)
    masked: str = ""

    def insts(self) -> list[int]:
        seen: list[int] = []
        for i in self.ids:
            if i not in seen:
                seen.append(i)
        return seen


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
        for a, b in _cut(stripped):
            out.append(
                Sentence(len(out), start + a, start + b, stripped[a:b], m.start() < first_line_end)
            )
    return out


def _cut(s: str) -> list[tuple[int, int]]:
    if len(s) <= MAX_SENTENCE:
        return [(0, len(s))]
    spans: list[tuple[int, int]] = []
    pos = 0
    while len(s) - pos > MAX_SENTENCE:
        window = s[pos + MAX_SENTENCE // 2 : pos + MAX_SENTENCE]
        breaks = [m.end() for m in _SOFT_BREAK.finditer(window)]
        cut = pos + MAX_SENTENCE // 2 + breaks[-1] if breaks else pos + MAX_SENTENCE
        spans.append((pos, cut))
        pos = cut
    spans.append((pos, len(s)))
    return spans


def _plain(text: str) -> str:
    """Text between institutions, with the brackets that mark them in a template made plain
    ("国办发〔2017〕32号" would read as an institution)."""
    return text.replace("〔", "[").replace("〕", "]")


_ROLE_AFTER = re.compile(r"(?:技术)?(?:医联体|联盟|医共体|集团|协作|合作|指导|成员|帮扶|对口)")
_SIGNS = re.compile(r"签约|签订|签署|加入|结成|缔结|组建|托管|授牌|挂牌|揭牌")


def _writer_signs(text: str, mentions: list[Mention]) -> bool:
    """Whether "我院" is itself a party: named in a sentence that reports a signing."""
    for m in mentions:
        if m.kind == "pronoun":
            floor, ceiling = max(0, m.start - 200), min(len(text), m.end + 200)
            start = (
                max(text.rfind("。", floor, m.start), text.rfind("\n", floor, m.start), floor - 1)
                + 1
            )
            end = min(
                k
                for k in (text.find("。", m.end, ceiling), text.find("\n", m.end, ceiling), ceiling)
                if k >= 0
            )
            if _SIGNS.search(text, start, end):
                return True
    return False


class ArticleText:
    """The sentences of an article with the resolved institution mentions in each."""

    def __init__(self, text: str, res: Resolution, writer: int | None) -> None:
        self.text = text
        self.res = res
        self.insts: list[ArticleInstitution] = list(res.institutions)
        self.unnamed_writer: int | None = None
        if writer is None and _writer_signs(text, res.mentions):
            # "我院与郎溪县中医院签署协议" from a page that never names itself: the writer is a
            # party all the same, weighed like any other and left out of what is reported
            writer = self.unnamed_writer = len(self.insts)
            self.insts.append(ArticleInstitution(index=writer, names=["我院"], name="我院"))
        self.writer = writer
        self.sentences = split_sentences(text)
        self.mentions = sorted(res.mentions, key=lambda m: (m.start, -m.end))
        self._starts = [m.start for m in self.mentions]
        self.views = [self._view(s) for s in self.sentences]

    def mentions_in(self, start: int, end: int) -> list[Mention]:
        lo = bisect.bisect_left(self._starts, start)
        hi = bisect.bisect_left(self._starts, end)
        return [m for m in self.mentions[lo:hi] if m.end <= end]

    def _inst_of(self, m: Mention) -> int:
        if m.kind == "pronoun" and m.name == "该院":
            return self._previous_named(m.start)  # "该院": the hospital just named
        if m.kind == "pronoun":
            return self.writer if self.writer is not None else -1
        if m.inst >= 0:
            parent = self.insts[m.inst].branch_of
            if parent is not None:
                return parent  # a branch acts for the institution it belongs to
        return m.inst

    def _hosted(self, branch: str) -> bool:
        """Whether the article says where the branch is: "A分院在B举行揭牌仪式"."""
        return re.search(re.escape(branch) + r"[^。;,]{0,12}?(?:在|于|落户)", self.text) is not None

    def _previous_named(self, start: int) -> int:
        k = bisect.bisect_left(self._starts, start) - 1
        while k >= 0 and start - self.mentions[k].start < 200:
            m = self.mentions[k]
            if m.kind in ("name", "alias") and m.inst >= 0 and not m.plaque:
                parent = self.insts[m.inst].branch_of
                return parent if parent is not None else m.inst
            k -= 1
        return -1

    def _view(self, s: Sentence) -> View:
        parts: list[str] = []
        ids: list[int] = []
        owners: set[int] = set()
        via_gov: set[int] = set()
        branches: set[int] = set()
        builders: dict[int, int] = {}
        masked: list[str] = []
        pos = s.start
        for m in self.mentions_in(s.start, s.end):
            if m.start < pos:
                continue
            if m.plaque:
                owners |= self._owners(m.name)
                parts.append(_plain(self.text[pos : m.start]) + "〔牌〕")
                masked.append(_plain(self.text[pos : m.end]))
                pos = m.end
                continue
            inst = self._inst_of(m)
            if inst < 0 or m.plural:
                continue  # "九家上海中医药大学附属医院": a kind of institution, counted
            gap = _plain(self.text[pos : m.start])
            if ids and ids[-1] == inst and _OPEN_GAP.fullmatch(gap):
                close = _CLOSE_GAP.match(self.text, m.end)
                if close is not None and close.end() <= s.end:
                    pos = close.end()  # A(B) naming one institution twice reads as A
                    continue
            if m.kind == "gov":
                via_gov.add(inst)
            if m.inst >= 0 and self.insts[m.inst].branch_of is not None:
                branches.add(len(ids))
                if _UNVEILED_HERE.match(self.text, m.end, s.end) and not self._hosted(m.name):
                    # "A医共体B分院揭牌成立", no host named: the branch is what A builds
                    builders[len(ids)] = inst
                    inst = m.inst
            builder = self.insts[m.inst].built_by if m.inst >= 0 else None
            if builder is not None:
                branches.add(len(ids))
                builders[len(ids)] = builder
            parts.append(gap)
            parts.append(f"〔{len(ids)}〕")
            group = _EPONYMOUS_GROUP.search(m.name)
            # "A医疗集团成立", "成为北京儿童医院集团成员": A's group, named as one
            cuts = (
                []
                if group is None
                else [group.start()] + ([len(m.name) - 2] if m.name.endswith("医院集团") else [])
            )
            cut = next(
                (
                    k
                    for k in cuts
                    if any(same_institution(m.name[:k], n) for n in self.insts[inst].names)
                ),
                None,
            )
            named_group = m.name[cut:] if cut is not None else ""
            parts.append(named_group)
            # "A医共体B分院": the branch's name says what it belongs to (for the type)
            branch_kind = _ALLIANCE_BRANCH.search(m.name)
            kind = "医院集团" if named_group == "集团" else named_group  # 北京儿童医院集团
            if kind and not (
                _GROUP_FORMED_AFTER.match(self.text, m.end, s.end)
                or _GROUP_JOINED_BEFORE.search(self.text, s.start, m.start)
            ):
                kind = ""  # "与A医疗健康集团签署合作协议": the group is a party, not what is formed
            masked.append(
                gap
                + "〔〕"
                + (kind or (branch_kind.group(1) + branch_kind.group(2) if branch_kind else ""))
            )
            ids.append(inst)
            pos = m.end
        parts.append(_plain(self.text[pos : s.end]))
        masked.append(_plain(self.text[pos : s.end]))
        return View(s, "".join(parts), ids, owners, via_gov, branches, builders, "".join(masked))

    def _owners(self, plaque: str) -> set[int]:
        """Institutions a plaque is given by: its name opens the plaque (“A技术协作医院”), ends
        right before the plaque's role, or ends the plaque's name (“大连大学附属中山医院…”,
        the article's 中山医院)."""
        found: set[int] = set()
        for inst in self.insts:
            for name in inst.names:
                at = plaque.find(name) if len(name) >= 4 else -1
                if (
                    at == 0
                    or at > 0
                    and (_ROLE_AFTER.match(plaque, at + len(name)) or at + len(name) == len(plaque))
                ):
                    found.add(inst.index)
        return found
