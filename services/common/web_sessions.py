"""Browser sessions of the services' web pages (notify's bureau portal, the registry's
analyst review): what both need, written once.

A session is a random token in a cookie (HttpOnly, SameSite=Strict, Secure over https,
limited to the pages' path); the server keeps only the token's SHA-256, so a copy of the
database opens no session. Every form carries a CSRF token derived from the session's
token (nothing more is stored, and no page of another session can know it); the sign-in
form, before there is a session, carries a random one that must equal a cookie the
sign-in page set (double submit). A request whose ``Origin`` is another site is refused
whatever it carries. A refusal is a ``CsrfRefused`` whose text says why, in Chinese,
which each service shows on its own 403 page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

#: A form is small: a name, a target, and a few hundred place names at most.
MAX_FORM_BYTES = 256 * 1024
#: Longer than any token ``new_token`` makes: anything longer is not looked up.
MAX_TOKEN_CHARS = 256

#: A posted form, every field as a list (some fields repeat).
Form = dict[str, list[str]]


class SignInRequired(Exception):
    """No live session: a page sends the browser to the sign-in page, a script gets 401."""

    def __init__(self, expired: bool) -> None:
        self.expired = expired


class CsrfRefused(Exception):
    """A state-changing request without the right CSRF token, or from another site: 403,
    with the reason (the exception's text)."""


class FormTooLarge(Exception):
    """A posted form over ``MAX_FORM_BYTES``: 413."""


def new_token() -> str:
    """A fresh session token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def login_token() -> str:
    """A fresh CSRF token for a sign-in form (see ``SessionCookies.offer_login_form``)."""
    return secrets.token_urlsafe(24)


def plausible_token(token: str | None) -> bool:
    """Whether a presented token is worth looking up at all."""
    return bool(token) and len(token or "") <= MAX_TOKEN_CHARS


def csrf_of(token: str, purpose: bytes) -> str:
    """The CSRF token of a session: an HMAC of ``purpose`` keyed by the session's secret
    token, so nothing more is stored, and no page of another session can know it. Each
    service names its own purpose, so one's forms are no good at the other's."""
    mac = hmac.new(token.encode("utf-8"), purpose, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


async def read_form(request: Request, max_bytes: int = MAX_FORM_BYTES) -> Form:
    """The url-encoded body, every field as a list."""
    body = await request.body()
    if len(body) > max_bytes:
        raise FormTooLarge
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def one(form: Form, name: str) -> str:
    """A field's first value, stripped; "" when absent."""
    values = form.get(name) or [""]
    return values[0].strip()


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, as a browser names it in ``Origin``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def check_origin(request: Request, trusted: Collection[str] = ()) -> None:
    """A browser names the page a request was sent from (``Origin``): it must be this
    site, as the request reached the service, or one of the ``trusted`` origins (the
    address it is published at, behind a proxy). Without the header (an older browser)
    the CSRF token alone decides."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    expected = f"{request.url.scheme}://{request.url.netloc}"
    if origin != expected and origin not in trusted:
        raise CsrfRefused(f"请求来源 {origin} 不是本站（{expected}）")


def check_csrf(
    request: Request, presented: str, expected: str, trusted: Collection[str] = ()
) -> None:
    """The Origin, then the CSRF token presented (a form field or a header) against the
    session's, compared in constant time."""
    check_origin(request, trusted)
    if not presented:
        raise CsrfRefused("表单缺少安全校验码（CSRF token）")
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise CsrfRefused("表单的安全校验码（CSRF token）与当前登录不符，页面可能已过期")


@dataclass(frozen=True)
class SessionCookies:
    """The cookies of one service's pages: the session's, and the sign-in form's own
    CSRF cookie, both sent only to ``path`` and below."""

    session: str
    login: str
    path: str
    #: Whether to mark them Secure even on a plain-http request (a TLS-terminating proxy
    #: in front); a request over https always gets Secure cookies.
    always_secure: Callable[[Request], bool] = lambda request: False
    #: Origins besides the request's own that the pages' posts may come from.
    trusted_origins: Callable[[Request], Collection[str]] = lambda request: ()

    def secure(self, request: Request) -> bool:
        return request.url.scheme == "https" or self.always_secure(request)

    def set(self, request: Request, response: Response, name: str, value: str, age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=age,
            path=self.path,
            httponly=True,
            samesite="strict",
            secure=self.secure(request),
        )

    def clear(self, request: Request, response: Response, name: str) -> None:
        response.delete_cookie(
            name, path=self.path, httponly=True, samesite="strict", secure=self.secure(request)
        )

    def token(self, request: Request) -> str:
        """The session token the browser presented, "" when none."""
        return request.cookies.get(self.session, "")

    def start(self, request: Request, response: Response, token: str, age: int) -> None:
        """Signed in: the session's cookie set, the sign-in form's cookie gone."""
        self.set(request, response, self.session, token, age)
        self.clear(request, response, self.login)

    def end(self, request: Request, response: Response) -> None:
        self.clear(request, response, self.session)

    def offer_login_form(self, request: Request, response: Response, token: str) -> None:
        """The sign-in page ``response`` carries a form with ``token`` (``login_token()``),
        which its post must present again: set as the sign-in cookie too (an hour)."""
        self.set(request, response, self.login, token, 3600)

    def check_login_form(self, request: Request, presented: str) -> None:
        """The sign-in form's post: from this site, with the token its page set."""
        trusted = self.trusted_origins(request)
        check_origin(request, trusted)
        expected = request.cookies.get(self.login, "")
        if not expected:
            raise CsrfRefused("登录页面已过期或浏览器未保存 Cookie，请刷新登录页后重试")
        check_csrf(request, presented, expected, trusted)

    def check_form(self, request: Request, presented: str, expected: str) -> None:
        """A signed-in page's post: from this site (or a trusted origin), with the
        session's CSRF token."""
        check_csrf(request, presented, expected, self.trusted_origins(request))


#: Headers of every page that carries a session's forms: nothing loaded from elsewhere,
#: never in a frame, never cached.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class MessagePage(Protocol):
    """A site's page that tells the reader something went wrong, and why."""

    def __call__(
        self, title: str, text: str, *, status_code: int, detail: str | None = None
    ) -> Response: ...


def install_session_answers(
    app: FastAPI,
    cookies: SessionCookies,
    *,
    login_path: str,
    message: MessagePage,
    wants_json: Callable[[Request], bool] = lambda request: False,
) -> None:
    """How a site with sessions answers a missing or expired session (to the sign-in page,
    or 401 for a script), a refused post (403 with the reason) and a form too large (413)."""

    def sign_in(request: Request, exc: Exception) -> Response:
        expired = isinstance(exc, SignInRequired) and exc.expired
        answer: Response
        if wants_json(request):
            answer = JSONResponse(
                {"detail": "登录已过期或已退出，请重新登录。", "login": login_path},
                status_code=401,
            )
        else:
            target = f"{login_path}?msg=expired" if expired else login_path
            answer = RedirectResponse(target, status_code=303)
        if expired:
            cookies.end(request, answer)
        return answer

    def refused(request: Request, exc: Exception) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": f"请求被拒绝：{exc}"}, status_code=403)
        return message(
            "请求被拒绝",
            "出于安全原因，本次操作未执行。请返回上一页，刷新后重试。",
            status_code=403,
            detail=f"原因：{exc}",
        )

    def too_large(request: Request, exc: Exception) -> Response:
        return message("内容过多", "提交的内容超过了允许的大小。", status_code=413)

    app.add_exception_handler(SignInRequired, sign_in)
    app.add_exception_handler(CsrfRefused, refused)
    app.add_exception_handler(FormTooLarge, too_large)
