"""Event type from keywords, specialty normalisation, cooperation items."""

from __future__ import annotations

import re
from functools import lru_cache

from services.common.contracts import EventType

from .places import DATA

#: (pattern, type) in priority order: the first that matches a sentence decides. The
#: sentence is read with institution names blanked, so "X专科医院" gives no type.
_TYPE_RULES: tuple[tuple[re.Pattern[str], EventType], ...] = (
    (
        re.compile(
            r"远程(?:医疗|医学|会诊|影像|心电|诊疗)?(?:诊断)?(?:协作网|协作平台|服务平台|联盟|中心|网络|协作)"
            r"|远程医疗(?:合作|服务)"
        ),
        EventType.remote_network,
    ),
    (re.compile(r"(?<!精心)(?<!的)(?:托管|接管|委托管理)(?![下中])"), EventType.trusteeship),
    (
        re.compile(
            r"专科联盟|专病联盟|科联体|专科联合体|专科医联体|专科医疗联合体|学科联盟|学科发展联合体"
            r"|[\u4e00-\u9fff]{1,8}科(?:医联体|医疗联合体|联盟|联合体)|(?:中心|诊疗|救治|防治)联盟"
        ),
        EventType.specialty_alliance,
    ),
    (
        re.compile(r"医疗集团|医院集团|医疗健康集团|医疗事业集团|医疗联合集团"),
        EventType.medical_group,
    ),
    (
        re.compile(r"医共体|县域(?:医疗卫生|医疗|健康)?(?:服务)?共同体|总医院.{0,12}分院"),
        EventType.county_community,
    ),
    (
        re.compile(r"紧密型(?:城市)?(?:医联体|医疗联合体|医疗集团|联合体)"),
        EventType.tight_consortium,
    ),
    (re.compile(r"医联体|医疗联合体|联合体|共同体|分院|院区|共建"), EventType.consortium),
    (
        re.compile(
            r"对口帮扶|对口支援|帮扶|支援|战略合作|策略联盟|战略联盟|合作协议|协作协议|协作医院|合作医院|协作"
            r"|结对|联盟|基地"
        ),
        EventType.other,
    ),
)


def detect_type(masked: str) -> EventType | None:
    """The alliance type a sentence (institution names blanked) speaks of, or None."""
    for pattern, etype in _TYPE_RULES:
        if pattern.search(masked):
            if etype is EventType.other and alliance_specialty(masked) is not None:
                return EventType.specialty_alliance  # 胸痛联盟, 呼吸危重症联盟
            return etype
    return None


#: words that say only "they cooperate", not how: a precise type elsewhere wins over them
_GENERIC_OTHER = re.compile(r"合作协议|协作协议|联盟|协作|基地|合作医院")


def event_type(evidence: str, title: str, others: list[str]) -> EventType:
    """The type of an event: its own sentence says it, unless that sentence has only a generic
    word (合作协议, 联盟, 协作) and the title or the event's other sentences are precise."""
    own = detect_type(evidence)
    if own is not None and own is not EventType.other:
        return own
    own_word = _TYPE_RULES[-1][0].search(evidence)
    if own is None or own_word is not None and _GENERIC_OTHER.fullmatch(own_word.group()):
        for text in [title, *others]:
            t = detect_type(text)
            if t is not None and t is not EventType.other:
                return t
    return own or EventType.other


def _load_pairs(filename: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for line in (DATA / filename).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        surface, _, norm = line.partition("|")
        out.append((surface, norm or surface))
    out.sort(key=lambda t: -len(t[0]))
    return out


@lru_cache(maxsize=1)
def _specialty_lexicon() -> tuple[dict[str, str], re.Pattern[str]]:
    pairs = _load_pairs("specialties.txt")
    mapping = dict(pairs)
    pattern = re.compile("|".join(re.escape(s) for s, _ in pairs))
    return mapping, pattern


@lru_cache(maxsize=1)
def _cooperation_lexicon() -> tuple[dict[str, str], re.Pattern[str]]:
    pairs = _load_pairs("cooperation.txt")
    return dict(pairs), re.compile("|".join(re.escape(s) for s, _ in pairs))


def specialties_in(text: str) -> list[str]:
    """Normalised specialty names in order of appearance (with repeats)."""
    mapping, pattern = _specialty_lexicon()
    return [mapping[m.group()] for m in pattern.finditer(text)]


_ALLIANCE_WORD = re.compile(r"联盟|联合体|科联体|协作网|医联体")
_MODIFIER_TAIL = re.compile(
    r"(?:专科|专病|创新|协作|发展|建设|诊疗|救治|防治|医疗|专业|区域|紧密型|学科|县域|城市|联合|合作|质量|技术"
    r"|中心|医学|科|[的之])$"
)


def alliance_specialty(text: str) -> str | None:
    """Specialty named in an alliance name: 骨科专科联盟 -> 骨科, 脑病创新联盟 -> 脑病."""
    mapping, pattern = _specialty_lexicon()
    for m in _ALLIANCE_WORD.finditer(text):
        window = text[max(0, m.start() - 16) : m.start()]
        for _ in range(6):
            if not window:
                break
            hits = list(pattern.finditer(window))
            if hits:
                last = hits[-1]
                tail = window[last.end() :]
                if tail in ("", "科"):
                    return mapping[last.group()]
            stripped = _MODIFIER_TAIL.sub("", window)
            if stripped == window:
                break
            window = stripped
    return None


_SPECIALTY_HOSPITAL = (
    ("肿瘤医院", "肿瘤"),
    ("肿瘤防治", "肿瘤"),
    ("眼科医院", "眼科"),
    ("眼视光", "眼科"),
    ("口腔医院", "口腔"),
    ("儿童医院", "儿科"),
    ("妇女儿童医院", "妇产科"),
    ("妇产医院", "妇产科"),
    ("胸科医院", "胸科"),
    ("骨科医院", "骨科"),
    ("骨伤医院", "骨科"),
    ("精神卫生中心", "精神"),
    ("精神病院", "精神"),
    ("精神病医院", "精神"),
    ("传染病医院", "感染"),
    ("皮肤病医院", "皮肤"),
    ("心血管病医院", "心血管"),
    ("心血管医院", "心血管"),
    ("肺科医院", "呼吸"),
    ("康复医院", "康复"),
    ("肛肠医院", "肛肠"),
    ("耳鼻喉医院", "耳鼻喉"),
    ("结核病医院", "结核"),
    ("儿科医院", "儿科"),
    ("心脏病医院", "心血管"),
    ("心脏中心", "心血管"),
    ("脑科医院", "神经"),
)


def hospital_specialty(name: str) -> str | None:
    """Specialty of a specialist hospital: 天津市肿瘤医院 -> 肿瘤."""
    for key, spec in _SPECIALTY_HOSPITAL:
        if key in name:
            return spec
    return None


def cooperation_items(text: str) -> tuple[str, ...]:
    mapping, pattern = _cooperation_lexicon()
    seen: list[str] = []
    for m in pattern.finditer(text):
        item = mapping[m.group()]
        if item not in seen:
            seen.append(item)
    return tuple(seen[:12])
