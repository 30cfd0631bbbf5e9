"""The session primitives the portal and the analysts' review pages share."""

from __future__ import annotations

import hashlib

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.testclient import TestClient

from services.common.values import token_digest
from services.common.web_sessions import (
    CsrfRefused,
    FormTooLarge,
    SessionCookies,
    check_csrf,
    check_origin,
    csrf_of,
    login_token,
    new_token,
    one,
    origin_of,
    plausible_token,
    read_form,
)


def test_tokens_are_random_and_stored_only_as_their_digest() -> None:
    first, second = new_token(), new_token()
    assert first != second and len(first) >= 43
    assert token_digest(first) == hashlib.sha256(first.encode()).hexdigest()
    assert len(token_digest(first)) == 64 and first not in token_digest(first)
    assert plausible_token(first)
    assert not plausible_token("") and not plausible_token(None)
    assert not plausible_token("x" * 257)


def test_a_csrf_token_belongs_to_one_session_and_one_purpose() -> None:
    token = new_token()
    assert csrf_of(token, b"portal-csrf") == csrf_of(token, b"portal-csrf")
    assert csrf_of(token, b"portal-csrf") != csrf_of(token, b"analyst-csrf")
    assert csrf_of(token, b"portal-csrf") != csrf_of(new_token(), b"portal-csrf")
    assert "=" not in csrf_of(token, b"portal-csrf")


COOKIES = SessionCookies(session="s", login="l", path="/area")


def app() -> FastAPI:
    application = FastAPI()

    @application.exception_handler(CsrfRefused)
    async def refused(request: Request, exc: CsrfRefused) -> Response:
        return PlainTextResponse(str(exc), status_code=403)

    @application.get("/area/login")
    async def page(request: Request) -> Response:
        token = login_token()
        answer = PlainTextResponse(token)
        COOKIES.offer_login_form(request, answer, token)
        return answer

    @application.post("/area/login")
    async def post(request: Request) -> Response:
        form = await read_form(request)
        COOKIES.check_login_form(request, one(form, "csrf"))
        answer = PlainTextResponse("in")
        COOKIES.start(request, answer, "session-token", 60)
        return answer

    @application.post("/area/act")
    async def act(request: Request) -> Response:
        form = await read_form(request)
        check_csrf(request, one(form, "csrf"), csrf_of(COOKIES.token(request), b"t"))
        return PlainTextResponse("done")

    return application


def test_cookies_are_strict_http_only_and_limited_to_their_path() -> None:
    with TestClient(app(), base_url="http://site") as client:
        page = client.get("/area/login")
        cookie = page.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/area" in cookie
        assert "secure" not in cookie
        assert client.post("/area/login", data={"csrf": "forged"}).status_code == 403
        signed = client.post("/area/login", data={"csrf": page.text})
        assert signed.status_code == 200
        set_cookies = signed.headers.get_list("set-cookie")
        assert any(c.startswith("s=session-token") for c in set_cookies)
        assert any(c.startswith("l=") and "max-age=0" in c.lower() for c in set_cookies)
    with TestClient(app(), base_url="https://site") as client:
        assert "secure" in client.get("/area/login").headers["set-cookie"].lower()


def test_posts_need_the_token_and_this_origin() -> None:
    with TestClient(app(), base_url="http://site") as client:
        client.cookies.set("s", "session-token", path="/area")
        good = csrf_of("session-token", b"t")
        missing = client.post("/area/act", data={})
        assert missing.status_code == 403 and "缺少" in missing.text
        wrong = client.post("/area/act", data={"csrf": "x" * 43})
        assert wrong.status_code == 403 and "不符" in wrong.text
        elsewhere = client.post(
            "/area/act", data={"csrf": good}, headers={"Origin": "https://evil.example"}
        )
        assert elsewhere.status_code == 403 and "不是本站" in elsewhere.text
        assert client.post("/area/act", data={"csrf": good}).text == "done"
        same = client.post("/area/act", data={"csrf": good}, headers={"Origin": "http://site"})
        assert same.text == "done"
        client.cookies.clear()
        login = client.post("/area/login", data={"csrf": "whatever"})
        assert login.status_code == 403 and "登录页面已过期" in login.text


def posted_from(origin: str) -> Request:
    """A POST that reached http://backend:8002 (behind a proxy), sent from ``origin``."""
    return Request(
        {
            "type": "http",
            "method": "POST",
            "scheme": "http",
            "server": ("backend", 8002),
            "path": "/area/act",
            "headers": [(b"host", b"backend:8002"), (b"origin", origin.encode())],
        }
    )


def test_a_trusted_origin_is_accepted_as_well() -> None:
    assert origin_of("https://watch.example.cn/prefix") == "https://watch.example.cn"
    published = posted_from("https://watch.example.cn")
    check_origin(published, ("https://watch.example.cn",))
    with pytest.raises(CsrfRefused):
        check_origin(published)
    with pytest.raises(CsrfRefused):
        check_origin(posted_from("https://evil.example"), ("https://watch.example.cn",))
    check_origin(posted_from("http://backend:8002"))


def test_a_form_too_large_is_refused() -> None:
    application = app()

    @application.exception_handler(FormTooLarge)
    async def too_large(request: Request, exc: FormTooLarge) -> Response:
        return PlainTextResponse("too large", status_code=413)

    with TestClient(application) as client:
        assert client.post("/area/act", content=b"a" * (256 * 1024 + 1)).status_code == 413
