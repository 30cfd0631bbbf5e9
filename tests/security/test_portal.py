"""The bureau portal (/portal/) on the running notify, every route of it: without a
session each sends to the sign-in page; a bureau's session on another bureau's
subscription or delivery answers 404 with no word of it; a post without the session's CSRF
token, with another one, or from another origin is a 403 that changes nothing. A route
with a path parameter this matrix does not know fails it, so a new route is tried the day
it appears."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import httpx
import pytest
from fastapi.routing import APIRoute

from services.notify.entrypoints.portal import auth, routes
from tests.security.bureaus import bearer, new_bureau
from tests.security.tally import Tally
from tools.harness import Stack, WebhookReceiver

PARAMETER = re.compile(r"{(\w+)}")
KNOWN = {"subscription_id", "delivery_id"}
#: Routes anyone may open: the sign-in page, and the gazetteer's public place names.
PUBLIC = {("GET", "/portal/login"), ("POST", "/portal/login"), ("GET", "/portal/regions.json")}


@dataclass
class Tenant:
    name: str
    key: str
    client: httpx.Client
    csrf: str
    ids: dict[str, str]
    private: list[str]


def portal_routes() -> list[tuple[str, str]]:
    found = []
    for router in (auth.router, routes.router):
        for route in router.routes:
            if isinstance(route, APIRoute):
                found.extend((method, route.path) for method in sorted(route.methods))
    return found


def signed_in(base: str, key: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=30)
    login = client.get("/portal/login")
    token = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert token, login.text
    answer = client.post("/portal/login", data={"csrf": token.group(1), "api_key": key})
    assert answer.status_code == 303, answer.text
    home = client.get("/portal/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert csrf, home.text
    return client, csrf.group(1)


def tenant(stack: Stack, receiver: WebhookReceiver, name: str) -> Tenant:
    base = stack["notify"].url
    with httpx.Client(timeout=30) as api:
        bureau = new_bureau(api, base, name)
        auth_header = bearer(bureau["api_key"])
        sub = api.post(
            base + "/v1/subscriptions",
            json={"name": f"{name}的系统", "channel": "webhook", "url": receiver.url(name)},
            headers=auth_header,
        ).json()
        receiver.secrets[name] = sub["secret"]
        queued = api.post(base + f"/v1/subscriptions/{sub['id']}/test", headers=auth_header)
        assert queued.status_code == 202, queued.text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = api.get(
                base + f"/v1/deliveries/{queued.json()['delivery_id']}", headers=auth_header
            )
            if got.json()["status"] == "delivered":
                break
            time.sleep(0.2)
    client, csrf = signed_in(base, bureau["api_key"])
    ids = {"subscription_id": sub["id"], "delivery_id": queued.json()["delivery_id"]}
    private = [sub["id"], f"{name}的系统", receiver.url(name), sub["secret"]]
    return Tenant(name, bureau["api_key"], client, csrf, ids, private)


def path_for(template: str, ids: dict[str, str]) -> str:
    return PARAMETER.sub(lambda m: ids[m.group(1)], template)


def test_the_portal_keeps_bureaus_apart_and_refuses_forged_posts(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally("security/portal")
    base = stack["notify"].url
    with WebhookReceiver() as receiver:
        a = tenant(stack, receiver, f"甲卫健委{time.time_ns()}")
        b = tenant(stack, receiver, f"乙卫健委{time.time_ns()}")
        anonymous = httpx.Client(base_url=base, timeout=30)
        try:
            for method, template in portal_routes():
                unknown = set(PARAMETER.findall(template)) - KNOWN
                if unknown:
                    tally.check(f"{method} {template}", f"unknown parameters {unknown}")
                    continue
                if (method, template) in PUBLIC:
                    continue
                own = path_for(template, a.ids)
                # No session: to the sign-in page, nothing done.
                answer = anonymous.request(method, own, data={"csrf": a.csrf})
                problem = (
                    None
                    if answer.status_code == 303
                    and answer.headers["location"].startswith("/portal/login")
                    else f"answered {answer.status_code}"
                )
                tally.check(f"{method} {template} without a session", problem)
                if method == "POST":
                    for what, data, headers in [
                        ("no CSRF token", {}, {}),
                        ("another session's token", {"csrf": b.csrf}, {}),
                        ("another origin", {"csrf": a.csrf}, {"Origin": "https://evil.example"}),
                    ]:
                        answer = a.client.post(own, data=data, headers=headers)
                        problem = (
                            None if answer.status_code == 403 else f"answered {answer.status_code}"
                        )
                        tally.check(f"{method} {template} with {what}", problem)
                if not PARAMETER.search(template):
                    continue
                # B's session on A's resources: 404, and none of A's data.
                theirs = path_for(template, a.ids)
                data = {"csrf": b.csrf, "name": "x", "url": "https://hooks.example.cn/x"}
                answer = b.client.request(method, theirs, data=data if method == "POST" else None)
                problem = None if answer.status_code == 404 else f"answered {answer.status_code}"
                leaked = [p for p in a.private if p in answer.text]
                tally.check(
                    f"{method} {template} on another bureau's",
                    problem or (f"leaked {leaked}" if leaked else None),
                )
            # A's subscription is as it was, and each bureau's list holds its own only.
            home_a, home_b = a.client.get("/portal/").text, b.client.get("/portal/").text
            tally.check(
                "A's subscription intact",
                None if a.private[1] in home_a and "推送中" in home_a else "changed",
            )
            tally.check(
                "B's list", None if not any(p in home_b for p in a.private) else "shows A's"
            )
        finally:
            anonymous.close()
            a.client.close()
            b.client.close()
    tally.report(capsys)
