"""Synthetic alliance articles for load and fault tests, written from templates.

Each article reports one alliance between a city's central hospital (the lead) and a
county hospital of that city, with its own wording; places come from the extractor's
gazetteer, so every article names real places and a distinct alliance (while cities last).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from services.common.places import GAZETTEER_TSV

GAZETTEER = GAZETTEER_TSV

SPECIALTIES = ("骨科", "儿科", "心血管内科", "神经内科", "眼科", "肿瘤科", "妇产科", "呼吸内科")

_TEMPLATES = (
    "{month}月{day}日上午,{lead}与{member}举行{specialty}专科联盟签约授牌仪式,"
    "标志着两院合作进入新阶段。根据协议,{lead}作为联盟牵头单位,将通过专家坐诊、"
    "远程会诊、进修培训和双向转诊等方式,帮助{member}提升{specialty}诊疗能力。"
    "{member}负责人表示,将以加入联盟为契机,让群众在家门口享受优质医疗服务。",
    "本报讯 {month}月{day}日,{member}正式加入由{lead}牵头组建的{specialty}专科联盟,"
    "双方在{member}签署合作协议并举行揭牌仪式。今后,{lead}将定期派出专家到{member}"
    "开展查房、手术示教和业务培训,并开通双向转诊绿色通道。",
    "{month}月{day}日,{lead}{specialty}专科联盟{member}分中心揭牌仪式举行。"
    "{lead}与{member}签约,共建{specialty}专科联盟,双方将在人才培养、技术帮扶、"
    "远程会诊和资源共享等方面深入合作。",
)

#: Hospital news that reports no alliance: most of what a crawler pushes is like this.
_UNRELATED = (
    "{month}月{day}日,{hospital}在门诊大厅开展“{specialty}健康宣传周”义诊活动,"
    "专家为前来咨询的群众免费测量血压、血糖,并发放健康手册。",
    "本报讯 {month}月{day}日,{city}卫生健康委员会召开全市医疗质量安全工作会议,"
    "通报上半年医疗质量检查情况,部署下一阶段重点工作。",
    "{month}月{day}日,{hospital}{specialty}团队成功完成一例高难度手术,"
    "患者术后恢复良好,已于近日康复出院。",
    "为提升护理服务水平,{hospital}于{month}月{day}日举办护理技能竞赛,"
    "来自各临床科室的护士参加了比赛。",
)

_FILLER = (
    "仪式上,双方负责人分别致辞,并就下一步合作进行了深入交流。",
    "近年来,当地持续推进医疗联合体建设,推动优质医疗资源下沉。",
    "活动现场,专家团队还为前来就诊的群众开展了义诊和健康咨询。",
)


@dataclass(frozen=True)
class Place:
    province: str
    city: str
    county: str


@dataclass(frozen=True)
class SyntheticArticle:
    url: str
    title: str
    body: str
    published_at: str
    lead: str
    member: str
    specialty: str
    province: str
    #: False for hospital news that reports no alliance (``lead`` and ``member`` empty)
    relevant: bool = True

    def payload(self) -> dict[str, str]:
        return {
            "url": self.url,
            "title": self.title,
            "body": self.body,
            "content_type": "text/plain",
            "published_at": self.published_at,
            "source": "synthetic",
        }


def _places() -> list[Place]:
    provinces: dict[str, str] = {}
    cities: dict[str, tuple[str, str]] = {}
    counties: list[tuple[str, str]] = []
    for line in GAZETTEER.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        level, code, name, alias, parent, _ = (line.split("\t") + [""] * 6)[:6]
        if level == "P":
            provinces[code] = alias or name
        elif level == "C" and name.endswith("市") and code not in provinces:
            cities[code] = (name, parent)
        elif level == "D" and name.endswith("县"):
            counties.append((name, parent))
    places: dict[str, Place] = {}
    for county, city_code in counties:
        if city_code in cities and city_code not in places:
            city, province_code = cities[city_code]
            if province_code in provinces:
                places[city_code] = Place(provinces[province_code], city, county)
    return sorted(places.values(), key=lambda p: (p.province, p.city))


def generate(
    count: int, *, seed: int = 7, run: str = "r0", rounds_from: int = 0
) -> Iterator[SyntheticArticle]:
    """``count`` articles; distinct alliances for as many articles as there are cities.
    Articles of calls with ``rounds_from`` far enough apart report distinct alliances: the
    lead of round ``r`` is a city's ``第{r+1}人民医院`` (round 0: its 中心医院)."""
    rng = random.Random(seed)
    places = _places()
    rng.shuffle(places)
    start = date(2024, 3, 1)
    for n in range(count):
        place = places[n % len(places)]
        round_ = rounds_from + n // len(places)
        lead = f"{place.city}中心医院" if round_ == 0 else f"{place.city}第{round_ + 1}人民医院"
        member = f"{place.county}人民医院"
        specialty = SPECIALTIES[n % len(SPECIALTIES)]
        day = start + timedelta(days=n % 200)
        body = rng.choice(_TEMPLATES).format(
            month=day.month, day=day.day, lead=lead, member=member, specialty=specialty
        )
        body = body + "\n" + "\n".join(rng.sample(_FILLER, 2))
        yield SyntheticArticle(
            url=f"https://synthetic.alliance-watch.local/{run}/{n}.html",
            title=f"{member}加入{lead}{specialty}专科联盟",
            body=body,
            published_at=(day + timedelta(days=1)).isoformat(),
            lead=lead,
            member=member,
            specialty=specialty,
            province=place.province,
        )


def generate_mix(
    count: int, *, relevant_every: int = 10, seed: int = 7, run: str = "r0"
) -> Iterator[SyntheticArticle]:
    """``count`` articles of which one in ``relevant_every`` reports an alliance (as from
    :func:`generate`) and the rest are hospital news that reports none."""
    rng = random.Random(seed + 1)
    places = _places()
    # Leads of their own (第21人民医院 on): none is an alliance the all-relevant load made.
    alliances = generate(count // relevant_every + 1, seed=seed, run=f"{run}a", rounds_from=20)
    start = date(2024, 3, 1)
    for n in range(count):
        if n % relevant_every == 0:
            yield next(alliances)
            continue
        place = places[n % len(places)]
        day = start + timedelta(days=n % 200)
        hospital = rng.choice((f"{place.city}中心医院", f"{place.county}人民医院"))
        body = rng.choice(_UNRELATED).format(
            month=day.month,
            day=day.day,
            hospital=hospital,
            city=place.city,
            specialty=SPECIALTIES[n % len(SPECIALTIES)],
        )
        yield SyntheticArticle(
            url=f"https://synthetic.alliance-watch.local/{run}/news/{n}.html",
            title=f"{hospital}新闻",
            body=body,
            published_at=(day + timedelta(days=1)).isoformat(),
            lead="",
            member="",
            specialty="",
            province=place.province,
            relevant=False,
        )
