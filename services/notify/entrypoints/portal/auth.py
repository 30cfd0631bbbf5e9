"""Signing in to the portal: an API key exchanged for a session cookie (HttpOnly,
SameSite=Strict, Secure over https), a CSRF token in every form, signing out."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.notify.config import NotifySettings
from services.notify.entrypoints.portal import views
from services.notify.entrypoints.portal.forms import Form, one, read_form
from services.notify.portal import BureauPortal, PortalSession, WrongKey

SESSION_COOKIE = "aw_portal"
#: The sign-in form's own CSRF token (double submit): there is no session yet.
LOGIN_COOKIE = "aw_portal_login"
PATH = "/portal"


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""

    def __init__(self, expired: bool) -> None:
        self.expired = expired


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token: 403, with the reason."""


def get_portal(request: Request) -> BureauPortal:
    portal: BureauPortal = request.app.state.portal
    return portal


Portal = Annotated[BureauPortal, Depends(get_portal)]


def _settings(request: Request) -> NotifySettings:
    settings: NotifySettings = request.app.state.settings
    return settings


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or _settings(request).portal_secure_cookies


def set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path=PATH, httponly=True, samesite="strict", secure=_secure(request)
    )


async def current_session(request: Request, portal: Portal) -> PortalSession:
    token = request.cookies.get(SESSION_COOKIE, "")
    found = await portal.session(token) if token else None
    if found is None:
        raise SignInRequired(expired=bool(token))
    return found


Session = Annotated[PortalSession, Depends(current_session)]


def check_origin(request: Request) -> None:
    """A browser names the page a form was posted from: it must be this site."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    expected = f"{request.url.scheme}://{request.url.netloc}"
    if origin != expected:
        raise CsrfRefused(f"请求来源 {origin} 不是本站（{expected}）")


def check_csrf(request: Request, form: Form, expected: str) -> None:
    check_origin(request)
    presented = one(form, "csrf")
    if not presented:
        raise CsrfRefused("表单缺少安全校验码（CSRF token）")
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise CsrfRefused("表单的安全校验码（CSRF token）与当前登录不符，页面可能已过期")


async def checked_form(request: Request, session: Session) -> Form:
    """The posted form, once its CSRF token is the session's."""
    form = await read_form(request)
    check_csrf(request, form, session.csrf)
    return form


CheckedForm = Annotated[Form, Depends(checked_form)]

router = APIRouter(prefix=PATH, include_in_schema=False)


def _login_page(
    request: Request, *, error: str | None = None, notice: str | None = None, status: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    hours = _settings(request).portal_session_hours
    answer = views.page(
        "登录",
        views.login(token, hours, error=error),
        notice=notice,
        status_code=status,
        name="login",
    )
    set_cookie(request, answer, LOGIN_COOKIE, token, 3600)
    return answer


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, portal: Portal, msg: str | None = None) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    if token and await portal.session(token) is not None:
        return RedirectResponse("/portal/", status_code=303)
    return _login_page(request, notice=msg)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, portal: Portal) -> Response:
    form = await read_form(request)
    check_origin(request)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected:
        raise CsrfRefused("登录页面已过期或浏览器未保存 Cookie，请刷新登录页后重试")
    check_csrf(request, form, expected)
    try:
        signed = await portal.sign_in(one(form, "api_key"))
    except WrongKey:
        return _login_page(
            request, error="API 密钥不正确或已被吊销，请核对后重新输入。", status=401
        )
    answer = RedirectResponse("/portal/", status_code=303)
    age = int(portal.lifetime.total_seconds())
    set_cookie(request, answer, SESSION_COOKIE, signed.token, age)
    clear_cookie(request, answer, LOGIN_COOKIE)
    return answer


@router.post("/logout")
async def logout(request: Request, portal: Portal, form: CheckedForm) -> Response:
    await portal.sign_out(request.cookies.get(SESSION_COOKIE, ""))
    answer = RedirectResponse("/portal/login?msg=signed_out", status_code=303)
    clear_cookie(request, answer, SESSION_COOKIE)
    return answer
