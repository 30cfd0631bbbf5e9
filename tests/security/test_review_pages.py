"""The analysts' review pages (/review/) on the running registry, every route of them:
without a session each page sends to the sign-in page (the panel answers 204, nothing to
show); a post without the session's CSRF token, with another analyst's, or from another
origin is a 403; a revoked analyst's session opens nothing. A route with a path parameter
this matrix does not know fails it, so a new route is tried the day it appears."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi.routing import APIRoute

from services.registry.entrypoints.api import review_pages
from tests.security.tally import Tally
from tools.harness import OPERATOR_TOKEN, Stack

PARAMETER = re.compile(r"{(\w+)}")
#: Checked before the route looks the alliance up: any id does.
IDS = {"alliance_id": "a0123456789abcdef"}
PUBLIC = {("GET", "/review/login"), ("POST", "/review/login")}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def analyst(base: str, name: str) -> dict[str, str]:
    answer = httpx.post(
        base + "/v1/analysts",
        json={"name": name},
        headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    found: dict[str, str] = answer.json()
    return found


def signed_in(base: str, key: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=30)
    login = client.get("/review/login")
    token = CSRF.search(login.text)
    assert token, login.text
    answer = client.post("/review/login", data={"csrf": token.group(1), "api_key": key})
    assert answer.status_code == 303, answer.text
    queue = client.get("/review/")
    csrf = CSRF.search(queue.text)
    assert csrf, queue.text
    return client, csrf.group(1)


def test_the_review_pages_need_a_session_and_refuse_forged_posts(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("security/review-pages")
    base = stack["registry"].url
    first, second = analyst(base, "甲分析"), analyst(base, "乙分析")
    a, a_csrf = signed_in(base, first["api_key"])
    b, b_csrf = signed_in(base, second["api_key"])
    anonymous = httpx.Client(base_url=base, timeout=30)
    try:
        for route in review_pages.router.routes:
            assert isinstance(route, APIRoute)
            unknown = set(PARAMETER.findall(route.path)) - set(IDS)
            for method in sorted(route.methods):
                name = f"{method} {route.path}"
                if unknown:
                    tally.check(name, f"unknown parameters {unknown}")
                    continue
                if (method, route.path) in PUBLIC:
                    continue
                path = PARAMETER.sub(lambda m: IDS[m.group(1)], route.path)
                answer = anonymous.request(method, path, data={"csrf": a_csrf})
                if route.path.endswith("/panel"):
                    problem = (
                        None if answer.status_code == 204 else f"answered {answer.status_code}"
                    )
                else:
                    problem = (
                        None
                        if answer.status_code == 303
                        and answer.headers["location"].startswith("/review/login")
                        else f"answered {answer.status_code}"
                    )
                tally.check(f"{name} without a session", problem)
                if method != "POST":
                    continue
                for what, data, headers in [
                    ("no CSRF token", {"action": "confirm"}, {}),
                    ("another analyst's token", {"action": "confirm", "csrf": b_csrf}, {}),
                    (
                        "another origin",
                        {"action": "confirm", "csrf": a_csrf},
                        {"Origin": "https://evil.example"},
                    ),
                ]:
                    answer = a.post(path, data=data, headers=headers)
                    problem = (
                        None if answer.status_code == 403 else f"answered {answer.status_code}"
                    )
                    tally.check(f"{name} with {what}", problem)
        tally.check(
            "A still signed in", None if a.get("/review/").status_code == 200 else "signed out"
        )
        revoked = httpx.delete(
            base + f"/v1/analysts/{second['id']}",
            headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"},
            timeout=30,
        )
        assert revoked.status_code == 204
        answer = b.get("/review/")
        tally.check(
            "a revoked analyst's session",
            None if answer.status_code == 303 else f"answered {answer.status_code}",
        )
        answer = b.post(
            "/review/logout", data={"csrf": b_csrf}, headers={"Accept": "application/json"}
        )
        tally.check(
            "a revoked analyst's post",
            None if answer.status_code == 401 else f"answered {answer.status_code}",
        )
    finally:
        anonymous.close()
        a.close()
        b.close()
    tally.report(capsys)
