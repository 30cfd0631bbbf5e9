"""Event type from keywords, specialty normalisation, cooperation items."""

from __future__ import annotations

import re
from functools import lru_cache

from services.common.contracts import EventType

from .places import DATA

#: (pattern, type) in priority order: the first that matches a sentence decides.
_TYPE_RULES: tuple[tuple[re.Pattern[str], EventType], ...] = (
    (re.compile(r"远程医疗协作|远程协作网|远程医疗联盟|远程医疗合作|远程医学协作|远程协作医院|远程医疗中心分中心"
                r"|远程(?:会诊|医疗|医学|影像|心电)(?:诊断)?中心[^。]{0,80}?(?:联网|互联互通|连通|接入)"),
     EventType.remote_network),
    (re.compile(r"(?<!精心)(?<!的)托管(?!下|以来|期间|后|中)|全面托管|整体托管"), EventType.trusteeship),
    (re.compile(r"专科联盟|专病联盟|科联体|专科联合体|专科医联体|专科协作联盟|[\u4e00-\u9fff]{1,8}科联盟"
                r"|(?:中心|诊疗|救治|防治)联盟"),
     EventType.specialty_alliance),
    (re.compile(r"医疗集团|医院集团|医疗健康集团|医疗事业集团|医疗联合集团"), EventType.medical_group),
    (re.compile(r"医共体|医疗卫生共同体|医疗共同体|健康共同体|总医院.{0,12}分院"),
     EventType.county_community),
    (re.compile(r"紧密型医联体|紧密型医疗联合体|紧密型医疗集团|紧密型"), EventType.tight_consortium),
    (re.compile(r"医联体|医疗联合体|联合体|分院|合作医院|协作医院|院区"), EventType.consortium),
    (re.compile(r"对口帮扶|对口支援|帮扶|支援|战略合作|合作协议|协作|联盟|结对"), EventType.other),
)

_PRIORITY = {
    EventType.remote_network: 0, EventType.trusteeship: 1, EventType.specialty_alliance: 2,
    EventType.medical_group: 3, EventType.county_community: 4, EventType.tight_consortium: 5,
    EventType.consortium: 6, EventType.other: 7,
}


def type_priority(t: EventType) -> int:
    return _PRIORITY[t]


_ANY_TYPE = re.compile(r"远程|托管|联盟|科联体|联合体|医共体|共同体|总医院|集团|紧密型|医联体|分院|合作医院|协作|院区"
                       r"|帮扶|支援|战略合作|合作协议|结对")


def detect_type(text: str) -> EventType | None:
    """The alliance type a sentence speaks of, or None."""
    if not _ANY_TYPE.search(text):
        return None
    for pattern, etype in _TYPE_RULES:
        if pattern.search(text):
            if etype is EventType.other and not _OTHER_OK.search(text):
                continue
            return etype
    return None


_OTHER_OK = re.compile(r"对口帮扶|对口支援|帮扶|支援|战略合作|合作协议|协作|联盟|结对")


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
        window = text[max(0, m.start() - 16):m.start()]
        for _ in range(6):
            if not window:
                break
            hits = list(pattern.finditer(window))
            if hits:
                last = hits[-1]
                tail = window[last.end():]
                if tail in ("", "科"):
                    return mapping[last.group()]
            stripped = _MODIFIER_TAIL.sub("", window)
            if stripped == window:
                break
            window = stripped
    return None


_SPECIALTY_HOSPITAL = (
    ("肿瘤医院", "肿瘤"), ("肿瘤防治", "肿瘤"), ("眼科医院", "眼科"), ("眼视光", "眼科"),
    ("口腔医院", "口腔"), ("儿童医院", "儿科"), ("妇女儿童医院", "妇产科"), ("妇产医院", "妇产科"),
    ("胸科医院", "胸科"), ("骨科医院", "骨科"), ("骨伤医院", "骨科"), ("精神卫生中心", "精神"),
    ("精神病院", "精神"), ("精神病医院", "精神"), ("传染病医院", "感染"), ("皮肤病医院", "皮肤"),
    ("心血管病医院", "心血管"), ("心血管医院", "心血管"), ("肺科医院", "呼吸"), ("康复医院", "康复"),
    ("肛肠医院", "肛肠"), ("耳鼻喉医院", "耳鼻喉"), ("结核病医院", "结核"),
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
