"""The HTTP API: operator and bureau auth, keys, subscriptions, and the tenant matrix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.notify.config import NotifySettings
from tests.unit.notify.conftest import OPERATOR, Api, make_settings
from tests.unit.notify.factories import change

OP = {"Authorization": f"Bearer {OPERATOR}"}


def webhook(
    url: str = "https://hooks.bureau.example/alerts", **filters: object
) -> dict[str, object]:
    return {"name": "省卫健委接收系统", "channel": "webhook", "url": url, "filters": filters}


async def test_the_operator_creates_bureaus_and_the_key_is_shown_once(api: Api) -> None:
    assert (await api.client.post("/v1/bureaus", json={"name": "x"})).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert (
        await api.client.post("/v1/bureaus", json={"name": "x"}, headers=wrong)
    ).status_code == 401
    created = await api.client.post(
        "/v1/bureaus", json={"name": "四川省卫生健康委员会"}, headers=OP
    )
    assert created.status_code == 201
    body = created.json()
    assert body["api_key"].startswith("aw_") and body["name"] == "四川省卫生健康委员会"
    keys = (await api.client.get(f"/v1/bureaus/{body['id']}/keys", headers=OP)).json()
    assert (
        len(keys) == 1
        and "api_key" not in keys[0]
        and body["api_key"].split("_")[1] == keys[0]["prefix"]
    )
    listed = (await api.client.get("/v1/bureaus", headers=OP)).json()
    assert [b["id"] for b in listed] == [body["id"]]
    # A bureau key is not the operator token, and the operator token is no bureau key.
    bureau_auth = {"Authorization": f"Bearer {body['api_key']}"}
    assert (await api.client.get("/v1/bureaus", headers=bureau_auth)).status_code == 401
    assert (await api.client.get("/v1/subscriptions", headers=OP)).status_code == 401


async def test_keys_can_be_rotated_and_revoked(api: Api) -> None:
    bureau_id, auth = await api.bureau("成都市卫生健康委员会")
    assert (await api.client.get("/v1/subscriptions", headers=auth)).status_code == 200
    [key] = (await api.client.get("/v1/keys", headers=auth)).json()
    rotated = await api.client.post(f"/v1/keys/{key['id']}/rotate", headers=auth)
    assert rotated.status_code == 201
    new_auth = {"Authorization": f"Bearer {rotated.json()['api_key']}"}
    assert (await api.client.get("/v1/subscriptions", headers=auth)).status_code == 401
    assert (await api.client.get("/v1/subscriptions", headers=new_auth)).status_code == 200
    # A second key, then the operator revokes the first.
    extra = await api.client.post("/v1/keys", json={"label": "备用"}, headers=new_auth)
    extra_auth = {"Authorization": f"Bearer {extra.json()['api_key']}"}
    revoke = await api.client.delete(
        f"/v1/bureaus/{bureau_id}/keys/{rotated.json()['id']}", headers=OP
    )
    assert revoke.status_code == 200 and revoke.json()["revoked_at"]
    assert (await api.client.get("/v1/subscriptions", headers=new_auth)).status_code == 401
    assert (await api.client.get("/v1/subscriptions", headers=extra_auth)).status_code == 200
    # A key shaped right but with a wrong secret part is refused.
    forged = extra.json()["api_key"][:-4] + "AAAA"
    assert (
        await api.client.get("/v1/subscriptions", headers={"Authorization": f"Bearer {forged}"})
    ).status_code == 401


async def test_subscription_lifecycle(api: Api) -> None:
    _, auth = await api.bureau("四川省卫生健康委员会")
    created = await api.client.post(
        "/v1/subscriptions", json=webhook(provinces=["四川"], min_confidence=0.6), headers=auth
    )
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["secret"].startswith("whsec_") and sub["filters"]["provinces"] == ["四川"]
    got = (await api.client.get(f"/v1/subscriptions/{sub['id']}", headers=auth)).json()
    assert "secret" not in got
    patched = await api.client.patch(
        f"/v1/subscriptions/{sub['id']}",
        json={"filters": {"cities": ["成都"]}, "name": "成都专用"},
        headers=auth,
    )
    assert patched.status_code == 200 and patched.json()["filters"]["cities"] == ["成都"]
    assert patched.json()["name"] == "成都专用"
    rotated = await api.client.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", headers=auth)
    assert rotated.json()["secret"] != sub["secret"]
    assert len((await api.client.get("/v1/subscriptions", headers=auth)).json()["items"]) == 1
    assert (
        await api.client.delete(f"/v1/subscriptions/{sub['id']}", headers=auth)
    ).status_code == 204
    assert (await api.client.get(f"/v1/subscriptions/{sub['id']}", headers=auth)).status_code == 404
    assert (await api.client.get("/v1/subscriptions", headers=auth)).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "", "channel": "webhook", "url": "https://a.example/x"}, "name"),
        ({"name": "x", "channel": "pager", "url": "https://a.example/x"}, "channel"),
        ({"name": "x", "channel": "webhook", "url": "ftp://a.example/x"}, "http"),
        ({"name": "x", "channel": "webhook", "url": "https://u:p@a.example/x"}, "credentials"),
        ({"name": "x", "channel": "email", "url": "https://a.example"}, "mailto"),
        ({"name": "x", "channel": "email", "url": "mailto:not-an-address"}, "e-mail"),
        (
            {
                "name": "x",
                "channel": "webhook",
                "url": "https://a.example/x",
                "secret": "plainsecret",
            },
            "whsec_",
        ),
        (
            {"name": "x", "channel": "wecom", "url": "https://a.example/x", "secret": "whatever1"},
            "no secret",
        ),
        (
            {
                "name": "x",
                "channel": "webhook",
                "url": "https://a.example/x",
                "filters": {"min_confidence": 2},
            },
            "less than",
        ),
        (
            {
                "name": "x",
                "channel": "webhook",
                "url": "https://a.example/x",
                "filters": {"types": ["hospital"]},
            },
            "types",
        ),
        (
            {
                "name": "x",
                "channel": "webhook",
                "url": "https://a.example/x",
                "filters": {"colour": "red"},
            },
            "colour",
        ),
        ({"name": "x", "channel": "webhook", "url": "http://169.254.169.254/latest"}, "metadata"),
        ({"name": "x", "channel": "webhook", "url": "http://10.0.0.8/hook"}, "private"),
        ({"name": "x", "channel": "webhook", "url": "http://2130706434/x"}, "loopback"),
        ({"name": "x", "channel": "webhook", "url": "http://0177.0.0.2/x"}, "loopback"),
        ({"name": "x", "channel": "webhook", "url": "http://0x7f000002/x"}, "loopback"),
        ({"name": "x", "channel": "wecom", "url": "http://127.2/x"}, "loopback"),
        ({"name": "x", "channel": "dingtalk", "url": "http://0/x"}, "unspecified"),
        ({"name": "x", "channel": "webhook", "url": "http://[::ffff:10.0.0.1]/x"}, "mapped"),
        ({"name": "x", "channel": "webhook", "url": "http://1.2.3.256/x"}, "not a valid"),
        # A port that is no port was a 500 (the guard read it unguarded).
        ({"name": "x", "channel": "webhook", "url": "https://a.example:99999/x"}, "port"),
        ({"name": "x", "channel": "webhook", "url": "https://a.example:abc/x"}, "port"),
        ({"name": "x", "channel": "wecom", "url": "https://a.example:-1/x"}, "port"),
        ({"name": "x", "channel": "webhook", "url": "http://127.0.0.1:0/x"}, "port"),
        # Hosts other parsers read as another host: refused before any resolving.
        ({"name": "x", "channel": "webhook", "url": "http://%6c%6fcalhost/x"}, "not a host"),
        ({"name": "x", "channel": "webhook", "url": "http://127.0.0.1\\.a.example/"}, "not a host"),
        ({"name": "x", "channel": "dingtalk", "url": "http://a%00.example/x"}, "not a host"),
        (
            {"name": "x", "channel": "webhook", "url": "http://internal.bureau.example/x"},
            "internal.bureau.example resolves to 10.0.0.7 (private)",
        ),
        ({"name": "x", "channel": "webhook", "url": "http://mixed.bureau.example/x"}, "10.0.0.7"),
    ],
)
async def test_bad_subscriptions_are_refused_with_a_reason(
    api: Api, body: dict[str, object], fragment: str
) -> None:
    _, auth = await api.bureau("某县卫健局")
    answer = await api.client.post("/v1/subscriptions", json=body, headers=auth)
    assert answer.status_code == 422, answer.text
    assert fragment in answer.text


async def test_tenant_matrix(api: Api) -> None:
    """Bureau B can neither see nor change nor use anything of bureau A's: all 404."""
    _, a = await api.bureau("四川省卫生健康委员会")
    _, b = await api.bureau("山西省卫生健康委员会")
    sub = (
        await api.client.post(
            "/v1/subscriptions", json=webhook("https://hooks.a.example/x"), headers=a
        )
    ).json()
    await api.parts.service.receive_change(change("c-tenant"))
    deliveries = (await api.client.get("/v1/deliveries", headers=a)).json()["items"]
    assert len(deliveries) == 1
    delivery_id = deliveries[0]["id"]
    [a_key] = (await api.client.get("/v1/keys", headers=a)).json()

    attempts = [
        ("GET", f"/v1/subscriptions/{sub['id']}", None),
        ("PATCH", f"/v1/subscriptions/{sub['id']}", {"name": "hijacked"}),
        ("PATCH", f"/v1/subscriptions/{sub['id']}", {"url": "https://evil.example/x"}),
        ("POST", f"/v1/subscriptions/{sub['id']}/rotate-secret", None),
        ("DELETE", f"/v1/subscriptions/{sub['id']}", None),
        ("GET", f"/v1/deliveries/{delivery_id}", None),
        ("POST", f"/v1/deliveries/{delivery_id}/redeliver", None),
        ("GET", f"/v1/deliveries?subscription_id={sub['id']}", None),
        ("POST", f"/v1/keys/{a_key['id']}/rotate", None),
        ("DELETE", f"/v1/keys/{a_key['id']}", None),
    ]
    for method, path, body in attempts:
        answer = await api.client.request(method, path, json=body, headers=b)
        assert answer.status_code == 404, (method, path, answer.status_code)
        assert "detail" in answer.json()
    # B's own lists are empty; A's data is untouched.
    assert (await api.client.get("/v1/subscriptions", headers=b)).json()["items"] == []
    assert (await api.client.get("/v1/deliveries", headers=b)).json()["items"] == []
    still = (await api.client.get(f"/v1/subscriptions/{sub['id']}", headers=a)).json()
    assert still["name"] == sub["name"] and still["url"] == sub["url"]
    assert (await api.client.get("/v1/subscriptions", headers=a)).status_code == 200
    # Without any key: 401, not 404.
    assert (await api.client.get(f"/v1/subscriptions/{sub['id']}")).status_code == 401


UNSUBSCRIBE_SECRET = "Vt3kP8wQz1LmR6yB9nXc4HdJ7sGf2AeU"


def test_the_operator_token_is_required_and_strong_in_production(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="empty"):
        make_settings("sqlite://", NOTIFY_OPERATOR_TOKEN="")
    for weak, reason in (
        ("changeme", "a default value"),
        ("aaaaaaaaaaaaaaaaaaaaaaaa", "a repeated pattern"),
        ("Xq7-tiny-but-rnd-9", "shorter than 24"),
    ):
        with pytest.raises(ValidationError) as caught:
            make_settings("sqlite://", APP_ENV="production", NOTIFY_OPERATOR_TOKEN=weak)
        message = str(caught.value)
        assert f"NOTIFY_OPERATOR_TOKEN is too weak for production: {reason}" in message
        assert not any(weak[i : i + 4] in message for i in range(len(weak) - 3)), message
    with pytest.raises(ValueError, match="NOTIFY_ALLOWED_NETWORKS"):
        make_settings("sqlite://", NOTIFY_ALLOWED_NETWORKS="not-a-network")
    ok = make_settings(
        "sqlite://",
        APP_ENV="production",
        NOTIFY_OPERATOR_TOKEN="Qm7vX2pL9sKd4TfW8zRb1NcY6hJe3GuA",
        NOTIFY_UNSUBSCRIBE_SECRET=UNSUBSCRIBE_SECRET,
        NOTIFY_ALLOWED_NETWORKS="10.20.0.0/16,fd12:3456::/48",
    )
    assert isinstance(ok, NotifySettings) and len(ok.allowed) == 2


@pytest.mark.parametrize(
    "networks", ["0.0.0.0/0", "::/0", "127.0.0.1/32", "100.64.0.0/10", "10.0.0.0/7", "8.8.8.0/24"]
)
def test_production_opens_private_ranges_only(networks: str) -> None:
    with pytest.raises(ValueError, match="wider than the private ranges"):
        make_settings(
            "sqlite://",
            APP_ENV="production",
            NOTIFY_OPERATOR_TOKEN="Qm7vX2pL9sKd4TfW8zRb1NcY6hJe3GuA",
            NOTIFY_UNSUBSCRIBE_SECRET=UNSUBSCRIBE_SECRET,
            NOTIFY_ALLOWED_NETWORKS=networks,
        )
    assert make_settings("sqlite://", NOTIFY_ALLOWED_NETWORKS=networks).allowed, (
        "not refused in tests"
    )


@pytest.mark.parametrize("networks", ["169.254.0.0/16", "169.254.169.254/32", "fe80::/64"])
def test_an_allow_list_entry_that_could_only_open_link_local_is_refused(networks: str) -> None:
    with pytest.raises(ValueError, match="link-local or a cloud metadata"):
        make_settings("sqlite://", NOTIFY_ALLOWED_NETWORKS=networks)


async def test_a_place_that_is_no_place_is_refused_with_the_nearest_names(api: Api) -> None:
    _, auth = await api.bureau("朝阳区卫生健康委员会")
    answer = await api.client.post(
        "/v1/subscriptions", json=webhook(counties=["朝杨区"]), headers=auth
    )
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "filters", "counties"]
    assert "朝阳区" in error["ctx"]["suggestions"]
    assert "unknown county '朝杨区'" in error["msg"]
    # A city in the counties list is told where it belongs.
    wrong_list = await api.client.post(
        "/v1/subscriptions", json=webhook(counties=["西安市"]), headers=auth
    )
    assert "西安市 is a city, not a county" in wrong_list.text
    # The same check on a change, and a known place is taken as written.
    created = await api.client.post(
        "/v1/subscriptions", json=webhook(provinces=["北京市"], counties=["朝阳区"]), headers=auth
    )
    assert created.status_code == 201, created.text
    changed = await api.client.patch(
        f"/v1/subscriptions/{created.json()['id']}",
        json={"filters": {"cities": ["北京", "长春市", "成都县"]}},
        headers=auth,
    )
    assert changed.status_code == 422 and "成都市" in changed.text
