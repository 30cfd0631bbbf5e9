"""The analysts' pages in Chinese, as the rest of the dashboard: string templates under
services/registry/web/templates filled with escaped values. The review panel is an HTML
fragment that /static/review.js puts beside the evidence on an alliance's page, and beside
the current item of the queue."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from fastapi.responses import HTMLResponse

from services.common.contracts import Alliance, EventType
from services.common.labels import TYPE_LABELS, type_label
from services.common.values import utc
from services.common.web_sessions import SECURITY_HEADERS
from services.registry.adapters.queries import AllianceView
from services.registry.adapters.tables import ReviewActionRow
from services.registry.analyst_sessions import AnalystSession
from services.registry.domain.names import PROVINCES
from services.registry.entrypoints.api.dashboard import _e as e
from services.registry.entrypoints.api.dashboard import _names_of, _template, evidence_quote

Html = str
#: Times as the analysts read clocks: China Standard Time.
CST = timezone(timedelta(hours=8), "CST")

STATUS_LABELS = {
    "unreviewed": "待审核",
    "confirmed": "已确认",
    "corrected": "已更正",
    "rejected": "已驳回",
}
ACTION_LABELS = {
    "confirm": "确认无误",
    "correct": "更正",
    "reject": "驳回",
    "merge": "合并（并入另一条）",
    "split": "拆分",
    "absorbed": "被合并",
}
FIELD_LABELS = {
    "type": "类型",
    "specialty": "专科",
    "lead": "牵头单位",
    "members": "成员单位",
    "date": "成立日期",
    "provinces": "涉及省份",
}
#: Short notices a redirect asks for (?msg=...): fixed texts, nothing echoed from the URL.
NOTICES = {
    "signed_out": "您已安全退出。",
    "expired": "登录已过期或已退出，请重新登录。",
}


def when(moment: datetime | None) -> Html:
    if moment is None:
        return '<span class="muted">—</span>'
    aware = utc(moment)
    return f'<time datetime="{e(aware.isoformat())}">{aware.astimezone(CST):%Y-%m-%d %H:%M}</time>'


def page(
    title: str,
    body: Html,
    *,
    name: str,
    session: AnalystSession | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    text = _template("review.html").substitute(
        title=e(title), page=e(name), account=account(session), body=body
    )
    return HTMLResponse(text, status_code=status_code, headers=SECURITY_HEADERS)


def account(session: AnalystSession | None) -> Html:
    if session is None:
        return ""
    return (
        f'<span class="account">分析员 <b id="analyst-name">{e(session.analyst.name)}</b>'
        '<form method="post" action="/review/logout" class="inline">'
        f'<input type="hidden" name="csrf" value="{e(session.csrf)}">'
        '<button type="submit" class="link" id="sign-out">退出登录</button></form></span>'
    )


def message(
    title: str,
    text: str,
    *,
    status_code: int,
    detail: str | None = None,
    back: str = "/review/",
    back_label: str = "返回审核队列",
    session: AnalystSession | None = None,
) -> HTMLResponse:
    body = _template("review_message.html").substitute(
        heading=e(title),
        text=e(text),
        detail=f'<p class="error" id="reason">{e(detail)}</p>' if detail else "",
        back=e(back),
        back_label=e(back_label),
    )
    return page(title, body, name="message", session=session, status_code=status_code)


def login(
    csrf: str, hours: float, *, next_path: str, error: str | None, notice: str | None
) -> Html:
    return _template("review_login.html").substitute(
        csrf=e(csrf),
        hours=e(f"{hours:g}"),
        next=e(next_path),
        error=f'<p class="error" role="alert" id="login-error">{e(error)}</p>' if error else "",
        notice=(
            f'<p class="notice" role="status">{e(NOTICES[notice])}</p>' if notice in NOTICES else ""
        ),
    )


# --- the review panel -------------------------------------------------------------------


def _names(institutions: Iterable[Any]) -> list[str]:
    return [i["name"] if isinstance(i, dict) else i.name for i in institutions]


def _field_text(field: str, value: Any) -> str:
    if value is None or value == [] or value == "":
        return "（空）"
    if field in ("lead", "members"):
        return "、".join(_names(value))
    if field == "provinces":
        return "、".join(value)
    if field == "type":
        return type_label(value)
    return str(value)


def changed(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """What an action changed, field by field, as the analysts read it."""
    if not before or not after:
        return []
    lines = []
    for field, label in FIELD_LABELS.items():
        old, new = before.get(field), after.get(field)
        if field in ("lead", "members"):
            old, new = _names(old or []), _names(new or [])
        if old != new:
            lines.append(
                f"{label}：{_field_text(field, before.get(field))} → "
                f"{_field_text(field, after.get(field))}"
            )
    return lines


def history_items(actions: Sequence[ReviewActionRow]) -> Html:
    items = []
    for action in reversed(actions):  # newest first
        before = json.loads(action.before) if action.before else None
        after = json.loads(action.after) if action.after else None
        lines = "".join(f"<li>{e(line)}</li>" for line in changed(before, after))
        diff = f'<ul class="diff">{lines}</ul>' if lines else ""
        note = f'<div class="history-note">说明：{e(action.note)}</div>' if action.note else ""
        items.append(
            f'<li class="history-item" data-action="{e(action.action)}">'
            f"{when(action.at)} "
            f'<b class="who">{e(action.analyst_name)}</b> '
            f'<span class="what">{e(ACTION_LABELS.get(action.action, action.action))}</span>'
            f"{note}{diff}</li>"
        )
    return "".join(items) or '<li class="muted" id="history-empty">尚无审核记录。</li>'


def _hidden(csrf: str, action: str) -> Html:
    return (
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        f'<input type="hidden" name="action" value="{e(action)}">'
    )


def type_options(selected: str | None, *, blank: str | None = None) -> Html:
    options = [f'<option value="">{e(blank)}</option>'] if blank is not None else []
    for kind, label in TYPE_LABELS.items():
        chosen = " selected" if selected == kind.value else ""
        options.append(f'<option value="{e(kind.value)}"{chosen}>{e(label)}</option>')
    return "".join(options)


def edit_values(a: Alliance) -> dict[str, str]:
    """The edit form's fields, prefilled with the alliance's current values."""
    return {
        "lead": "\n".join(i.name for i in a.lead),
        "members": "\n".join(i.name for i in a.members),
        "type": a.type.value,
        "specialty": a.specialty or "",
        "date": a.date or "",
        "provinces": "、".join(a.provinces),
    }


def evidence_block(view: AllianceView) -> Html:
    """The alliance's facts and highlighted evidence, for the queue's current item."""
    a = view.alliance
    names, key_names = _names_of(a)
    sources = []
    for source in a.sources:
        title = source.title or source.url or source.article_id
        evidence = evidence_quote(source.evidence, names, key_names)
        sources.append(
            f'<li class="source"><div class="source-head">{e(title)}'
            f'<span class="muted"> · {e(source.published_at or "日期未知")}</span></div>'
            f"{evidence}</li>"
        )
    facts = [
        ("类型", e(type_label(a.type))),
        ("专科", e(a.specialty or "—")),
        ("牵头单位", e("、".join(i.name for i in a.lead) or "—")),
        ("成员单位", e("、".join(i.name for i in a.members) or "—")),
        ("成立日期", e(a.date or "未知")),
        ("涉及地区", e("、".join(a.provinces) or "—")),
        ("置信度", f"{a.confidence:.2f}"),
    ]
    return (
        '<div class="queue-evidence">'
        f'<h2><a href="/alliances/{e(a.id)}" id="current-link">{e(_title(a))}</a></h2>'
        f'<dl class="facts">{"".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)}</dl>'
        f'<ol class="sources" id="current-sources">{"".join(sources)}</ol></div>'
    )


def _title(a: Alliance) -> str:
    lead = "、".join(i.name for i in a.lead) or "、".join(i.name for i in a.members[:2])
    return f"{lead} {a.specialty or ''}{type_label(a.type)}".strip()


def panel(
    view: AllianceView,
    history: Sequence[ReviewActionRow],
    session: AnalystSession,
    *,
    with_evidence: bool = False,
) -> Html:
    """The review panel of one alliance: its status and reviewer, the actions (confirm,
    reject with a note, the edit form prefilled), the history of what analysts did."""
    a = view.alliance
    review = view.review
    base = f"/review/alliances/{e(a.id)}/review"
    csrf = session.csrf
    status = review.status
    by = (
        f'审核人 <b id="reviewer">{e(review.reviewed_by_name or "（已删除的分析员）")}</b> · '
        f"{when(review.reviewed_at)}"
        if review.reviewed_at
        else "尚无人审核"
    )
    locked = (
        '<p class="note" id="review-locked">已锁定（后续抽取不会覆盖）：'
        f"{e('、'.join(FIELD_LABELS.get(f, f) for f in review.locked_fields))}</p>"
        if review.locked_fields
        else ""
    )
    values = edit_values(a)
    edit = (
        f'<form method="post" action="{base}" class="review-form stack" id="review-edit-form"'
        ' data-kind="correct" hidden>'
        f"{_hidden(csrf, 'correct')}"
        '<p class="note">改动的字段将被锁定，之后的新闻抽取不再覆盖它们。多个单位每行一个。</p>'
        f'<label>牵头单位<textarea name="lead" rows="2" id="edit-lead">{e(values["lead"])}'
        "</textarea></label>"
        f'<label>成员单位<textarea name="members" rows="4" id="edit-members">'
        f"{e(values['members'])}</textarea></label>"
        f'<label>类型<select name="type" id="edit-type">{type_options(values["type"])}</select>'
        "</label>"
        f'<label>专科<input type="text" name="specialty" id="edit-specialty" '
        f'value="{e(values["specialty"])}" placeholder="如 骨科；留空表示无"></label>'
        f'<label>成立日期<input type="text" name="date" id="edit-date" '
        f'value="{e(values["date"])}" placeholder="YYYY-MM-DD 或 YYYY-MM"></label>'
        f'<label>涉及省份<input type="text" name="provinces" id="edit-provinces" '
        f'value="{e(values["provinces"])}" placeholder="用顿号分隔，如 四川、陕西"></label>'
        '<label>说明（可选）<input type="text" name="note" id="edit-note" maxlength="2000">'
        "</label>"
        '<div class="form-actions"><button type="submit" id="review-save">保存更正</button>'
        '<button type="button" class="cancel">取消</button></div></form>'
    )
    reject = (
        f'<form method="post" action="{base}" class="review-form stack" id="review-reject-form"'
        ' data-kind="reject" hidden>'
        f"{_hidden(csrf, 'reject')}"
        '<label>驳回说明（必填：为何这不是一条医联体动态）<input type="text" name="note" '
        'id="reject-note" required maxlength="2000"></label>'
        '<div class="form-actions"><button type="submit" class="danger" id="review-reject">'
        "确认驳回</button>"
        '<button type="button" class="cancel">取消</button></div></form>'
    )
    confirm = (
        f'<form method="post" action="{base}" class="review-form inline" id="review-confirm-form"'
        ' data-kind="confirm">'
        f"{_hidden(csrf, 'confirm')}"
        '<button type="submit" id="review-confirm">确认无误 <kbd>c</kbd></button></form>'
    )
    evidence = evidence_block(view) if with_evidence else ""
    return (
        f'<div class="review-box" id="review-box" data-alliance="{e(a.id)}" '
        f'data-status="{e(status)}">'
        f"{evidence}"
        '<div class="review-head"><h2>分析员审核</h2>'
        f'<span class="badge status-{e(status)}" id="review-status">'
        f"{e(STATUS_LABELS.get(status, status))}</span></div>"
        f'<p class="muted" id="review-by">{by}</p>{locked}'
        '<p class="error" role="alert" id="review-error" hidden></p>'
        f'<div class="review-actions">{confirm}'
        '<button type="button" id="review-reject-open">驳回… <kbd>r</kbd></button>'
        '<button type="button" id="review-edit-open">编辑更正… <kbd>e</kbd></button></div>'
        f"{reject}{edit}"
        f'<h3>审核记录</h3><ul class="history" id="review-history">{history_items(history)}</ul>'
        f'<p class="note">以 <b id="panel-analyst">{e(session.analyst.name)}</b> 的身份审核 · '
        '<a href="/review/">审核队列</a></p>'
        "</div>"
    )


# --- the queue ----------------------------------------------------------------------------


def province_options(selected: str | None) -> Html:
    options = ['<option value="">全部省份</option>']
    for name in PROVINCES:
        chosen = " selected" if selected == name else ""
        options.append(f'<option value="{e(name)}"{chosen}>{e(name)}</option>')
    return "".join(options)


def queue_item(view: AllianceView) -> Html:
    a = view.alliance
    members = "、".join(i.name for i in a.members[:4])
    if len(a.members) > 4:
        members += f" 等 {len(a.members)} 家"
    return (
        f'<li class="queue-item" data-id="{e(a.id)}" data-status="{e(view.review.status)}">'
        f'<div class="qi-head"><span class="tag">{e(type_label(a.type))}</span>'
        f'<a href="/alliances/{e(a.id)}" class="qi-title">{e(_title(a))}</a>'
        f'<span class="qi-status" aria-live="polite"></span></div>'
        f'<div class="qi-sub muted">{e(members or "—")} · {e("、".join(a.provinces) or "地区未知")}'
        f" · {e(a.date or '日期未知')} · 置信度 {a.confidence:.2f} · "
        f"收录于 {when(a.first_seen)}</div></li>"
    )


def queue(
    views: Sequence[AllianceView],
    *,
    province: str | None,
    kind: EventType | None,
    next_url: str | None,
) -> Html:
    items = "".join(queue_item(v) for v in views)
    filtered = bool(province or kind)
    empty = (
        '<li class="muted" id="queue-empty">'
        + ("没有符合筛选条件的待审核联盟。" if filtered else "队列已清空：所有联盟都已审核。")
        + "</li>"
    )
    more = (
        f'<p class="pager"><a href="{e(next_url)}" id="queue-more">下一页 →</a></p>'
        if next_url
        else ""
    )
    return _template("review_queue.html").substitute(
        province_options=province_options(province),
        type_options=type_options(kind.value if kind else None, blank="全部类型"),
        count=str(len(views)) + ("+" if next_url else ""),
        items=items or empty,
        more=more,
    )
