"""The bureau portal (/portal/): sessions, CSRF, ownership, the SSRF guard, re-enabling."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.unit.notify.conftest import OPERATOR, Api
from tests.unit.notify.factories import change
from tests.unit.notify.receivers import Receiver, Reply

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_in(page: str) -> str:
    found = CSRF.search(page)
    assert found, page
    return found.group(1)


async def new_key(api: Api, name: str) -> str:
    answer = await api.client.post(
        "/v1/bureaus", json={"name": name}, headers={"Authorization": f"Bearer {OPERATOR}"}
    )
    assert answer.status_code == 201
    return str(answer.json()["api_key"])


def browser(api: Api, base_url: str = "http://notify") -> httpx.AsyncClient:
    """A client of its own, with its own cookies, on the same app."""
    return httpx.AsyncClient(transport=api.client._transport, base_url=base_url)


async def sign_in(client: httpx.AsyncClient, key: str) -> tuple[httpx.Response, str]:
    """Sign in; the answer to the form's post and the CSRF token of the session."""
    login = await client.get("/portal/login")
    assert login.status_code == 200
    answer = await client.post("/portal/login", data={"csrf": csrf_in(login.text), "api_key": key})
    if answer.status_code != 303:
        return answer, ""
    home = await client.get("/portal/")
    assert home.status_code == 200, home.text
    return answer, csrf_in(home.text)


async def create(client: httpx.AsyncClient, csrf: str, **fields: Any) -> httpx.Response:
    data = {"csrf": csrf, "name": "省卫健委接收系统", "channel": "webhook", **fields}
    return await client.post("/portal/subscriptions", data=data)


def sub_id_of(page: str) -> str:
    found = re.search(r'href="/portal/subscriptions/(sub_[0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


async def test_signing_in_sets_a_strict_http_only_cookie(api: Api) -> None:
    key = await new_key(api, "四川省卫生健康委员会")
    async with browser(api) as client:
        assert (await client.get("/portal/")).headers["location"] == "/portal/login"
        answer, _ = await sign_in(client, key)
        assert answer.status_code == 303 and answer.headers["location"] == "/portal/"
        cookie = next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith("aw_portal=")
        )
        flags = [part.strip().lower() for part in cookie.split(";")]
        assert "httponly" in flags and "samesite=strict" in flags and "path=/portal" in flags
        assert "max-age=28800" in flags and "secure" not in flags
        home = await client.get("/portal/")
        assert "四川省卫生健康委员会" in home.text and "我的订阅" in home.text
        assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
        # The token is kept hashed: the database holds no cookie value.
        token = client.cookies["aw_portal"]
        rows = await api.parts.repository._run(
            lambda s: s.connection().exec_driver_sql("select id from portal_sessions").all()
        )
        assert len(rows) == 1 and rows[0][0] != token and len(rows[0][0]) == 64
    async with browser(api, "https://notify") as client:
        answer, _ = await sign_in(client, key)
        cookie = next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith("aw_portal=")
        )
        assert "secure" in [part.strip().lower() for part in cookie.split(";")]


async def test_a_wrong_key_is_told_clearly(api: Api) -> None:
    key = await new_key(api, "成都市卫生健康委员会")
    async with browser(api) as client:
        for wrong in ("", "not-a-key", key[:-4] + "AAAA"):
            answer, _ = await sign_in(client, wrong)
            assert answer.status_code == 401
            assert "API 密钥不正确或已被吊销" in answer.text
            assert "aw_portal" not in client.cookies
        assert (await client.get("/portal/")).status_code == 303


async def test_forms_without_the_session_csrf_token_are_refused(api: Api) -> None:
    key = await new_key(api, "成都市卫生健康委员会")
    async with browser(api) as client:
        # The sign-in form has its own token, tied to a cookie of the login page.
        login = await client.get("/portal/login")
        answer = await client.post("/portal/login", data={"csrf": "forged", "api_key": key})
        assert answer.status_code == 403 and "CSRF" in answer.text
        client.cookies.clear()
        answer = await client.post(
            "/portal/login", data={"csrf": csrf_in(login.text), "api_key": key}
        )
        assert answer.status_code == 403 and "登录页面已过期" in answer.text
        _, csrf = await sign_in(client, key)
        created = await create(client, csrf, url="https://hooks.bureau.example/a")
        sub = sub_id_of(created.text)
        missing = await client.post(f"/portal/subscriptions/{sub}/pause", data={})
        assert missing.status_code == 403 and "表单缺少安全校验码" in missing.text
        wrong = await client.post(f"/portal/subscriptions/{sub}/pause", data={"csrf": "x" * 43})
        assert wrong.status_code == 403 and "与当前登录不符" in wrong.text
        elsewhere = await client.post(
            f"/portal/subscriptions/{sub}/pause",
            data={"csrf": csrf},
            headers={"Origin": "https://evil.example"},
        )
        assert elsewhere.status_code == 403 and "不是本站" in elsewhere.text
        # None of them did anything; with the token it works.
        assert "推送中" in (await client.get(f"/portal/subscriptions/{sub}")).text
        paused = await client.post(f"/portal/subscriptions/{sub}/pause", data={"csrf": csrf})
        assert paused.status_code == 303
        assert "已暂停" in (await client.get(f"/portal/subscriptions/{sub}")).text


async def test_a_session_expires(api: Api) -> None:
    key = await new_key(api, "成都市卫生健康委员会")
    async with browser(api) as client:
        await sign_in(client, key)
        api.clock.advance(timedelta(hours=7, minutes=59))
        assert (await client.get("/portal/")).status_code == 200
        api.clock.advance(timedelta(minutes=2))
        answer = await client.get("/portal/")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/portal/login?msg=expired"
        login = await client.get("/portal/login?msg=expired")
        assert "登录已过期" in login.text


async def test_signing_out_ends_the_session_for_good(api: Api) -> None:
    key = await new_key(api, "成都市卫生健康委员会")
    async with browser(api) as client:
        _, csrf = await sign_in(client, key)
        token = client.cookies["aw_portal"]
        out = await client.post("/portal/logout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/portal/login?msg=signed_out"
        assert "aw_portal" not in client.cookies
    # The old cookie, replayed, opens nothing.
    async with browser(api) as replay:
        replay.cookies.set("aw_portal", token, domain="notify", path="/portal")
        assert (await replay.get("/portal/")).status_code == 303


async def test_revoking_the_key_ends_its_sessions(api: Api) -> None:
    key = await new_key(api, "成都市卫生健康委员会")
    auth = {"Authorization": f"Bearer {key}"}
    async with browser(api) as client:
        await sign_in(client, key)
        [listed] = (await api.client.get("/v1/keys", headers=auth)).json()
        await api.client.post("/v1/keys", json={"label": "spare"}, headers=auth)
        assert (
            await api.client.delete(f"/v1/keys/{listed['id']}", headers=auth)
        ).status_code == 200
        assert (await client.get("/portal/")).status_code == 303


async def test_a_bureau_never_reaches_another_bureaus_subscription(
    api: Api, receiver: Receiver
) -> None:
    mine, other = await new_key(api, "四川省卫健委"), await new_key(api, "重庆市卫健委")
    async with browser(api) as owner, browser(api) as intruder:
        _, csrf = await sign_in(owner, mine)
        sub = sub_id_of((await create(owner, csrf, url=receiver.url + "/a")).text)
        await owner.post(f"/portal/subscriptions/{sub}/test", data={"csrf": csrf})
        await api.parts.worker.run_once()
        page = (await owner.get(f"/portal/subscriptions/{sub}")).text
        delivery = re.search(r'data-delivery="(dlv_[0-9a-f]+)"', page)
        assert delivery and "已送达" in page
        _, their_csrf = await sign_in(intruder, other)
        form = {"csrf": their_csrf, "name": "x", "url": receiver.url + "/b"}
        for method, path in [
            ("GET", f"/portal/subscriptions/{sub}"),
            ("GET", f"/portal/subscriptions/{sub}/edit"),
            ("POST", f"/portal/subscriptions/{sub}"),
            ("POST", f"/portal/subscriptions/{sub}/test"),
            ("POST", f"/portal/subscriptions/{sub}/pause"),
            ("POST", f"/portal/subscriptions/{sub}/reenable"),
            ("POST", f"/portal/subscriptions/{sub}/rotate-secret"),
            ("POST", f"/portal/subscriptions/{sub}/delete"),
            ("POST", f"/portal/deliveries/{delivery.group(1)}/redeliver"),
        ]:
            answer = await intruder.request(method, path, data=form if method == "POST" else None)
            assert answer.status_code == 404, (method, path, answer.status_code)
            assert "不属于贵单位" in answer.text
        assert sub not in (await intruder.get("/portal/")).text
        page = (await owner.get(f"/portal/subscriptions/{sub}")).text
        assert "推送中" in page and page.count("data-delivery=") == 1
    assert len(receiver.received) == 1


async def test_targets_entered_in_the_portal_pass_the_ssrf_guard(api: Api) -> None:
    key = await new_key(api, "成都市卫生健康委员会")
    async with browser(api) as client:
        _, csrf = await sign_in(client, key)
        for url in ("http://internal.bureau.example/hook", "http://metadata.bureau.example/"):
            answer = await create(client, csrf, url=url)
            assert answer.status_code == 422 and "不予投递" in answer.text
            assert f'value="{url}"' in answer.text  # the form comes back as it was
        malformed = await create(client, csrf, url="ftp://x")
        assert malformed.status_code == 422 and "http:// 或 https://" in malformed.text
        good = await create(client, csrf, url="https://hooks.bureau.example/a")
        sub = sub_id_of(good.text)
        edit = await client.post(
            f"/portal/subscriptions/{sub}",
            data={"csrf": csrf, "name": "改", "url": "http://internal.bureau.example/x"},
        )
        assert edit.status_code == 422 and "不予投递" in edit.text
        assert "hooks.bureau.example/a" in (await client.get(f"/portal/subscriptions/{sub}")).text
    assert (
        await api.client.get("/v1/subscriptions", headers={"Authorization": f"Bearer {key}"})
    ).json()["items"][0]["url"] == "https://hooks.bureau.example/a"  # noqa: E501


async def test_creating_and_editing_with_filters(api: Api) -> None:
    key = await new_key(api, "四川省卫生健康委员会")
    async with browser(api) as client:
        _, csrf = await sign_in(client, key)
        created = await create(
            client,
            csrf,
            url="https://hooks.bureau.example/a",
            provinces=["四川省"],
            cities=["重庆市"],
            counties=["武侯区"],
            types=["specialty_alliance", "county_community"],
            specialties="胸痛、卒中",
            institutions="四川大学华西医院\n南部县人民医院",
            min_confidence="0.6",
        )
        assert created.status_code == 200 and "仅显示这一次" in created.text
        secret = re.search(r'<code id="secret">(whsec_[^<]+)</code>', created.text)
        assert secret
        sub = sub_id_of(created.text)
        auth = {"Authorization": f"Bearer {key}"}
        got = (await api.client.get(f"/v1/subscriptions/{sub}", headers=auth)).json()
        assert got["filters"] == {
            "provinces": ["四川省"],
            "cities": ["重庆市"],
            "counties": ["武侯区"],
            "types": ["specialty_alliance", "county_community"],
            "specialties": ["胸痛", "卒中"],
            "institutions": ["四川大学华西医院", "南部县人民医院"],
            "min_confidence": 0.6,
        }
        edit = await client.get(f"/portal/subscriptions/{sub}/edit")
        assert 'name="counties" value="武侯区"' in edit.text and "胸痛、卒中" in edit.text
        saved = await client.post(
            f"/portal/subscriptions/{sub}",
            data={"csrf": csrf, "name": "新名称", "url": "https://hooks.bureau.example/b"},
        )
        assert saved.status_code == 303
        got = (await api.client.get(f"/v1/subscriptions/{sub}", headers=auth)).json()
        assert got["name"] == "新名称" and got["filters"]["provinces"] == []
        bad = await client.post(
            f"/portal/subscriptions/{sub}",
            data={"csrf": csrf, "name": "", "url": "x", "min_confidence": "3"},
        )
        assert bad.status_code == 422 and "最低置信度" in bad.text and "订阅名称" in bad.text
        # A county the gazetteer does not know is named with the nearest ones it does.
        typo = await client.post(
            f"/portal/subscriptions/{sub}",
            data={"csrf": csrf, "name": "x", "url": "https://hooks.bureau.example/b"}
            | {"counties": "朝杨区"},
        )
        assert typo.status_code == 422
        assert "“朝杨区”不是行政区划表中的地名" in typo.text and "朝阳区" in typo.text
        regions = (await client.get("/portal/regions.json")).json()
        sichuan = next(p for p in regions if p["name"] == "四川省")
        chengdu = next(c for c in sichuan["cities"] if c["name"] == "成都市")
        assert "武侯区" in chengdu["counties"]


async def test_a_disabled_endpoint_is_re_enabled_only_after_a_successful_test(
    api: Api, receiver: Receiver
) -> None:
    key = await new_key(api, "某县卫健局")
    receiver.respond = lambda r: Reply(410)
    async with browser(api) as client:
        _, csrf = await sign_in(client, key)
        sub = sub_id_of((await create(client, csrf, url=receiver.url + "/hook")).text)
        await api.parts.service.receive_change(change("c-1"))
        await api.parts.worker.run_once()
        home = (await client.get("/portal/")).text
        assert "已被系统停用" in home and "410" in home
        assert '<button type="button" disabled id="reenable">' in home
        refused = await client.post(f"/portal/subscriptions/{sub}/reenable", data={"csrf": csrf})
        assert refused.headers["location"].endswith("msg=not_tested")
        # A test that fails does not open the way either.
        await client.post(f"/portal/subscriptions/{sub}/test", data={"csrf": csrf})
        await api.parts.worker.run_once()
        await client.post(f"/portal/subscriptions/{sub}/reenable", data={"csrf": csrf})
        assert "已被系统停用" in (await client.get(f"/portal/subscriptions/{sub}")).text
        # The endpoint is fixed: a test gets through, and re-enabling is offered and done.
        receiver.respond = lambda r: Reply(204)
        await client.post(f"/portal/subscriptions/{sub}/test", data={"csrf": csrf})
        assert await api.parts.worker.run_once() == 1
        page = (await client.get(f"/portal/subscriptions/{sub}")).text
        assert "测试消息已送达" in page and '<button type="submit" id="reenable">' in page
        done = await client.post(f"/portal/subscriptions/{sub}/reenable", data={"csrf": csrf})
        assert done.headers["location"].endswith("msg=resumed")
        page = (await client.get(f"/portal/subscriptions/{sub}")).text
        assert "推送中" in page and "已被系统停用" not in page


@pytest.mark.parametrize("path", ["/portal/", "/portal/subscriptions/new"])
async def test_pages_need_a_session(api: Api, path: str) -> None:
    answer = await api.client.get(path)
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/login"


async def test_redelivering_from_the_log(api: Api, receiver: Receiver) -> None:
    key = await new_key(api, "成都市卫生健康委员会")
    async with browser(api) as client:
        _, csrf = await sign_in(client, key)
        sub = sub_id_of((await create(client, csrf, url=receiver.url + "/hook")).text)
        await client.post(f"/portal/subscriptions/{sub}/test", data={"csrf": csrf})
        await api.parts.worker.run_once()
        page = (await client.get(f"/portal/subscriptions/{sub}")).text
        delivery = re.search(r'data-delivery="(dlv_[0-9a-f]+)"', page)
        assert delivery and 'data-status="delivered"' in page
        again = await client.post(
            f"/portal/deliveries/{delivery.group(1)}/redeliver", data={"csrf": csrf}
        )
        assert again.headers["location"] == f"/portal/subscriptions/{sub}?msg=redelivered"
        assert 'data-status="pending"' in (await client.get(f"/portal/subscriptions/{sub}")).text
        assert await api.parts.worker.run_once() == 1
        page = (await client.get(f"/portal/subscriptions/{sub}")).text
        assert 'data-status="delivered"' in page and '<td class="num">2</td>' in page
        # Paused, a redelivery is refused with the reason, and nothing is queued.
        await client.post(f"/portal/subscriptions/{sub}/pause", data={"csrf": csrf})
        refused = await client.post(
            f"/portal/deliveries/{delivery.group(1)}/redeliver", data={"csrf": csrf}
        )
        assert refused.headers["location"].endswith("msg=disabled")
        resumed = await client.post(f"/portal/subscriptions/{sub}/reenable", data={"csrf": csrf})
        assert resumed.headers["location"].endswith("msg=resumed")  # paused: no test needed
    assert len(receiver.received) == 2


async def test_robot_and_e_mail_subscriptions(api: Api) -> None:
    key = await new_key(api, "成都市卫生健康委员会")
    auth = {"Authorization": f"Bearer {key}"}
    async with browser(api) as client:
        _, csrf = await sign_in(client, key)
        robot = await create(
            client,
            csrf,
            channel="dingtalk",
            url="https://oapi.dingtalk.com/robot/send?access_token=abc",
            secret="SEC0123456789abcdef",
        )
        assert robot.status_code == 303 and robot.headers["location"].endswith("msg=created")
        mail = await create(
            client, csrf, channel="email", url="mailto:a@example.gov.cn,b@example.gov.cn"
        )
        assert mail.status_code == 303
        wrong = await create(client, csrf, channel="email", url="https://x.example/")
        assert wrong.status_code == 422 and "mailto:" in wrong.text
        secret_on_wecom = await create(
            client, csrf, channel="wecom", url="https://qyapi.weixin.qq.com/x", secret="abcdefgh1"
        )
        assert secret_on_wecom.status_code == 422 and "不需要密钥" in secret_on_wecom.text
    items = (await api.client.get("/v1/subscriptions", headers=auth)).json()["items"]
    assert sorted(i["channel"] for i in items) == ["dingtalk", "email"]
