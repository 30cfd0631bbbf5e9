"""The portal's pages, in Chinese: string templates under services/notify/web/templates
filled with escaped values (as the registry's dashboard does), no script of their own
but /portal/static/portal.js, which draws the region picker."""

from __future__ import annotations

import html
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from string import Template

from fastapi.responses import HTMLResponse

from services.common.labels import TYPE_LABELS
from services.common.web_sessions import SECURITY_HEADERS
from services.notify.domain.models import (
    AlertType,
    Channel,
    DeliveryPublic,
    DeliveryStatus,
    Filters,
    SubscriptionPublic,
)
from services.notify.portal import PortalSession, system_disabled

WEB = Path(__file__).resolve().parents[2] / "web"
#: Times are shown as the bureaus read clocks: China Standard Time.
CST = timezone(timedelta(hours=8), "CST")

CHANNELS = {
    Channel.webhook: "Webhook（贵单位系统）",
    Channel.dingtalk: "钉钉群机器人",
    Channel.wecom: "企业微信群机器人",
    Channel.email: "电子邮件",
}
STATUSES = {
    DeliveryStatus.pending: "待发送",
    DeliveryStatus.sending: "发送中",
    DeliveryStatus.delivered: "已送达",
    DeliveryStatus.failed: "失败",
}
ALERT_TYPES = {
    AlertType.created: "新医联体",
    AlertType.updated: "医联体变更",
    AlertType.retracted: "医联体撤回",
    AlertType.test: "测试消息",
}
#: Short notices a redirect asks for (?msg=...): fixed texts, nothing echoed from the URL.
NOTICES = {
    "created": "订阅已创建。",
    "saved": "修改已保存。",
    "test": "测试消息已排队发送，稍候刷新即可在投递记录中看到结果。",
    "paused": "已暂停推送。暂停期间的动态不会补发。",
    "resumed": "已恢复推送。",
    "redelivered": "已重新排队投递。",
    "deleted": "订阅已删除。",
    "signed_out": "您已安全退出。",
    "expired": "登录已过期或已退出，请重新登录。",
    "not_tested": "请先发送测试消息，并在测试送达后再恢复推送。",
    "disabled": "该订阅已停用，请先恢复推送再重新投递。",
    "busy": "该消息正在发送，请稍后再试。",
}

Html = str


def e(value: object) -> Html:
    return html.escape("" if value is None else str(value), quote=True)


@cache
def _template(name: str) -> Template:
    return Template((WEB / "templates" / name).read_text(encoding="utf-8"))


def when(moment: datetime | None) -> Html:
    if moment is None:
        return '<span class="muted">—</span>'
    local = moment.astimezone(CST)
    return f'<time datetime="{e(moment.isoformat())}">{local:%Y-%m-%d %H:%M:%S}</time>'


def page(
    title: str,
    body: Html,
    *,
    session: PortalSession | None = None,
    notice: str | None = None,
    status_code: int = 200,
    name: str = "portal",
) -> HTMLResponse:
    account = ""
    if session is not None:
        account = (
            f'<div class="account"><span id="bureau-name">{e(session.bureau_name)}</span>'
            '<form method="post" action="/portal/logout" class="inline">'
            f'<input type="hidden" name="csrf" value="{e(session.csrf)}">'
            '<button type="submit" class="link" id="sign-out">退出登录</button></form></div>'
        )
    flash = ""
    if notice in NOTICES:
        flash = f'<p class="notice" role="status">{e(NOTICES[notice])}</p>'
    text = _template("base.html").substitute(
        title=e(title), page=e(name), account=account, flash=flash, body=body
    )
    return HTMLResponse(text, status_code=status_code, headers=SECURITY_HEADERS)


def message(
    title: str,
    text: str,
    *,
    status_code: int,
    detail: str | None = None,
    back: str = "/portal/",
    back_label: str = "返回我的订阅",
    session: PortalSession | None = None,
) -> HTMLResponse:
    body = _template("message.html").substitute(
        heading=e(title),
        text=e(text),
        detail=f'<p class="note" id="reason">{e(detail)}</p>' if detail else "",
        back=e(back),
        back_label=e(back_label),
    )
    return page(title, body, session=session, status_code=status_code, name="message")


def login(csrf: str, hours: float, *, error: str | None = None, notice: str | None = None) -> Html:
    return _template("login.html").substitute(
        csrf=e(csrf),
        hours=e(f"{hours:g}"),
        error=f'<p class="error" role="alert" id="login-error">{e(error)}</p>' if error else "",
    )


def status_badge(sub: SubscriptionPublic) -> Html:
    if sub.enabled:
        return '<span class="badge ok">推送中</span>'
    if system_disabled(sub):
        return '<span class="badge bad">已被系统停用</span>'
    return '<span class="badge paused">已暂停</span>'


def filters_summary(filters: Filters) -> Html:
    parts = []
    places = [*filters.provinces, *filters.cities, *filters.counties]
    parts.append("地区：" + ("、".join(places) if places else "全国"))
    if filters.types:
        parts.append("类型：" + "、".join(TYPE_LABELS[t] for t in filters.types))
    if filters.specialties:
        parts.append("专科：" + "、".join(filters.specialties))
    if filters.institutions:
        parts.append("机构：" + "、".join(filters.institutions))
    if filters.min_confidence:
        parts.append(f"置信度 ≥ {filters.min_confidence:g}")
    return "<br>".join(e(p) for p in parts)


def disabled_banner(sub: SubscriptionPublic, *, tested: bool, csrf: str) -> Html:
    link = f'<a href="/portal/subscriptions/{e(sub.id)}">{e(sub.name)}</a>'
    if tested:
        action = (
            f'<form method="post" action="/portal/subscriptions/{e(sub.id)}/reenable" '
            f'class="inline"><input type="hidden" name="csrf" value="{e(csrf)}">'
            '<button type="submit" id="reenable">一键恢复推送</button></form>'
            '<span class="muted">测试消息已送达，接收地址已恢复正常。</span>'
        )
    else:
        action = (
            '<button type="button" disabled id="reenable">一键恢复推送</button>'
            '<span class="muted">请先修复接收地址并发送测试消息；测试送达后即可恢复。</span>'
        )
    return (
        '<div class="banner" role="alert">'
        f"<p><b>订阅「{link}」的接收地址已被系统停用</b>，停用期间不再推送新消息。</p>"
        f'<p>原因：<code class="reason">{e(sub.disabled_reason)}</code></p>'
        f'<p class="banner-actions">{action}</p></div>'
    )


def subscription_rows(items: Iterable[SubscriptionPublic]) -> Html:
    rows = [
        "<tr>"
        f'<td><a href="/portal/subscriptions/{e(s.id)}">{e(s.name)}</a></td>'
        f"<td>{e(CHANNELS[s.channel])}</td>"
        f'<td class="target">{e(s.url)}</td>'
        f"<td>{filters_summary(s.filters)}</td>"
        f"<td>{status_badge(s)}</td>"
        f'<td class="nowrap">{when(s.updated_at)}</td>'
        "</tr>"
        for s in items
    ]
    return "".join(rows) or (
        '<tr><td colspan="6" class="muted">还没有订阅。点击「新建订阅」开始接收医联体动态。</td></tr>'
    )


def listing(items: list[SubscriptionPublic], banners: Html) -> Html:
    return _template("list.html").substitute(
        banners=banners, count=str(len(items)), rows=subscription_rows(items)
    )


def _button(
    action: str, label: str, csrf: str, *, ident: str, danger: bool = False, confirm: str = ""
) -> Html:
    cls = ' class="danger"' if danger else ""
    ask = f' data-confirm="{e(confirm)}"' if confirm else ""
    return (
        f'<form method="post" action="{e(action)}" class="inline"{ask}>'
        f'<input type="hidden" name="csrf" value="{e(csrf)}">'
        f'<button type="submit" id="{e(ident)}"{cls}>{e(label)}</button></form>'
    )


def delivery_rows(items: list[DeliveryPublic], csrf: str) -> Html:
    rows = []
    for d in items:
        can_redeliver = d.status in (DeliveryStatus.delivered, DeliveryStatus.failed)
        action = (
            _button(
                f"/portal/deliveries/{d.id}/redeliver", "重新投递", csrf, ident=f"redeliver-{d.id}"
            )
            if can_redeliver
            else '<span class="muted">—</span>'
        )
        rows.append(
            f'<tr data-delivery="{e(d.id)}" data-status="{e(d.status.value)}">'
            f'<td class="nowrap">{when(d.created_at)}</td>'
            f"<td>{e(ALERT_TYPES.get(d.type, d.type.value))}</td>"
            f'<td><span class="status {e(d.status.value)}">{e(STATUSES[d.status])}</span></td>'
            f'<td class="num">{d.attempts}</td>'
            f'<td class="num">{e(d.last_status_code) if d.last_status_code else "—"}</td>'
            f'<td class="nowrap">{when(d.next_attempt_at) if d.status == DeliveryStatus.pending else "—"}</td>'  # noqa: E501
            f'<td class="error-text">{e(d.last_error) if d.last_error else "—"}</td>'
            f"<td>{action}</td></tr>"
        )
    return "".join(rows) or '<tr><td colspan="8" class="muted">暂无投递记录。</td></tr>'


def detail(
    sub: SubscriptionPublic,
    deliveries: list[DeliveryPublic],
    *,
    csrf: str,
    tested: bool,
    next_cursor: str | None,
) -> Html:
    base = f"/portal/subscriptions/{sub.id}"
    actions = [f'<a class="button" href="{e(base)}/edit" id="edit">编辑</a>']
    actions.append(_button(f"{base}/test", "发送测试消息", csrf, ident="send-test"))
    if sub.enabled:
        actions.append(_button(f"{base}/pause", "暂停推送", csrf, ident="pause"))
    elif not system_disabled(sub):
        actions.append(_button(f"{base}/reenable", "恢复推送", csrf, ident="resume"))
    if sub.channel is Channel.webhook:
        actions.append(_button(f"{base}/rotate-secret", "更换签名密钥", csrf, ident="rotate"))
    actions.append(
        _button(
            f"{base}/delete",
            "删除订阅",
            csrf,
            ident="delete",
            danger=True,
            confirm="确定删除此订阅？删除后不再推送，且无法恢复。",
        )
    )
    facts = [
        ("接收方式", e(CHANNELS[sub.channel])),
        ("接收地址", f'<code class="target">{e(sub.url)}</code>'),
        ("筛选条件", filters_summary(sub.filters)),
        ("创建时间", when(sub.created_at)),
        ("更新时间", when(sub.updated_at)),
        ("订阅编号", f"<code>{e(sub.id)}</code>"),
    ]
    if sub.previous_secret_until is not None:
        facts.append(("旧密钥签名至", when(sub.previous_secret_until)))
    banner = ""
    if system_disabled(sub):
        banner = disabled_banner(sub, tested=tested, csrf=csrf)
    elif not sub.enabled:
        banner = '<div class="banner info">此订阅已暂停推送，可随时点击「恢复推送」。</div>'
    more = ""
    if next_cursor:
        more = f'<p class="pager"><a href="{e(base)}?cursor={e(next_cursor)}">更早的记录 →</a></p>'
    return _template("detail.html").substitute(
        banner=banner,
        name=e(sub.name),
        status_badge=status_badge(sub),
        actions="".join(actions),
        facts="".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts),
        id=e(sub.id),
        rows=delivery_rows(deliveries, csrf),
        more=more,
    )


def secret_shown(sub: SubscriptionPublic, secret: str, *, rotated: bool) -> Html:
    heading = "签名密钥已更换" if rotated else f"订阅「{sub.name}」已创建"
    return _template("secret.html").substitute(heading=e(heading), secret=e(secret), id=e(sub.id))
