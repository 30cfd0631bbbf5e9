"""Alerts as a bureau officer reads them, in Chinese: who leads, who joins, what, when, where.

One alert renders as plain text (e-mail), as markdown for the group robots (each with its
own size limit, in its entry of ``services.notify.channels``), or folded with others into a digest when a robot's
rate limit would otherwise hold them back. The webhook body is JSON for machines.
Every form links to the alliance's page on the registry's dashboard (``alliance.url``,
查看证据), and shortening a robot message never drops that link nor cuts a line of
markdown in two.

An analyst's review reads as such: a correction's first highlight is ``经人工审核更正``
(``describe_corrections``); a retraction is titled ``【撤回】`` and says why
(``retraction_highlights``), and one by a merge links to the record that absorbed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from services.common.contracts import Alliance, AllianceChange, EventType, Institution
from services.common.labels import type_label
from services.notify.domain.matching import (
    field_root,
    institutions_of,
    material_changes,
    new_institutions,
)
from services.notify.domain.models import Alert, AlertType

_TRUNCATED = "\n\n…（内容过长，已截断，详见证据页）"
#: The words of the link to the alliance's page.
EVIDENCE_LABEL = "查看证据"
#: The words of the link to the record a merged alliance was merged into.
MERGED_LABEL = "查看合并后的记录"
#: The first highlight of an analyst's correction.
REVIEW_NOTE = "经人工审核更正"
#: Why an alliance is retracted: an analyst rejected it, or merged it into another.
REJECTED_NOTE = "经人工审核，该条目不是医联体组建事件，已撤回"
MERGED_NOTE = "经人工审核，该条目与另一条记录为同一医联体，已合并"
#: Above the facts of a retracted alliance: they are what the bureau was told, not news.
RETRACTED_FACTS = "撤回前的条目内容："


def format_date(value: str | None) -> str:
    """2024-05-01 -> 2024年5月1日; 2024-05 -> 2024年5月; None -> 未注明."""
    if not value:
        return "未注明"
    parts = value.split("-")
    try:
        if len(parts) == 3:
            return f"{int(parts[0])}年{int(parts[1])}月{int(parts[2])}日"
        if len(parts) == 2:
            return f"{int(parts[0])}年{int(parts[1])}月"
    except ValueError:
        pass
    return value


def confidence_label(confidence: float) -> str:
    level = "高" if confidence >= 0.8 else "中" if confidence >= 0.5 else "低"
    return f"{round(confidence * 100)}%（{level}）"


def place_of(institution: Institution) -> str:
    parts: list[str] = []
    for part in (institution.province, institution.city, institution.county):
        if part and part not in parts:
            parts.append(part)
    return "".join(parts)


def institution_label(institution: Institution) -> str:
    place = place_of(institution)
    return f"{institution.name}（{place}）" if place else institution.name


def places(alliance: Alliance, limit: int | None = None) -> str:
    """The places the alliance reaches, e.g. 四川省成都市、重庆市（跨省）; at most
    ``limit`` of them, then 等N地."""
    seen: list[str] = []
    for institution in institutions_of(alliance):
        place = place_of(institution)
        if place and place not in seen:
            seen.append(place)
    if not seen:
        seen = list(alliance.provinces)
    shown = seen if limit is None else seen[:limit]
    text = "、".join(shown) if shown else "未注明"
    if limit is not None and len(seen) > limit:
        text += f" 等{len(seen)}地"
    if alliance.cross_province:
        text += "（跨省）"
    return text


def clip(text: str, limit: int) -> str:
    """Plain words cut to ``limit`` characters, with an ellipsis when cut (markdown-free
    text only: names, places, highlights)."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def _names(institutions: Sequence[Institution], limit: int | None = None) -> str:
    if not institutions:
        return "未注明"
    shown = institutions if limit is None else institutions[:limit]
    text = "、".join(i.name for i in shown)
    if limit is not None and len(institutions) > limit:
        text += f" 等{len(institutions)}家"
    return text


def subject_of(alliance: Alliance) -> str:
    """What the alliance is, e.g. 骨科专科联盟, 县域医共体."""
    label = type_label(alliance.type)
    if alliance.specialty and alliance.specialty not in label:
        return f"{alliance.specialty}{label}"
    return label


def headline(alert: Alert) -> str:
    alliance = alert.alliance
    lead = alliance.lead[0].name if alliance.lead else None
    if alliance.type is EventType.trusteeship and lead and alliance.members:
        core = f"{lead}托管{_names(alliance.members, 2)}"
    elif alliance.type is EventType.other and lead and alliance.members:
        core = f"{lead}与{_names(alliance.members, 2)}签署合作"
    elif lead:
        more = f"等{len(alliance.lead)}家" if len(alliance.lead) > 1 else ""
        core = f"{lead}{more}牵头组建{subject_of(alliance)}"
    elif alliance.members:
        core = f"{_names(alliance.members, 2)}组建{subject_of(alliance)}"
    else:
        core = f"新{subject_of(alliance)}"
    if alert.type is AlertType.test:
        return f"【测试消息】{core}"
    if alert.type is AlertType.retracted:
        return f"【撤回】{core}"
    if alert.type is AlertType.updated:
        return f"【医联体更正】{core}" if alert.by_review else f"【医联体动态更新】{core}"
    return f"【新医联体】{core}"


def describe_changes(change: AllianceChange, previous: Alliance | None) -> tuple[str, ...]:
    """Readable lines on what a material update changed."""
    current = change.alliance
    lines: list[str] = []
    touched = material_changes(change, previous)
    if previous is not None:
        joined = new_institutions(current.members, previous.members)
        if joined:
            lines.append(f"新增成员单位（{len(joined)}家）：{_names(joined, 20)}")
        leads = new_institutions(current.lead, previous.lead)
        if leads:
            lines.append(f"新增牵头单位：{_names(leads)}")
        if current.type != previous.type:
            lines.append(f"类型更正：{type_label(previous.type)} → {type_label(current.type)}")
        if current.specialty != previous.specialty:
            lines.append(
                f"专科更正：{previous.specialty or '未注明'} → {current.specialty or '未注明'}"
            )
        if current.date != previous.date:
            lines.append(f"日期更正：{format_date(previous.date)} → {format_date(current.date)}")
        added = [p for p in current.provinces if p not in previous.provinces]
        if added:
            lines.append(f"新增涉及省份：{'、'.join(added)}")
    elif touched:
        lines.append(
            "更新内容："
            + "、".join(_FIELD_LABELS[f] for f in sorted(touched) if f in _FIELD_LABELS)
        )
    return tuple(lines)


_FIELD_LABELS = {
    "lead": "牵头单位",
    "members": "成员单位",
    "type": "类型",
    "specialty": "专科",
    "date": "日期",
    "provinces": "涉及省份",
    "cross_province": "跨省情况",
}


#: The fields an analyst may correct that are not news by themselves, named too.
_CORRECTED_LABELS = {**_FIELD_LABELS, "confidence": "可信度", "sources": "来源报道"}


def _differ(current: Sequence[Institution], previous: Sequence[Institution]) -> bool:
    return bool(new_institutions(current, previous) or new_institutions(previous, current))


def describe_corrections(change: AllianceChange, previous: Alliance | None) -> tuple[str, ...]:
    """Readable lines on an analyst's correction, first ``经人工审核更正``: the lead set as
    it now is, the members added and removed, type, specialty, date, provinces. Without
    the alliance as last received, the corrected fields by name (and the lead as it is)."""
    current = change.alliance
    lines = [REVIEW_NOTE]
    if previous is not None:
        if _differ(current.lead, previous.lead):
            lines.append(f"牵头单位更正为：{_names(current.lead)}")
        joined = new_institutions(current.members, previous.members)
        # A member that now leads is not gone: the lead line names it.
        left = new_institutions(previous.members, (*current.members, *current.lead))
        if joined or left:
            parts = ([f"新增 {_names(joined, 20)}"] if joined else []) + (
                [f"移除 {_names(left, 20)}"] if left else []
            )
            lines.append("成员单位更正：" + "；".join(parts))
        if current.type != previous.type:
            lines.append(f"类型更正：{type_label(previous.type)} → {type_label(current.type)}")
        if current.specialty != previous.specialty:
            lines.append(
                f"专科更正：{previous.specialty or '未注明'} → {current.specialty or '未注明'}"
            )
        if current.date != previous.date:
            lines.append(f"日期更正：{format_date(previous.date)} → {format_date(current.date)}")
        if set(current.provinces) != set(previous.provinces):
            lines.append(f"涉及省份更正为：{'、'.join(current.provinces) or '未注明'}")
        if current.cross_province != previous.cross_province:
            lines.append(f"跨省情况更正为：{'跨省' if current.cross_province else '不跨省'}")
    if len(lines) == 1:
        # Nothing material differs from the alliance as last received (or it is unknown):
        # the corrected fields by name, so that the alert says what the analyst touched.
        named = {field_root(f) for f in change.changed_fields}
        touched = [f for f in _CORRECTED_LABELS if f in named]
        if touched:
            lines.append("更正内容：" + "、".join(_CORRECTED_LABELS[f] for f in touched))
        if previous is None and "lead" in touched:
            lines.append(f"牵头单位更正为：{_names(current.lead)}")
    return tuple(lines)


def retraction_highlights(change: AllianceChange) -> tuple[str, ...]:
    """Why the alliance is retracted, in the words a bureau officer reads."""
    if change.merged_into:
        return (MERGED_NOTE, f"合并后的记录编号：{change.merged_into}")
    return (REJECTED_NOTE,)


def merged_page(alert: Alert) -> str | None:
    """The page of the record a merged alliance went into: the registry's page of this
    one (``<base>/alliances/<id>``) with the survivor's id in its place; None when either
    is unknown or the page is not of that form."""
    alliance = alert.alliance
    if not alert.merged_into or not alliance.url:
        return None
    tail = "/" + quote(alliance.id, safe="")
    if not alliance.url.endswith(tail):
        return None
    return alliance.url[: -len(tail)] + "/" + quote(alert.merged_into, safe="")


def _source_lines(alliance: Alliance, limit: int, markdown: bool) -> list[str]:
    lines: list[str] = []
    for number, source in enumerate(alliance.sources[:limit], start=1):
        title = source.title or "来源文章"
        when = f"（{format_date(source.published_at.isoformat())}）" if source.published_at else ""
        if markdown and source.url:
            lines.append(f"{number}. [{title}]({source.url}){when}")
        elif source.url:
            lines.append(f"{number}. {title}{when} {source.url}")
        else:
            lines.append(f"{number}. {title}{when}")
    if len(alliance.sources) > limit:
        lines.append(f"…另有{len(alliance.sources) - limit}篇报道")
    return lines


def _excerpt(alliance: Alliance, limit: int = 120) -> str | None:
    for source in alliance.sources:
        if source.evidence:
            text = " ".join(source.evidence.split())
            return text if len(text) <= limit else text[: limit - 1] + "…"
    return None


def _facts(
    alliance: Alliance, member_limit: int | None, place_limit: int | None = None
) -> list[tuple[str, str]]:
    facts = [
        ("类型", type_label(alliance.type)),
        ("专科", alliance.specialty or "未注明"),
        ("牵头单位", "、".join(institution_label(i) for i in alliance.lead) or "未注明"),
        (
            f"成员单位（{len(alliance.members)}家）" if alliance.members else "成员单位",
            _names(alliance.members, member_limit),
        ),
        ("时间", format_date(alliance.date)),
        ("地区", places(alliance, place_limit)),
        ("可信度", confidence_label(alliance.confidence)),
    ]
    return facts


def evidence_line(alliance: Alliance, markdown: bool) -> str | None:
    """The link to the alliance's page (its sources, evidence and history), if known."""
    if not alliance.url:
        return None
    if markdown:
        return f"[{EVIDENCE_LABEL}（联盟详情与原文依据）]({alliance.url})"
    return f"{EVIDENCE_LABEL}：{alliance.url}"


def render_text(alert: Alert) -> tuple[str, str]:
    """Subject and plain-text body, for e-mail."""
    alliance = alert.alliance
    lines = [headline(alert), ""]
    lines.extend(alert.highlights)
    survivor = merged_page(alert)
    if survivor:
        lines.append(f"{MERGED_LABEL}：{survivor}")
    if alert.highlights or survivor:
        lines.append("")
    if alert.type is AlertType.retracted:
        lines.append(RETRACTED_FACTS)
    lines.extend(f"{name}：{value}" for name, value in _facts(alliance, None))
    evidence = evidence_line(alliance, markdown=False)
    if evidence:
        lines += ["", evidence]
    excerpt = _excerpt(alliance)
    if excerpt:
        lines += ["", f"原文摘录：「{excerpt}」"]
    sources = _source_lines(alliance, 20, markdown=False)
    if sources:
        lines += ["", "来源报道：", *sources]
    lines += ["", f"联盟编号：{alliance.id}", "—— 医联体动态监测（Alliance Watch）"]
    return headline(alert), "\n".join(lines)


def _markdown(alert: Alert, member_limit: int, source_limit: int) -> tuple[str, str]:
    alliance = alert.alliance
    title = headline(alert)
    lines = [f"### {title}", ""]
    # A long region line or highlight (hundreds of new members) is shortened, so that it
    # never crowds the links out of a robot's message.
    for line in alert.highlights:
        lines.append(f"> {clip(line, 4 * member_limit + 40)}")
    if alert.highlights:
        lines.append("")
    if alert.type is AlertType.retracted:
        lines.append(RETRACTED_FACTS)
    facts = _facts(alliance, member_limit, place_limit=member_limit)
    lines.extend(f"- **{name}**：{value}" for name, value in facts)
    excerpt = _excerpt(alliance)
    if excerpt:
        lines += ["", f"> 原文摘录：{excerpt}"]
    sources = _source_lines(alliance, source_limit, markdown=True)
    if sources:
        lines += ["", "**来源报道**", *sources]
    return title, "\n".join(lines)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _cuttable_from(line: str) -> int | None:
    """From which character ``line`` may be cut short without leaving markdown open:
    after its last ``**`` (a fact's bold name); None for a line with a link, code or a
    tag, which is kept whole or not at all."""
    if any(mark in line for mark in ("](", "`", "<")):
        return None
    last = line.rfind("**")
    return 0 if last < 0 else last + 2


def cut_to_bytes(text: str, limit: int, marker: str = _TRUNCATED) -> str:
    """``text`` if it fits in ``limit`` UTF-8 bytes, else its first lines that fit, then
    ``marker``. Lines are kept whole; only a line of plain words is cut short (on a
    character boundary), so no link or emphasis is left open."""
    if utf8_len(text) <= limit:
        return text
    room = max(0, limit - utf8_len(marker))
    kept: list[str] = []
    used = 0
    for line in text.split("\n"):
        size = utf8_len(line) + (1 if kept else 0)
        if used + size <= room:
            kept.append(line)
            used += size
            continue
        start = _cuttable_from(line)
        if start is not None:
            space = room - used - (1 if kept else 0)
            cut = line.encode("utf-8")[: max(0, space)].decode("utf-8", "ignore")
            if len(cut) > start and cut.strip():
                kept.append(cut)
        break
    return "\n".join(kept).rstrip() + marker


def render_markdown(alert: Alert, max_bytes: int) -> tuple[str, str]:
    """Title and markdown for a robot, shortened (fewer names, fewer links) to fit; the
    link to the alliance's page is the last line (after it, a merged alliance's link to
    the record it went into), kept whatever else has to go."""
    survivor = merged_page(alert)
    links = [
        link
        for link in (
            evidence_line(alert.alliance, markdown=True),
            f"[{MERGED_LABEL}]({survivor})" if survivor else None,
        )
        if link
    ]
    footer = "\n\n" + "\n".join(links) if links else ""
    room = max_bytes - utf8_len(footer)
    for member_limit, source_limit in ((30, 5), (10, 3), (5, 2), (3, 1)):
        title, text = _markdown(alert, member_limit, source_limit)
        if utf8_len(text) <= room:
            return title, text + footer
    return title, cut_to_bytes(text, room) + footer


def robot_markdown(alerts: Sequence[Alert], max_bytes: int | None) -> tuple[str, str]:
    """A robot's message: one alert's markdown, or a digest of several."""
    if max_bytes is None:
        raise ValueError("a robot message needs its channel's max_bytes")
    if len(alerts) == 1:
        return render_markdown(alerts[0], max_bytes)
    return render_digest(alerts, max_bytes)


def plain_text(alerts: Sequence[Alert], max_bytes: int | None = None) -> tuple[str, str]:
    """One alert as subject and plain text (e-mail, and the text of a webhook's body)."""
    if len(alerts) != 1:
        raise ValueError("plain text carries one alert")
    return render_text(alerts[0])


def digest_entry(number: int, alert: Alert) -> str:
    alliance = alert.alliance
    facts = "｜".join(
        [
            type_label(alliance.type),
            alliance.specialty or "专科未注明",
            format_date(alliance.date),
            places(alliance, 8),
            f"可信度{confidence_label(alliance.confidence)}",
        ]
    )
    # The link to the evidence comes right after the headline, and the lines that can grow
    # long (places, highlights) are shortened: a digest cut to size keeps every link.
    lines = [f"{number}. **{clip(headline(alert), 120)}**"]
    if alliance.url:
        lines.append(f"   [{EVIDENCE_LABEL}]({alliance.url})")
    survivor = merged_page(alert)
    if survivor:
        lines.append(f"   [{MERGED_LABEL}]({survivor})")
    lines.append(f"   {clip(facts, 160)}")
    if alliance.members:
        lines.append(f"   成员：{clip(_names(alliance.members, 5), 120)}")
    lines.extend(f"   {clip(h, 120)}" for h in alert.highlights[:2])
    source = next((s for s in alliance.sources if s.url), None)
    if source is not None:
        lines.append(f"   [{source.title or '来源报道'}]({source.url})")
    return "\n".join(lines)


def digest_title(count: int) -> str:
    return f"医联体动态汇总（{count}条）"


def render_digest(alerts: Sequence[Alert], max_bytes: int) -> tuple[str, str]:
    """Several alerts in one robot message."""
    title = digest_title(len(alerts))
    header = f"### {title}\n\n因消息较多，以下动态合并发送：\n"
    entries = [digest_entry(n, a) for n, a in enumerate(alerts, start=1)]
    return title, cut_to_bytes(header + "\n" + "\n\n".join(entries), max_bytes)


def fold_digests(alerts: Sequence[Alert], max_bytes: int, max_items: int = 20) -> list[list[int]]:
    """Split a burst into digest messages that each fit ``max_bytes``: indices per message.

    Every alert lands in exactly one message (nothing dropped); an alert too large for a
    digest on its own still gets a message, cut to fit.
    """
    groups: list[list[int]] = []
    current: list[int] = []
    for index in range(len(alerts)):
        trial = [*current, index]
        _, text = render_digest([alerts[i] for i in trial], 10 * max_bytes)
        if current and (utf8_len(text) > max_bytes or len(trial) > max_items):
            groups.append(current)
            current = [index]
        else:
            current = trial
    if current:
        groups.append(current)
    return groups


def webhook_body(alert: Alert, rendered: tuple[str, str] | None = None) -> dict[str, Any]:
    """The JSON a webhook receives: ``{type, timestamp, alliance, ...}``; ``rendered``:
    its title and text, as the channel's renderer made them (plain text by default).
    ``by_review``: an analyst's action; a retraction also carries ``merged_into`` (the id
    of the record it was merged into, null for a rejection) and ``merged_into_url``."""
    title, text = rendered or render_text(alert)
    body: dict[str, Any] = {
        "type": alert.type.value,
        "timestamp": _iso(alert.occurred_at),
        "change_id": alert.change_id,
        "changed_fields": list(alert.changed_fields),
        "highlights": list(alert.highlights),
        "title": title,
        "text": text,
        #: The alliance's page (evidence); also ``alliance.url``. None when unknown.
        "url": alert.alliance.url,
        "alliance": alert.alliance.model_dump(mode="json"),
        "by_review": alert.by_review,
    }
    if alert.type is AlertType.retracted:
        body["merged_into"] = alert.merged_into
        body["merged_into_url"] = merged_page(alert)
    return body


def _iso(moment: datetime) -> str:
    return moment.isoformat()
