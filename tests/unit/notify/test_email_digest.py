"""E-mail digests: periods (daily, weekly on Monday, Asia/Shanghai), grouping by region,
rendering (HTML and plain text, evidence links, unsubscribe), each period sent once across
restarts, and the one-click unsubscribe link with its signed token."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.notify.bootstrap import build_app, build_components
from services.notify.domain.email_digest import group_by_region, region_of, render_email_digest
from services.notify.domain.models import Alert, AlertType
from services.notify.domain.periods import SHANGHAI, Cadence, latest_period
from services.notify.domain.unsubscribe import BadToken, sign, verify
from tests.unit.notify.conftest import Api, fake_dns_resolver, make_settings
from tests.unit.notify.factories import (
    CHONGQING,
    HUAXI,
    NANCHONG,
    NOW,
    SHANXI,
    alliance,
    change,
)
from tests.unit.notify.mailbox import Mailbox

# --- periods ------------------------------------------------------------------------------


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def test_a_daily_period_ends_at_the_hour_in_shanghai() -> None:
    before = latest_period(Cadence.daily, shanghai(2026, 11, 26, 7, 59), 8)
    after = latest_period(Cadence.daily, shanghai(2026, 11, 26, 8, 0), 8)
    assert before.key == "daily:2026-11-25" and after.key == "daily:2026-11-26"
    assert after.end == shanghai(2026, 11, 26, 8) and after.start == shanghai(2026, 11, 25, 8)
    assert after.end.astimezone(UTC) == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
    assert after.label == "2026年11月26日"
    # The same moment from UTC's side of midnight.
    assert latest_period(Cadence.daily, datetime(2026, 11, 25, 23, 30, tzinfo=UTC), 7).key == (
        "daily:2026-11-26"
    )


def test_a_weekly_period_ends_on_monday() -> None:
    # 2026-11-30 is a Monday.
    sunday = latest_period(Cadence.weekly, shanghai(2026, 11, 29, 20), 8)
    monday = latest_period(Cadence.weekly, shanghai(2026, 11, 30, 8, 1), 8)
    assert sunday.end == shanghai(2026, 11, 23, 8) and sunday.key == "weekly:2026-W48"
    assert monday.end == shanghai(2026, 11, 30, 8) and monday.key == "weekly:2026-W49"
    assert monday.start == shanghai(2026, 11, 23, 8)
    assert monday.label == "2026年11月23日至2026年11月30日"
    with pytest.raises(ValueError):
        latest_period(Cadence.immediate, NOW, 8)


# --- grouping and rendering ---------------------------------------------------------------


def alert(alliance_id: str, **fields: Any) -> Alert:
    return Alert(
        type=AlertType.created,
        change_id=f"c-{alliance_id}",
        alliance=alliance(alliance_id, **fields),
        occurred_at=NOW,
    )


def test_alliances_are_grouped_by_province_then_city() -> None:
    alerts = [
        alert("al-nc", lead=(NANCHONG,), members=()),
        alert("al-sx", lead=(SHANXI,), members=()),
        alert("al-cd", lead=(HUAXI,), members=()),
        alert("al-cq", lead=(CHONGQING,), members=()),
        alert("al-none", lead=(), members=(), provinces=()),
        alert("al-prov", lead=(), members=(), provinces=("四川省",)),
    ]
    groups = group_by_region(alerts)
    order = [(g.province, g.city, [a.alliance.id for a in g.alerts]) for g in groups]
    assert order == [
        ("四川省", "南充市", ["al-nc"]),
        ("四川省", "成都市", ["al-cd"]),
        ("四川省", "未注明城市", ["al-prov"]),
        ("山西省", "太原市", ["al-sx"]),
        ("重庆市", "重庆市", ["al-cq"]),
        ("未注明省份", "未注明城市", ["al-none"]),
    ]
    assert region_of(alliance(lead=(), members=(NANCHONG,))) == ("四川省", "南充市")


def test_one_entry_per_alliance_its_latest() -> None:
    old = alert("al-1")
    new = Alert(
        type=AlertType.updated,
        change_id="c-2",
        alliance=alliance("al-1"),
        occurred_at=NOW + timedelta(hours=1),
        highlights=("新增成员单位（1家）：南部县人民医院",),
    )
    [group] = group_by_region([old, new])
    assert group.alerts == (new,)


def test_the_digest_renders_html_and_text_with_links() -> None:
    period = latest_period(Cadence.daily, shanghai(2026, 11, 26, 9), 8)
    alerts = [
        alert("al-1", lead=(HUAXI,)),
        alert("al-2", lead=(SHANXI,), specialty="<b>心血管</b>"),
    ]
    mail = render_email_digest(alerts, period, "https://n.example/v1/unsubscribe?token=u1.a.b")
    assert mail.subject == "医联体动态日报（2026年11月26日，共2条）"
    assert mail.text.index("【四川省】") < mail.text.index("【山西省】")
    assert "查看证据：https://watch.example.cn/alliances/al-1" in mail.text
    assert "退订此订阅：https://n.example/v1/unsubscribe?token=u1.a.b" in mail.text
    assert '<a href="https://watch.example.cn/alliances/al-2">' in mail.html
    assert "<h2>四川省</h2>" in mail.html and "<h3>成都市</h3>" in mail.html
    assert "&lt;b&gt;心血管&lt;/b&gt;" in mail.html and "<b>心血管" not in mail.html
    assert 'href="https://n.example/v1/unsubscribe?token=u1.a.b"' in mail.html


# --- tokens -------------------------------------------------------------------------------


def test_unsubscribe_tokens_sign_verify_and_refuse_tampering() -> None:
    token = sign("k" * 32, "sub_0123abcd")
    assert verify("k" * 32, token) == "sub_0123abcd"
    version, ident, mac = token.split(".")
    forged = f"{version}.sub_0123abce.{mac}"
    cases = {
        forged: "does not match",
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"): "does not match",
        "garbage": "malformed",
        f"u9.{ident}.{mac}": "unknown token version",
        f"{version}.{ident}!.{mac}": "names no subscription",
    }
    for bad, reason in cases.items():
        with pytest.raises(BadToken, match=reason):
            verify("k" * 32, bad)
    with pytest.raises(BadToken, match="does not match"):
        verify("another-secret-" * 3, token)


# --- cadence in the API -------------------------------------------------------------------


async def test_cadence_is_for_email_only(api: Api) -> None:
    _, auth = await api.bureau("南充市卫健委")
    mail = {"name": "日报", "channel": "email", "url": "mailto:o@nc.example", "cadence": "daily"}
    created = await api.client.post("/v1/subscriptions", json=mail, headers=auth)
    assert created.status_code == 201 and created.json()["cadence"] == "daily"
    hook = {"name": "h", "channel": "webhook", "url": "https://hooks.example.cn/x"}
    refused = await api.client.post(
        "/v1/subscriptions", json={**hook, "cadence": "weekly"}, headers=auth
    )
    assert refused.status_code == 422 and "only an e-mail" in refused.text
    odd = await api.client.post(
        "/v1/subscriptions", json={**mail, "cadence": "hourly"}, headers=auth
    )
    assert odd.status_code == 422
    sub_id = created.json()["id"]
    weekly = await api.client.patch(
        f"/v1/subscriptions/{sub_id}", json={"cadence": "weekly"}, headers=auth
    )
    assert weekly.status_code == 200 and weekly.json()["cadence"] == "weekly"


# --- sending, once a period ---------------------------------------------------------------


async def daily(api: Api, auth: dict[str, str], **extra: Any) -> str:
    body = {
        "name": "每日汇总",
        "channel": "email",
        "url": "mailto:office@nanchong.example",
        "cadence": "daily",
        **extra,
    }
    answer = await api.client.post("/v1/subscriptions", json=body, headers=auth)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def test_a_daily_digest_is_sent_once_per_period_even_across_restarts(
    tmp_path: Path, smtp: tuple[Mailbox, int]
) -> None:
    from tests.clocks import FakeClock

    mailbox, port = smtp
    settings = make_settings(
        f"sqlite:///{tmp_path / 'notify.db'}",
        NOTIFY_SMTP_HOST="127.0.0.1",
        NOTIFY_SMTP_PORT=port,
        NOTIFY_DIGEST_HOUR=8,
    )
    clock = FakeClock(shanghai(2026, 11, 25, 10).astimezone(UTC))

    async def started() -> tuple[Any, Api]:
        parts = build_components(
            settings, clock=clock, rng=random.Random(1), resolver=fake_dns_resolver
        )
        app = build_app(settings, components=parts, consume=False, run_worker=False)
        context = app.router.lifespan_context(app)
        await context.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://n")
        return context, Api(client, parts, clock)

    context, api = await started()
    _, auth = await api.bureau("南充市卫健委")
    sub_id = await daily(api, auth)
    for n in range(3):
        await api.parts.service.receive_change(change(f"c-{n}", alliance(f"al-{n}")))
    assert await api.parts.worker.run_once() == 0, "a digest subscription's alerts are held"
    assert await api.parts.digests.run_once() == 0, "the first period ended before it existed"
    clock.current = shanghai(2026, 11, 26, 8, 0, 30).astimezone(UTC)
    # An alert after the period's end waits for the next one.
    await api.parts.service.receive_change(change("c-late", alliance("al-late")))
    assert await api.parts.digests.run_once() == 1
    assert await api.parts.digests.run_once() == 0
    assert mailbox.arrived.wait(10) and len(mailbox.messages) == 1
    [message] = mailbox.messages
    assert str(message["Subject"]) == "医联体动态日报（2026年11月26日，共3条）"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    items = (await api.client.get(f"/v1/deliveries?subscription_id={sub_id}", headers=auth)).json()
    status = {i["alliance_id"]: i["status"] for i in items["items"]}
    assert status == {
        "al-0": "delivered",
        "al-1": "delivered",
        "al-2": "delivered",
        "al-late": "pending",
    }
    await api.client.aclose()
    await context.__aexit__(None, None, None)
    # A restart: the period is on record, nothing is sent again.
    context, api = await started()
    assert await api.parts.digests.run_once() == 0
    assert len(mailbox.messages) == 1
    # The next day, the late alert goes out.
    clock.current = shanghai(2026, 11, 27, 9).astimezone(UTC)
    assert await api.parts.digests.run_once() == 1
    assert len(mailbox.messages) == 2 and "共1条" in str(mailbox.messages[1]["Subject"])
    await api.client.aclose()
    await context.__aexit__(None, None, None)


async def test_a_claimed_period_is_taken_again_only_once_its_lease_ran_out(api: Api) -> None:
    repository = api.parts.repository
    _, auth = await api.bureau("南充市卫健委")
    sub_id = await daily(api, auth)
    now = api.clock.now()
    lease = timedelta(minutes=10)
    assert await repository.claim_period(sub_id, "daily:2026-11-26", now, lease) == 1
    # A second worker (or this one after a crash, too soon) does not take it.
    assert await repository.claim_period(sub_id, "daily:2026-11-26", now, lease) is None
    later = now + lease + timedelta(seconds=1)
    assert await repository.claim_period(sub_id, "daily:2026-11-26", later, lease) == 2
    assert await repository.period_status(sub_id, "daily:2026-11-26") == "sending"


async def test_back_to_immediate_releases_the_held_alerts(
    mail_api: Api, smtp: tuple[Mailbox, int]
) -> None:
    mailbox, _ = smtp
    _, auth = await mail_api.bureau("南充市卫健委")
    sub_id = await daily(mail_api, auth)
    await mail_api.parts.service.receive_change(change("c-1"))
    assert await mail_api.parts.worker.run_once() == 0
    answer = await mail_api.client.patch(
        f"/v1/subscriptions/{sub_id}", json={"cadence": "immediate"}, headers=auth
    )
    assert answer.status_code == 200
    assert await mail_api.parts.worker.run_once() == 1
    assert mailbox.arrived.wait(10) and len(mailbox.messages) == 1


# --- the unsubscribe link -----------------------------------------------------------------


async def test_unsubscribe_page_then_one_click(api: Api) -> None:
    _, auth = await api.bureau("南充市卫健委")
    sub_id = await daily(api, auth)
    token = sign(api.parts.settings.unsubscribe_key, sub_id)
    page = await api.client.get(f"/v1/unsubscribe?token={token}")
    assert page.status_code == 200 and "确认退订" in page.text
    state = (await api.client.get(f"/v1/subscriptions/{sub_id}", headers=auth)).json()
    assert state["enabled"] is True, "showing the page changes nothing"
    done = await api.client.post(
        f"/v1/unsubscribe?token={token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200 and "已退订" in done.text
    state = (await api.client.get(f"/v1/subscriptions/{sub_id}", headers=auth)).json()
    assert state["enabled"] is False and state["disabled_reason"] == "unsubscribed"
    again = await api.client.post(f"/v1/unsubscribe?token={token}")
    assert again.status_code == 200


async def test_a_bad_unsubscribe_token_is_a_400_with_its_reason(api: Api) -> None:
    _, auth = await api.bureau("南充市卫健委")
    sub_id = await daily(api, auth)
    token = sign("not-the-notify-secret-at-all", sub_id)
    for method in ("GET", "POST"):
        answer = await api.client.request(method, f"/v1/unsubscribe?token={token}")
        assert answer.status_code == 400 and "does not match" in answer.text
    assert (await api.client.post("/v1/unsubscribe?token=junk")).status_code == 400
    assert (await api.client.post("/v1/unsubscribe")).status_code == 422
    state = (await api.client.get(f"/v1/subscriptions/{sub_id}", headers=auth)).json()
    assert state["enabled"] is True


def test_the_unsubscribe_secret_refuses_defaults() -> None:
    with pytest.raises(ValueError, match="NOTIFY_UNSUBSCRIBE_SECRET"):
        make_settings("sqlite://", NOTIFY_UNSUBSCRIBE_SECRET="changeme")
    with pytest.raises(ValueError, match="NOTIFY_UNSUBSCRIBE_SECRET is empty"):
        make_settings(
            "sqlite://",
            APP_ENV="production",
            NOTIFY_OPERATOR_TOKEN="Qm7vX2pL9sKd4TfW8zRb1NcY6hJe3GuA",
            NOTIFY_ALLOWED_NETWORKS="",
        )
    with pytest.raises(ValueError, match="NOTIFY_UNSUBSCRIBE_SECRET is too weak"):
        make_settings(
            "sqlite://",
            APP_ENV="production",
            NOTIFY_OPERATOR_TOKEN="Qm7vX2pL9sKd4TfW8zRb1NcY6hJe3GuA",
            NOTIFY_ALLOWED_NETWORKS="",
            NOTIFY_UNSUBSCRIBE_SECRET="short-one",
        )
    derived = make_settings("sqlite://")
    assert len(derived.unsubscribe_key) == 64 and derived.operator_token not in (
        derived.unsubscribe_key
    )
    with pytest.raises(ValueError, match="NOTIFY_PUBLIC_URL"):
        make_settings("sqlite://", NOTIFY_PUBLIC_URL="ftp://notify.example")


def test_the_due_period_is_the_latest_ended_after_the_subscription_began() -> None:
    from services.notify.domain.periods import period_due

    created = shanghai(2026, 11, 25, 10)
    assert period_due(Cadence.immediate, shanghai(2026, 11, 26, 9), 8, created) is None
    # The period ending 2026-11-25 08:00 ended before the subscription: nothing is due.
    assert period_due(Cadence.daily, shanghai(2026, 11, 25, 12), 8, created) is None
    due = period_due(Cadence.daily, shanghai(2026, 11, 26, 8), 8, created)
    assert due is not None and due.key == "daily:2026-11-26"
    # Asked again and again within the period: always the same key, so the store's record
    # of it (digest_periods) keeps it to one sending.
    keys = {
        p.key
        for minute in range(0, 24 * 60, 7)
        if (p := period_due(Cadence.daily, due.end + timedelta(minutes=minute), 8, created))
    }
    assert keys == {"daily:2026-11-26"}
    weekly = period_due(Cadence.weekly, shanghai(2026, 12, 7, 8), 8, created)
    assert weekly is not None and weekly.key == "weekly:2026-W50"
