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
from urllib.parse import parse_qs, urlsplit

from fastapi import Request
from fastapi.responses import Response

#: A form is small: a name, a target, and a few hundred place names at most.
MAX_FORM_BYTES = 256 * 1024
#: Longer than any token ``new_token`` makes: anything longer is not looked up.
MAX_TOKEN_CHARS = 256

#: A posted form, every field as a list (some fields repeat).
Form = dict[str, list[str]]


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
