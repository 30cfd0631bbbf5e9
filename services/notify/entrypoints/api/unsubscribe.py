"""One-click unsubscribe (RFC 8058): the link of every e-mail to a subscription.

``GET /v1/unsubscribe?token=…`` shows a small confirmation page (a mail client's link
preview must not unsubscribe anyone); ``POST`` (the page's button, or the mail client's
one-click ``List-Unsubscribe=One-Click``) pauses the subscription: enabled=false,
disabled_reason "unsubscribed". The bureau can enable it again through the API.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from services.notify.domain.unsubscribe import BadToken, verify
from services.notify.entrypoints.api.deps import components_of

router = APIRouter(prefix="/v1/unsubscribe", tags=["unsubscribe"])

UNSUBSCRIBED = "unsubscribed"
Token = Annotated[str, Query(min_length=1, max_length=200)]
_BAD_TOKEN: dict[int | str, dict[str, object]] = {
    400: {
        "description": "the token is malformed or altered; the page says why",
        "content": {"text/html": {}},
    }
}


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    html = (
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        '<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto">'
        f"<h1>{escape(title)}</h1>{body}"
        "<p style='color:#666'>医联体动态监测（Alliance Watch）</p></body></html>"
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _subscription_id(request: Request, token: str) -> str:
    return verify(components_of(request).settings.unsubscribe_key, token)


@router.get("", response_class=HTMLResponse, responses=_BAD_TOKEN)
async def confirm(request: Request, token: Token) -> HTMLResponse:
    """A confirmation page with one button; nothing changes until it is pressed."""
    _subscription_id(request, token)
    form = (
        "<p>确认后，此订阅将暂停，不再向您发送医联体动态邮件。贵单位可随时重新启用。</p>"
        f'<form method="post" action="?token={escape(token, quote=True)}">'
        '<button type="submit">确认退订</button></form>'
    )
    return _page("退订医联体动态邮件", form)


@router.post("", response_class=HTMLResponse, responses=_BAD_TOKEN)
async def unsubscribe(request: Request, token: Token) -> HTMLResponse:
    """One-click: pauses the subscription the token names, and answers 200."""
    subscription_id = _subscription_id(request, token)
    parts = components_of(request)
    found = await parts.repository.pause_subscription(
        subscription_id, UNSUBSCRIBED, parts.clock.now()
    )
    if not found:
        return _page("订阅不存在", "<p>此订阅已被删除。</p>")
    return _page("已退订", "<p>此订阅已暂停，您将不再收到相关邮件。</p>")


def bad_token_page(request: Request, exc: Exception) -> HTMLResponse:
    reason = str(exc) if isinstance(exc, BadToken) else "bad token"
    return _page("退订链接无效", f"<p>{escape(reason)}</p>", status_code=400)
