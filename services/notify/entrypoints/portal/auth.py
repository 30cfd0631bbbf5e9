"""Signing in to the portal: an API key exchanged for a session cookie (HttpOnly,
SameSite=Strict, Secure over https), a CSRF token in every form, signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from services.common.web_sessions import (
    Form,
    SessionCookies,
    SignInRequired,
    login_token,
    one,
    read_form,
)
from services.notify.config import NotifySettings
from services.notify.entrypoints.portal import views
from services.notify.portal import BureauPortal, PortalSession, WrongKey

PATH = "/portal"


def get_portal(request: Request) -> BureauPortal:
    portal: BureauPortal = request.app.state.portal
    return portal


Portal = Annotated[BureauPortal, Depends(get_portal)]


def _settings(request: Request) -> NotifySettings:
    settings: NotifySettings = request.app.state.settings
    return settings


COOKIES = SessionCookies(
    session="aw_portal",
    #: The sign-in form's own CSRF token (double submit): there is no session yet.
    login="aw_portal_login",
    path=PATH,
    always_secure=lambda request: _settings(request).portal_secure_cookies,
)


async def current_session(request: Request, portal: Portal) -> PortalSession:
    token = COOKIES.token(request)
    found = await portal.session(token) if token else None
    if found is None:
        raise SignInRequired(expired=bool(token))
    return found


Session = Annotated[PortalSession, Depends(current_session)]


async def checked_form(request: Request, session: Session) -> Form:
    """The posted form, once its CSRF token is the session's."""
    form = await read_form(request)
    COOKIES.check_form(request, one(form, "csrf"), session.csrf)
    return form


CheckedForm = Annotated[Form, Depends(checked_form)]

router = APIRouter(prefix=PATH, include_in_schema=False)


def _login_page(
    request: Request, *, error: str | None = None, notice: str | None = None, status: int = 200
) -> HTMLResponse:
    token = login_token()
    hours = _settings(request).portal_session_hours
    answer = views.page(
        "登录",
        views.login(token, hours, error=error),
        notice=notice,
        status_code=status,
        name="login",
    )
    COOKIES.offer_login_form(request, answer, token)
    return answer


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, portal: Portal, msg: str | None = None) -> Response:
    token = COOKIES.token(request)
    if token and await portal.session(token) is not None:
        return RedirectResponse("/portal/", status_code=303)
    return _login_page(request, notice=msg)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, portal: Portal) -> Response:
    form = await read_form(request)
    COOKIES.check_login_form(request, one(form, "csrf"))
    try:
        signed = await portal.sign_in(one(form, "api_key"))
    except WrongKey:
        return _login_page(
            request, error="API 密钥不正确或已被吊销，请核对后重新输入。", status=401
        )
    answer = RedirectResponse("/portal/", status_code=303)
    COOKIES.start(request, answer, signed.token, int(portal.lifetime.total_seconds()))
    return answer


@router.post("/logout")
async def logout(request: Request, portal: Portal, form: CheckedForm) -> Response:
    await portal.sign_out(COOKIES.token(request))
    answer = RedirectResponse("/portal/login?msg=signed_out", status_code=303)
    COOKIES.end(request, answer)
    return answer
