"""The analysts' pages of the dashboard (/review/): signing in with an analyst key, the
session cookie (strict, HttpOnly, only for /review, only its SHA-256 stored), CSRF and
Origin refusals that change nothing, expiry, signing out, revocation, and the review
panel's actions through the registry's review use cases."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import text

from services.common.contracts import (
    AllianceEvent,
    EventType,
    Evidence,
    ExtractedArticle,
    InstitutionMention,
)
from services.common.db import make_engine
from services.registry.adapters.migrate import upgrade
from services.registry.bootstrap import build_api
from services.registry.config import RegistrySettings
from services.registry.entrypoints.api import review_pages
from services.registry.service import RegistryService
from tests.clocks import FakeClock

OPERATOR = "review-pages-operator-token-0123456789"
NOW = datetime(2024, 6, 1, tzinfo=UTC)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def mention(name: str, province: str, city: str) -> InstitutionMention:
    return InstitutionMention(name=name, province=province, city=city)


def event(
    kind: EventType,
    lead: InstitutionMention,
    members: list[InstitutionMention],
    day: str,
    evidence: str,
    confidence: float,
    specialty: str | None = None,
) -> AllianceEvent:
    provinces = tuple(dict.fromkeys(m.province for m in (lead, *members) if m.province))
    return AllianceEvent(
        type=kind,
        specialty=specialty,
        lead=(lead,),
        members=tuple(members),
        date=day,
        provinces=provinces,
        cross_province=len(provinces) > 1,
        confidence=confidence,
        evidence=Evidence(text=evidence, start=0, end=len(evidence)),
    )


EVENTS = [
    event(
        EventType.specialty_alliance,
        mention("西安市红会医院", "陕西", "西安市"),
        [mention("广汉市第二人民医院", "四川", "德阳市")],
        "2018-07-29",
        "2018年7月29日，广汉市第二人民医院与西安市红会医院建立骨科专科联盟",
        0.55,
        "骨科",
    ),
    event(
        EventType.tight_consortium,
        mention("西南医科大学附属医院", "四川", "泸州市"),
        [mention("叙永县人民医院", "四川", "泸州市")],
        "2022-01-25",
        "西南医科大学附属医院与叙永县人民医院签署紧密型医联体协议",
        0.8,
    ),
    event(
        EventType.trusteeship,
        mention("桂林市中西医结合医院", "广西", "桂林市"),
        [mention("灵川县中医医院", "广西", "桂林市")],
        "2022-03",
        "桂林市中西医结合医院托管灵川县中医医院",
        0.35,
    ),
]


def seed(repository: RegistryService, events: list[AllianceEvent] = EVENTS) -> None:
    for number, item in enumerate(events):
        repository.apply_extraction(
            ExtractedArticle(
                article_id=f"art-{number}",
                extractor_version="test",
                url=f"https://news.example.cn/{number}.html",
                title=f"新闻 {number}",
                published_at=date(2024, 1, 1),
                relevant=True,
                events=(item,),
                extracted_at=NOW,
            ),
            NOW + timedelta(minutes=number),
        )


@dataclass
class Registry:
    app: Any
    repository: RegistryService
    clock: FakeClock

    def client(self, base_url: str = "http://registry") -> TestClient:
        return TestClient(self.app, base_url=base_url, follow_redirects=False)

    def analyst(self, name: str = "王分析") -> dict[str, Any]:
        with self.client() as api:
            answer = api.post(
                "/v1/analysts", json={"name": name}, headers={"Authorization": f"Bearer {OPERATOR}"}
            )
        assert answer.status_code == 201, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def ids(self) -> dict[str, str]:
        with self.client() as api:
            items = api.get("/v1/alliances").json()["items"]
        return {a["lead"][0]["name"]: a["id"] for a in items}


def make_registry(tmp_path: Path, public_base_url: str = "") -> Iterator[Registry]:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    engine = make_engine(url)
    upgrade(engine)
    repository = RegistryService(engine)
    seed(repository)
    config = RegistrySettings(
        REGISTRY_DATABASE_URL=url,
        REGISTRY_OPERATOR_TOKEN=OPERATOR,
        PUBLIC_BASE_URL=public_base_url,
    )
    app = build_api(config, repository)
    clock = FakeClock(datetime.now(UTC))
    app.state.analyst_sessions.clock = clock.now
    try:
        yield Registry(app, repository, clock)
    finally:
        engine.dispose()


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    yield from make_registry(tmp_path)


def csrf_in(page: str) -> str:
    found = CSRF.search(page)
    assert found, page
    return found.group(1)


def sign_in(client: TestClient, key: str, next_path: str | None = None) -> Any:
    login = client.get("/review/login", params={"next": next_path} if next_path else None)
    assert login.status_code == 200, login.text
    data = {"csrf": csrf_in(login.text), "api_key": key}
    if next_path:
        data["next"] = next_path
    return client.post("/review/login", data=data)


def session_csrf(client: TestClient) -> str:
    queue = client.get("/review/")
    assert queue.status_code == 200, queue.text
    return csrf_in(queue.text)


def flags(answer: Any, name: str) -> list[str]:
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{name}="))
    return [part.strip().lower() for part in cookie.split(";")]


def test_signing_in_sets_a_strict_cookie_for_the_review_pages_only(registry: Registry) -> None:
    analyst = registry.analyst()
    with registry.client() as client:
        assert client.get("/review/").headers["location"] == "/review/login"
        answer = sign_in(client, analyst["api_key"])
        assert answer.status_code == 303 and answer.headers["location"] == "/review/"
        cookie = flags(answer, "aw_analyst")
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/review" in cookie
        assert "max-age=28800" in cookie and "secure" not in cookie
        queue = client.get("/review/")
        assert "王分析" in queue.text and "审核队列" in queue.text
        assert "frame-ancestors 'none'" in queue.headers["content-security-policy"]
        assert queue.headers["cache-control"] == "no-store"
        token = client.cookies["aw_analyst"]
        with registry.repository.engine.connect() as connection:
            rows = connection.execute(text("select id, analyst_id from analyst_sessions")).all()
        assert len(rows) == 1 and rows[0][1] == analyst["id"]
        assert rows[0][0] != token and len(rows[0][0]) == 64
    with registry.client("https://registry") as client:
        assert "secure" in flags(sign_in(client, analyst["api_key"]), "aw_analyst")


def test_cookies_are_secure_when_the_dashboard_is_published_over_https(tmp_path: Path) -> None:
    for registry in make_registry(tmp_path, "https://watch.example.cn"):
        analyst = registry.analyst()
        with registry.client() as client:  # plain http to the proxy's back end
            login = client.get("/review/login")
            assert "secure" in flags(login, "aw_analyst_login")
            token = csrf_in(login.text)
            # The browser sends a Secure cookie back over https only; here, by hand.
            client.cookies.set("aw_analyst_login", token, path="/review")
            answer = client.post(
                "/review/login", data={"csrf": token, "api_key": analyst["api_key"]}
            )
            assert answer.status_code == 303
            assert "secure" in flags(answer, "aw_analyst")
            # Posts come from the published address, which the proxy does not name.
            client.cookies.set("aw_analyst", client.cookies["aw_analyst"], path="/review")
            csrf = session_csrf(client)
            alliance = registry.ids()["西安市红会医院"]
            action = f"/review/alliances/{alliance}/review"
            elsewhere = client.post(
                action,
                data={"csrf": csrf, "action": "confirm"},
                headers={"Origin": "https://evil.example"},
            )
            assert elsewhere.status_code == 403
            published = client.post(
                action,
                data={"csrf": csrf, "action": "confirm"},
                headers={"Origin": "https://watch.example.cn"},
            )
            assert published.status_code == 303, published.text


def test_a_wrong_key_is_told_clearly_and_next_stays_on_the_site(registry: Registry) -> None:
    analyst = registry.analyst()
    with registry.client() as client:
        for wrong in ("", "not-a-key", analyst["api_key"][:-4] + "AAAA"):
            answer = sign_in(client, wrong)
            assert answer.status_code == 401
            assert "审核密钥不正确或已被吊销" in answer.text
            assert "aw_analyst" not in client.cookies
        page = client.get("/review/login", params={"next": "https://evil.example/x"}).text
        assert 'name="next" value="/review/"' in page
        ids = registry.ids()
        back = f"/alliances/{ids['西安市红会医院']}"
        answer = sign_in(client, analyst["api_key"], next_path=back)
        assert answer.headers["location"] == back


def test_posts_without_the_session_token_or_from_elsewhere_are_refused(
    registry: Registry,
) -> None:
    analyst = registry.analyst()
    alliance = registry.ids()["西安市红会医院"]
    action = f"/review/alliances/{alliance}/review"
    with registry.client() as client:
        login = client.get("/review/login")
        forged = client.post(
            "/review/login", data={"csrf": "forged", "api_key": analyst["api_key"]}
        )
        assert forged.status_code == 403 and "CSRF" in forged.text
        assert 'id="reason"' in forged.text
        client.cookies.clear()
        stale = client.post(
            "/review/login", data={"csrf": csrf_in(login.text), "api_key": analyst["api_key"]}
        )
        assert stale.status_code == 403 and "登录页面已过期" in stale.text
        assert sign_in(client, analyst["api_key"]).status_code == 303
        csrf = session_csrf(client)
        missing = client.post(action, data={"action": "confirm"})
        assert missing.status_code == 403 and "表单缺少安全校验码" in missing.text
        wrong = client.post(action, data={"action": "confirm", "csrf": "x" * 43})
        assert wrong.status_code == 403 and "与当前登录不符" in wrong.text
        elsewhere = client.post(
            action,
            data={"action": "confirm", "csrf": csrf},
            headers={"Origin": "https://evil.example"},
        )
        assert elsewhere.status_code == 403 and "不是本站" in elsewhere.text
        as_json = client.post(
            action, data={"action": "confirm"}, headers={"Accept": "application/json"}
        )
        assert as_json.status_code == 403 and "安全校验码" in as_json.json()["detail"]
        signed_out = client.post("/review/logout", data={})
        assert signed_out.status_code == 403
        # None of them did anything; with the token, from this site, it is done.
        assert client.get(f"/v1/alliances/{alliance}").json()["review"]["status"] == "unreviewed"
        done = client.post(
            action,
            data={"action": "confirm", "csrf": csrf},
            headers={"Origin": "http://registry"},
        )
        assert done.status_code == 303 and done.headers["location"] == f"/alliances/{alliance}"
        review = client.get(f"/v1/alliances/{alliance}").json()["review"]
        assert review["status"] == "confirmed" and review["reviewed_by_name"] == "王分析"


def test_a_session_expires(registry: Registry) -> None:
    analyst = registry.analyst()
    alliance = registry.ids()["西安市红会医院"]
    with registry.client() as client:
        sign_in(client, analyst["api_key"])
        registry.clock.advance(timedelta(hours=7, minutes=59))
        assert client.get("/review/").status_code == 200
        registry.clock.advance(timedelta(minutes=2))
        answer = client.get("/review/")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/review/login?msg=expired"
        assert "登录已过期" in client.get("/review/login?msg=expired").text
        assert client.get(f"/review/alliances/{alliance}/panel").status_code == 204


def test_signing_out_ends_the_session_for_good(registry: Registry) -> None:
    analyst = registry.analyst()
    with registry.client() as client:
        sign_in(client, analyst["api_key"])
        token = client.cookies["aw_analyst"]
        csrf = session_csrf(client)
        out = client.post("/review/logout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/review/login?msg=signed_out"
        assert "max-age=0" in flags(out, "aw_analyst")
    with registry.client() as replay:  # the old cookie, presented again, opens nothing
        replay.cookies.set("aw_analyst", token, path="/review")
        assert replay.get("/review/").status_code == 303
    with registry.repository.engine.connect() as connection:
        assert connection.execute(text("select count(*) from analyst_sessions")).scalar() == 0


def test_revoking_the_analyst_ends_their_session(registry: Registry) -> None:
    analyst = registry.analyst()
    alliance = registry.ids()["西安市红会医院"]
    with registry.client() as client:
        sign_in(client, analyst["api_key"])
        csrf = session_csrf(client)
        revoked = client.delete(
            f"/v1/analysts/{analyst['id']}", headers={"Authorization": f"Bearer {OPERATOR}"}
        )
        assert revoked.status_code == 204
        assert client.get("/review/").headers["location"] == "/review/login?msg=expired"
        answer = client.post(
            f"/review/alliances/{alliance}/review",
            data={"action": "confirm", "csrf": csrf},
            headers={"Accept": "application/json"},
        )
        assert answer.status_code == 401 and answer.json()["login"] == "/review/login"
        assert sign_in(client, analyst["api_key"]).status_code == 401


def test_the_panel_is_for_analysts_and_acts_through_the_review_use_cases(
    registry: Registry,
) -> None:
    analyst = registry.analyst("李审核")
    alliance = registry.ids()["西安市红会医院"]
    panel_url = f"/review/alliances/{alliance}/panel"
    action = f"/review/alliances/{alliance}/review"
    json_headers = {"Accept": "application/json"}
    with registry.client() as client:
        page = client.get(f"/alliances/{alliance}")
        assert 'id="review-panel"' in page.text and "/static/review.js" in page.text
        assert page.headers["x-frame-options"] == "DENY"
        assert client.get(panel_url).status_code == 204, "nothing for the public"
        sign_in(client, analyst["api_key"])
        panel = client.get(panel_url)
        assert panel.status_code == 200 and panel.headers["cache-control"] == "no-store"
        assert "待审核" in panel.text and "尚无审核记录" in panel.text
        assert ">广汉市第二人民医院</textarea>" in panel.text, "the edit form is prefilled"
        assert 'value="骨科"' in panel.text
        csrf = csrf_in(panel.text)

        # Saving the form unchanged corrects nothing: told so, nothing locked.
        form = {
            "csrf": csrf,
            "action": "correct",
            "lead": "西安市红会医院",
            "members": "广汉市第二人民医院",
            "type": "specialty_alliance",
            "specialty": "骨科",
            "date": "2018-07-29",
            "provinces": "陕西、四川",
        }
        same = client.post(action, data=form, headers=json_headers)
        assert same.status_code == 422 and "没有改动" in same.json()["detail"]
        # A bad date is the review use case's refusal, with its reason.
        bad = client.post(action, data={**form, "date": "2018-13"}, headers=json_headers)
        assert bad.status_code == 422 and bad.json()["detail"]

        corrected = client.post(
            action,
            data={**form, "members": "广汉市第二人民医院\n德阳市人民医院", "note": "原文漏了一家"},
            headers=json_headers,
        )
        assert corrected.status_code == 200, corrected.text
        assert corrected.json()["status"] == "corrected"
        html = corrected.json()["panel"]
        assert "已更正" in html and "李审核" in html and "原文漏了一家" in html
        assert "成员单位：广汉市第二人民医院 → 广汉市第二人民医院、德阳市人民医院" in html
        assert "已锁定" in html and "成员单位" in html

        public = client.get(f"/v1/alliances/{alliance}").json()
        assert [m["name"] for m in public["members"]] == ["广汉市第二人民医院", "德阳市人民医院"]
        assert public["review"]["locked_fields"] == ["members"]
        history = client.get(
            f"/v1/alliances/{alliance}/history",
            headers={"Authorization": f"Bearer {analyst['api_key']}"},
        ).json()
        assert [(h["action"], h["analyst_name"]) for h in history] == [("correct", "李审核")]

        rejected = client.post(
            action, data={"csrf": csrf, "action": "reject", "note": ""}, headers=json_headers
        )
        assert rejected.status_code == 422, "a rejection needs a note"
        unknown = client.post(action, data={"csrf": csrf, "action": "drop"}, headers=json_headers)
        assert unknown.status_code == 422
        gone = client.post(
            "/review/alliances/nope/review",
            data={"csrf": csrf, "action": "confirm"},
            headers=json_headers,
        )
        assert gone.status_code == 404
        as_page = client.post(
            "/review/alliances/nope/review", data={"csrf": csrf, "action": "confirm"}
        )
        assert as_page.status_code == 404 and 'id="reason"' in as_page.text


def test_the_queue_lists_the_unreviewed_least_certain_first_with_filters(
    registry: Registry,
) -> None:
    analyst = registry.analyst()
    ids = registry.ids()
    with registry.client() as client:
        sign_in(client, analyst["api_key"])
        order = re.findall(r'class="queue-item" data-id="([^"]+)"', client.get("/review/").text)
        assert order == [
            ids["桂林市中西医结合医院"],
            ids["西安市红会医院"],
            ids["西南医科大学附属医院"],
        ]
        sichuan = client.get("/review/", params={"province": "四川"}).text
        assert set(re.findall(r'class="queue-item" data-id="([^"]+)"', sichuan)) == {
            ids["西安市红会医院"],
            ids["西南医科大学附属医院"],
        }
        assert '<option value="四川" selected>' in sichuan
        trusteeship = client.get("/review/", params={"type": "trusteeship"}).text
        assert re.findall(r'class="queue-item" data-id="([^"]+)"', trusteeship) == [
            ids["桂林市中西医结合医院"]
        ]
        assert client.get("/review/", params={"province": "火星"}).status_code == 422
        csrf = session_csrf(client)
        client.post(
            f"/review/alliances/{ids['桂林市中西医结合医院']}/review",
            data={"csrf": csrf, "action": "confirm"},
        )
        left = re.findall(r'class="queue-item" data-id="([^"]+)"', client.get("/review/").text)
        assert ids["桂林市中西医结合医院"] not in left and len(left) == 2


def test_every_review_route_needs_a_session_and_every_post_its_token(registry: Registry) -> None:
    """Each route of /review/, the day it appears: without a session a page sends to the
    sign-in page (the panel answers 204, nothing to show); a post without the session's
    CSRF token, with another session's, or from another origin is a 403 that does nothing."""
    alliance = registry.ids()["西安市红会医院"]
    first, second = registry.analyst("甲"), registry.analyst("乙")
    public = {("GET", "/review/login"), ("POST", "/review/login")}
    with registry.client() as anonymous, registry.client() as a, registry.client() as b:
        sign_in(a, first["api_key"])
        sign_in(b, second["api_key"])
        mine, theirs = session_csrf(a), session_csrf(b)
        for route in review_pages.router.routes:
            assert isinstance(route, APIRoute)
            path = route.path.replace("{alliance_id}", alliance)
            for method in sorted(route.methods):
                if (method, route.path) in public:
                    continue
                answer = anonymous.request(method, path, data={"csrf": mine})
                if route.path.endswith("/panel"):
                    assert answer.status_code == 204, (method, route.path)
                else:
                    assert answer.status_code == 303, (method, route.path, answer.status_code)
                    assert answer.headers["location"].startswith("/review/login")
                if method != "POST":
                    continue
                for data, headers in [
                    ({"action": "confirm"}, {}),
                    ({"action": "confirm", "csrf": theirs}, {}),
                    ({"action": "confirm", "csrf": mine}, {"Origin": "https://evil.example"}),
                ]:
                    answer = a.post(path, data=data, headers=headers)
                    assert answer.status_code == 403, (route.path, data, headers)
        assert a.get("/review/").status_code == 200, "still signed in"
        review = a.get(f"/v1/alliances/{alliance}").json()["review"]
        assert review["status"] == "unreviewed"
