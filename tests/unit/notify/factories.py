"""Alliances and changes to test notify with (facts shaped like the seeds, wording ours)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.common.contracts import (
    Alliance,
    AllianceChange,
    AllianceSource,
    ChangeKind,
    EventType,
    Institution,
)

NOW = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
#: The registry's PUBLIC_BASE_URL the alliances of these tests were published with.
DASHBOARD = "https://watch.example.cn"


def institution(
    name: str,
    province: str | None = None,
    city: str | None = None,
    county: str | None = None,
    *,
    id: str | None = None,
    aliases: tuple[str, ...] = (),
) -> Institution:
    return Institution(
        id=id or f"inst-{abs(hash(name)) % 10**8}",
        name=name,
        aliases=aliases,
        province=province,
        city=city,
        county=county,
    )


HUAXI = institution(
    "四川大学华西医院", "四川省", "成都市", "武侯区", id="i-huaxi", aliases=("华西医院",)
)
NANCHONG = institution("南充市中心医院", "四川省", "南充市", "顺庆区", id="i-nanchong")
NANBU = institution("南部县人民医院", "四川省", "南充市", "南部县", id="i-nanbu")
CHONGQING = institution("重庆市黔江中心医院", "重庆市", "重庆市", "黔江区", id="i-qianjiang")
SHANXI = institution(
    "山西医科大学第二医院", "山西省", "太原市", "杏花岭区", id="i-sxmu2", aliases=("山大二院",)
)
XIAN = institution("吕梁市人民医院", "山西省", "吕梁市", "离石区", id="i-lvliang")


def alliance(
    id: str = "al-1",
    *,
    type: EventType = EventType.specialty_alliance,
    specialty: str | None = "骨科",
    lead: tuple[Institution, ...] = (HUAXI,),
    members: tuple[Institution, ...] = (NANCHONG, NANBU),
    date_: str | None = "2024-04-28",
    provinces: tuple[str, ...] = ("四川",),
    cross_province: bool = False,
    confidence: float = 0.9,
    sources: int = 1,
    url: str | None = "",
) -> Alliance:
    """``url`` is the alliance's page; by default one on an example dashboard."""
    return Alliance(
        id=id,
        type=type,
        specialty=specialty,
        lead=lead,
        members=members,
        date=date_,
        provinces=provinces,
        cross_province=cross_province,
        confidence=confidence,
        first_seen=NOW,
        last_seen=NOW,
        url=f"{DASHBOARD}/alliances/{id}" if url == "" else url,
        sources=tuple(
            AllianceSource(
                article_id=f"u{n}",
                url=f"https://news.example.cn/{id}/{n}.html",
                title=f"华西医院牵头成立骨科专科联盟（报道{n}）",
                published_at=date(2024, 4, 29),
                evidence="四川大学华西医院牵头，南充市中心医院等单位加入骨科专科联盟。",
            )
            for n in range(1, sources + 1)
        ),
    )


def change(
    change_id: str = "c-1",
    alliance_: Alliance | None = None,
    *,
    kind: ChangeKind = ChangeKind.created,
    changed_fields: tuple[str, ...] = (),
    occurred_at: datetime | None = None,
    by_review: bool = False,
    merged_into: str | None = None,
) -> AllianceChange:
    body = alliance_ or alliance()
    return AllianceChange(
        change_id=change_id,
        alliance_id=body.id,
        kind=kind,
        changed_fields=changed_fields,
        alliance=body,
        occurred_at=occurred_at or datetime.now(UTC),
        by_review=by_review,
        merged_into=merged_into,
    )


def rejection(change_id: str, alliance_: Alliance | None = None) -> AllianceChange:
    """An analyst rejected the alliance: not an alliance formation after all."""
    return change(change_id, alliance_, kind=ChangeKind.retracted, by_review=True)


def merger(change_id: str, alliance_: Alliance | None, into: str) -> AllianceChange:
    """An analyst merged the alliance into ``into``, the same alliance reported twice."""
    return change(change_id, alliance_, kind=ChangeKind.retracted, by_review=True, merged_into=into)


def correction(
    change_id: str, alliance_: Alliance, changed_fields: tuple[str, ...]
) -> AllianceChange:
    """An analyst corrected the alliance's ``changed_fields``; ``alliance_`` as corrected."""
    return change(
        change_id,
        alliance_,
        kind=ChangeKind.updated,
        changed_fields=changed_fields,
        by_review=True,
    )
