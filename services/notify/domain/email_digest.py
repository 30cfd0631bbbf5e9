"""E-mail digests: a period's alliances, grouped by region (province, then city), in
Chinese, as HTML with a plain-text part. Each alliance links to its evidence page (a
retracted one is titled 【撤回】 with its reason, a merged one also links to the record it
went into); every message ends with its one-click unsubscribe link."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from services.common.contracts import Alliance
from services.common.labels import type_label
from services.notify.domain.matching import institutions_of
from services.notify.domain.models import Alert
from services.notify.domain.periods import Cadence, Period
from services.notify.domain.rendering import (
    EVIDENCE_LABEL,
    MERGED_LABEL,
    confidence_label,
    format_date,
    headline,
    merged_page,
)

UNKNOWN_PROVINCE = "未注明省份"
UNKNOWN_CITY = "未注明城市"
UNSUBSCRIBE_LABEL = "退订此订阅"


@dataclass(frozen=True)
class RegionGroup:
    province: str
    city: str
    alerts: tuple[Alert, ...]


@dataclass(frozen=True)
class DigestMail:
    subject: str
    text: str
    html: str


def region_of(alliance: Alliance) -> tuple[str, str]:
    """Where an alliance is listed: its lead's province and city (else the first
    institution's that has a province, else its first province)."""
    for institution in institutions_of(alliance):
        if institution.province:
            return institution.province, institution.city or UNKNOWN_CITY
    if alliance.provinces:
        return alliance.provinces[0], UNKNOWN_CITY
    return UNKNOWN_PROVINCE, UNKNOWN_CITY


def latest_per_alliance(alerts: Sequence[Alert]) -> list[Alert]:
    """One alert per alliance, its newest (a digest tells where things stand)."""
    newest: dict[str, Alert] = {}
    for alert in alerts:
        held = newest.get(alert.alliance.id)
        if held is None or alert.occurred_at >= held.occurred_at:
            newest[alert.alliance.id] = alert
    return list(newest.values())


def group_by_region(alerts: Sequence[Alert]) -> list[RegionGroup]:
    """Provinces in order, cities in order within each; unknown places last."""
    groups: dict[tuple[str, str], list[Alert]] = {}
    for alert in latest_per_alliance(alerts):
        groups.setdefault(region_of(alert.alliance), []).append(alert)

    def order(key: tuple[str, str]) -> tuple[bool, str, bool, str]:
        province, city = key
        return (province == UNKNOWN_PROVINCE, province, city == UNKNOWN_CITY, city)

    return [
        RegionGroup(
            province,
            city,
            tuple(sorted(groups[(province, city)], key=lambda a: (a.occurred_at, a.alliance.id))),
        )
        for province, city in sorted(groups, key=order)
    ]


def digest_subject(period: Period, count: int) -> str:
    kind = "日报" if period.cadence is Cadence.daily else "周报"
    return f"医联体动态{kind}（{period.label}，共{count}条）"


def _facts(alliance: Alliance) -> str:
    return "｜".join(
        [
            type_label(alliance.type),
            alliance.specialty or "专科未注明",
            format_date(alliance.date),
            f"可信度{confidence_label(alliance.confidence)}",
        ]
    )


def _members(alliance: Alliance, limit: int = 8) -> str | None:
    if not alliance.members:
        return None
    names = "、".join(m.name for m in alliance.members[:limit])
    more = f" 等{len(alliance.members)}家" if len(alliance.members) > limit else ""
    return f"成员单位：{names}{more}"


def render_email_digest(
    alerts: Sequence[Alert], period: Period, unsubscribe_url: str
) -> DigestMail:
    groups = group_by_region(alerts)
    count = sum(len(g.alerts) for g in groups)
    subject = digest_subject(period, count)
    intro = f"以下是{period.label}期间符合贵单位订阅条件的{count}条医联体动态，按地区排列。"
    text: list[str] = [subject, "", intro]
    html: list[str] = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(subject)}</title></head>",
        '<body style="font-family: sans-serif; line-height: 1.6">',
        f"<h1>{escape(subject)}</h1>",
        f"<p>{escape(intro)}</p>",
    ]
    province = None
    for group in groups:
        if group.province != province:
            province = group.province
            text += ["", f"【{province}】"]
            html.append(f"<h2>{escape(province)}</h2>")
        text += ["", f"  {group.city}"]
        html.append(f"<h3>{escape(group.city)}</h3><ol>")
        for alert in group.alerts:
            alliance = alert.alliance
            title = headline(alert)
            text.append(f"  - {title}")
            text.append(f"    {_facts(alliance)}")
            members = _members(alliance)
            if members:
                text.append(f"    {members}")
            text.extend(f"    {h}" for h in alert.highlights[:2])
            if alliance.url:
                text.append(f"    {EVIDENCE_LABEL}：{alliance.url}")
            survivor = merged_page(alert)
            if survivor:
                text.append(f"    {MERGED_LABEL}：{survivor}")
            heading = escape(title)
            if alliance.url:
                link = escape(alliance.url, quote=True)
                heading = f'<a href="{link}">{heading}</a>'
            html.append(f"<li><strong>{heading}</strong><br>{escape(_facts(alliance))}")
            if members:
                html.append(f"<br>{escape(members)}")
            for line in alert.highlights[:2]:
                html.append(f"<br>{escape(line)}")
            if alliance.url:
                html.append(
                    f'<br><a href="{escape(alliance.url, quote=True)}">{EVIDENCE_LABEL}</a>'
                )
            if survivor:
                html.append(f'<br><a href="{escape(survivor, quote=True)}">{MERGED_LABEL}</a>')
            html.append("</li>")
        html.append("</ol>")
    footer = "不想再收到此订阅的邮件？"
    text += [
        "",
        "——",
        f"{footer}{UNSUBSCRIBE_LABEL}：{unsubscribe_url}",
        "医联体动态监测（Alliance Watch）",
    ]
    html += [
        "<hr>",
        f'<p style="color:#666">{footer}<a href="{escape(unsubscribe_url, quote=True)}">'
        f"{UNSUBSCRIBE_LABEL}</a><br>医联体动态监测（Alliance Watch）</p>",
        "</body></html>",
    ]
    return DigestMail(subject, "\n".join(text), "\n".join(html))


def unsubscribe_footer(unsubscribe_url: str) -> str:
    """The plain-text lines an immediate alert e-mail ends with."""
    return f"\n\n——\n不想再收到此订阅的邮件？{UNSUBSCRIBE_LABEL}：{unsubscribe_url}"


def disabled_notice(subscription_name: str, channel: str, reason: str) -> tuple[str, str]:
    """Subject and text telling a bureau's contact that an endpoint was disabled."""
    subject = f"订阅已停用：{subscription_name}"
    text = "\n".join(
        [
            "您好：",
            "",
            f"贵单位在医联体动态监测（Alliance Watch）中的订阅「{subscription_name}」"
            f"（{channel}）已被停用，之后的动态不再发送到该地址。",
            "",
            f"原因：{reason}",
            "",
            "修复接收地址后，可通过 API（PATCH /v1/subscriptions/{id}，enabled=true）重新启用。",
            "",
            "—— 医联体动态监测（Alliance Watch）",
        ]
    )
    return subject, text
