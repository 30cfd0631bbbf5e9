"""The portal's pages about subscriptions and their delivery logs. Each route is thin: it
calls NotifyService (or BureauPortal) with the signed-in bureau's id, which is how every
query is confined to the bureau's own rows; another bureau's id answers 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from services.common.places import region_tree
from services.notify.domain.models import (
    Channel,
    SecretRotation,
    SubscriptionCreate,
    SubscriptionUpdate,
)
from services.notify.entrypoints.api.deps import Service
from services.notify.entrypoints.portal import views
from services.notify.entrypoints.portal.auth import CheckedForm, Portal, Session
from services.notify.entrypoints.portal.forms import (
    FormValues,
    channel_of,
    errors_of,
    filters_model,
    one,
    render_form,
)
from services.notify.portal import system_disabled
from services.notify.service import Conflict, Invalid

router = APIRouter(prefix="/portal", include_in_schema=False)


def to(path: str, notice: str | None = None) -> RedirectResponse:
    return RedirectResponse(f"{path}?msg={notice}" if notice else path, status_code=303)


def _url_refused(exc: Invalid) -> list[str]:
    text = str(exc)
    if text.startswith("url:"):
        return [f"接收地址：该地址不予投递（内网、本机或无法解析的地址）。详情：{text[4:].strip()}"]
    return [f"请求未被接受：{text}"]


@router.get("/", response_class=HTMLResponse)
async def home(
    session: Session, service: Service, portal: Portal, msg: str | None = None
) -> Response:
    items = await service.list_subscriptions(session.bureau_id)
    banners = []
    for sub in items:
        if system_disabled(sub):
            tested = await portal.tested_since_disabled(session.bureau_id, sub.id)
            banners.append(views.disabled_banner(sub, tested=tested, csrf=session.csrf))
    body = views.listing(items, "".join(banners))
    return views.page("我的订阅", body, session=session, notice=msg, name="list")


@router.get("/regions.json")
async def regions() -> JSONResponse:
    """Provinces, cities and counties for the picker, from the gazetteer."""
    return JSONResponse(list(region_tree()), headers={"Cache-Control": "max-age=86400"})


@router.get("/subscriptions/new", response_class=HTMLResponse)
async def new_subscription(session: Session) -> Response:
    values = FormValues(channel=Channel.webhook)
    body = render_form(
        values,
        action="/portal/subscriptions",
        cancel="/portal/",
        csrf=session.csrf,
        errors=[],
        creating=True,
    )
    return views.page("新建订阅", body, session=session, name="form")


def _form_again(
    session: Session, values: FormValues, errors: list[str], *, action: str, creating: bool
) -> Response:
    body = render_form(
        values,
        action=action,
        cancel="/portal/" if creating else action,
        csrf=session.csrf,
        errors=errors,
        creating=creating,
    )
    title = "新建订阅" if creating else "编辑订阅"
    return views.page(title, body, session=session, status_code=422, name="form")


@router.post("/subscriptions", response_class=HTMLResponse)
async def create_subscription(form: CheckedForm, session: Session, service: Service) -> Response:
    channel = channel_of(form)
    values = FormValues.posted(form, channel)
    action = "/portal/subscriptions"
    try:
        request = SubscriptionCreate.model_validate(
            {
                "name": one(form, "name"),
                "channel": one(form, "channel"),
                "url": one(form, "url"),
                "secret": one(form, "secret") or None,
                "filters": filters_model(form),
            }
        )
        created = await service.create_subscription(session.bureau_id, request)
    except ValidationError as exc:
        return _form_again(session, values, errors_of(exc), action=action, creating=True)
    except Invalid as exc:
        return _form_again(session, values, _url_refused(exc), action=action, creating=True)
    if created.secret and created.channel is Channel.webhook:
        body = views.secret_shown(created, created.secret, rotated=False)
        return views.page("订阅已创建", body, session=session, notice="created", name="secret")
    return to(f"/portal/subscriptions/{created.id}", "created")


@router.get("/subscriptions/{subscription_id}", response_class=HTMLResponse)
async def subscription_page(
    subscription_id: str,
    session: Session,
    service: Service,
    portal: Portal,
    msg: str | None = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    sub = await service.get_subscription(session.bureau_id, subscription_id)
    items, next_cursor = await service.list_deliveries(
        session.bureau_id, subscription_id=sub.id, status=None, cursor=cursor, limit=50
    )
    tested = system_disabled(sub) and await portal.tested_since_disabled(session.bureau_id, sub.id)
    body = views.detail(sub, items, csrf=session.csrf, tested=tested, next_cursor=next_cursor)
    return views.page(sub.name, body, session=session, notice=msg, name="detail")


@router.get("/subscriptions/{subscription_id}/edit", response_class=HTMLResponse)
async def edit_subscription(subscription_id: str, session: Session, service: Service) -> Response:
    sub = await service.get_subscription(session.bureau_id, subscription_id)
    action = f"/portal/subscriptions/{sub.id}"
    body = render_form(
        FormValues.of(sub),
        action=action,
        cancel=action,
        csrf=session.csrf,
        errors=[],
        creating=False,
    )
    return views.page("编辑订阅", body, session=session, name="form")


@router.post("/subscriptions/{subscription_id}", response_class=HTMLResponse)
async def update_subscription(
    subscription_id: str, form: CheckedForm, session: Session, service: Service
) -> Response:
    sub = await service.get_subscription(session.bureau_id, subscription_id)
    values = FormValues.posted(form, sub.channel)
    action = f"/portal/subscriptions/{sub.id}"
    try:
        fields: dict[str, object] = {
            "name": one(form, "name"),
            "url": one(form, "url"),
            "filters": filters_model(form),
        }
        if one(form, "secret"):
            fields["secret"] = one(form, "secret")
        request = SubscriptionUpdate.model_validate(fields)
        await service.update_subscription(session.bureau_id, sub.id, request)
    except ValidationError as exc:
        return _form_again(session, values, errors_of(exc), action=action, creating=False)
    except Invalid as exc:
        return _form_again(session, values, _url_refused(exc), action=action, creating=False)
    return to(action, "saved")


@router.post("/subscriptions/{subscription_id}/test")
async def send_test(
    subscription_id: str, form: CheckedForm, session: Session, service: Service
) -> Response:
    await service.send_test(session.bureau_id, subscription_id)
    return to(f"/portal/subscriptions/{subscription_id}", "test")


@router.post("/subscriptions/{subscription_id}/pause")
async def pause(
    subscription_id: str, form: CheckedForm, session: Session, service: Service
) -> Response:
    await service.update_subscription(
        session.bureau_id, subscription_id, SubscriptionUpdate(enabled=False)
    )
    return to(f"/portal/subscriptions/{subscription_id}", "paused")


@router.post("/subscriptions/{subscription_id}/reenable")
async def reenable(
    subscription_id: str, form: CheckedForm, session: Session, portal: Portal
) -> Response:
    """Resume a paused subscription, or re-enable one notify disabled once a test got through."""
    try:
        await portal.reenable(session.bureau_id, subscription_id)
    except Conflict:
        return to(f"/portal/subscriptions/{subscription_id}", "not_tested")
    return to(f"/portal/subscriptions/{subscription_id}", "resumed")


@router.post("/subscriptions/{subscription_id}/rotate-secret", response_class=HTMLResponse)
async def rotate_secret(
    subscription_id: str, form: CheckedForm, session: Session, service: Service
) -> Response:
    rotated = await service.rotate_secret(session.bureau_id, subscription_id, SecretRotation())
    body = views.secret_shown(rotated, rotated.secret or "", rotated=True)
    return views.page("签名密钥已更换", body, session=session, name="secret")


@router.post("/subscriptions/{subscription_id}/delete")
async def delete(
    subscription_id: str, form: CheckedForm, session: Session, service: Service
) -> Response:
    await service.delete_subscription(session.bureau_id, subscription_id)
    return to("/portal/", "deleted")


@router.post("/deliveries/{delivery_id}/redeliver")
async def redeliver(
    delivery_id: str, form: CheckedForm, session: Session, service: Service
) -> Response:
    detail = await service.get_delivery(session.bureau_id, delivery_id)
    back = f"/portal/subscriptions/{detail.subscription_id}"
    try:
        await service.redeliver(session.bureau_id, delivery_id)
    except Conflict as exc:
        return to(back, "busy" if "being sent" in str(exc) else "disabled")
    return to(back, "redelivered")
