"""The query API over HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from services.common.contracts import EventType
from services.common.labels import TYPE_LABELS
from services.registry.bootstrap import build_api
from services.registry.config import RegistrySettings
from services.registry.service import RegistryService
from tests.integration.registry.test_repository import apply, seed_messages

TOKEN = "api-test-operator-token-0123456789"


@pytest.fixture
def client(repository: RegistryService) -> Iterator[TestClient]:
    for message in seed_messages():
        apply(repository, message)
    settings = RegistrySettings(REGISTRY_OPERATOR_TOKEN=TOKEN)  # type: ignore[call-arg]
    with TestClient(build_api(settings, repository)) as test_client:
        yield test_client


def test_list_filters_and_keyset_pagination(client: TestClient) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/alliances", params=params).json()
        seen.extend(a["id"] for a in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 4
    sichuan = client.get("/v1/alliances", params={"province": "四川省"}).json()["items"]
    assert len(sichuan) == 2
    (red_cross,) = client.get(
        "/v1/alliances", params={"institution": "陕西省西安市红会医院"}
    ).json()["items"]
    assert red_cross["cross_province"] is True and red_cross["provinces"] == ["陕西", "四川"]
    assert red_cross["sources"][0]["evidence"]
    assert client.get(f"/v1/alliances/{red_cross['id']}").json() == red_cross
    dated = client.get(
        "/v1/alliances", params={"since": "2018-01-01", "until": "2018-12-31"}
    ).json()["items"]
    assert len(dated) == 2


def test_article_list_gives_each_article_its_alliances(client: TestClient) -> None:
    """Each article of /v1/articles names the alliances it reports, as its detail does,
    on every page."""
    listed: list[dict[str, object]] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/articles", params=params).json()
        listed += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert listed
    for item in listed:
        detail = client.get(f"/v1/articles/{item['article_id']}").json()
        assert item == detail
    reporting = [a for a in listed if a["event_count"]]
    assert reporting and all(a["alliance_ids"] for a in reporting)
    alliances = {a["id"] for a in client.get("/v1/alliances", params={"limit": 50}).json()["items"]}
    assert {i for a in listed for i in a["alliance_ids"]} == alliances  # type: ignore[attr-defined]


def test_errors_are_4xx_with_detail(client: TestClient) -> None:
    for path, params, code in (
        ("/v1/alliances/nope", {}, 404),
        ("/v1/institutions/nope", {}, 404),
        ("/v1/articles/nope", {}, 404),
        ("/v1/alliances", {"cursor": "not-a-cursor"}, 400),
        ("/v1/alliances", {"limit": 0}, 422),
        ("/v1/alliances", {"type": "hospital"}, 422),
        ("/v1/alliances", {"since": "2020-01-01", "until": "2019-01-01"}, 422),
    ):
        answer = client.get(path, params=params)
        assert answer.status_code == code, (path, params, answer.text)
        assert "detail" in answer.json()


def test_a_place_that_is_no_place_is_refused_with_the_nearest_names(client: TestClient) -> None:
    for path, params, suggestion in (
        ("/v1/alliances", {"county": "叙勇县"}, "叙永县"),
        ("/v1/alliances", {"province": "四州省"}, "四川省"),
        ("/v1/alliances", {"city": "泸洲市"}, "泸州市"),
        ("/v1/institutions", {"province": "陕面"}, "陕西省"),
        ("/v1/views/facets", {"province": "陕面"}, "陕西省"),
    ):
        answer = client.get(path, params=params)
        assert answer.status_code == 422, (path, params, answer.text)
        [error] = answer.json()["detail"]
        assert error["loc"] == ["query", next(iter(params))]
        assert suggestion in error["suggestions"], error
    assert client.get("/v1/alliances", params={"county": "叙永"}).status_code == 200


def test_institutions_search_and_page(client: TestClient) -> None:
    found = client.get("/v1/institutions", params={"q": "红会"}).json()["items"]
    assert [i["name"] for i in found] == ["西安市红会医院"]
    detail = client.get(f"/v1/institutions/{found[0]['id']}").json()
    assert detail["alliance_count"] == 1
    assert detail["alliances"][0]["role"] == "lead"
    assert detail["alliances"][0]["alliance"]["specialty"] == "骨科"
    page = client.get("/v1/institutions", params={"limit": 5}).json()
    rest = client.get("/v1/institutions", params={"limit": 5, "cursor": page["next_cursor"]}).json()
    assert len(page["items"]) + len(rest["items"]) == 8 and rest["next_cursor"] is None


def test_stats_csv_and_network(client: TestClient) -> None:
    stats = client.get("/v1/stats").json()
    assert stats["total"] == 4 and stats["by_specialty"] == {"骨科": 2}
    assert client.get("/v1/stats", params={"province": "山西"}).json()["total"] == 1

    answer = client.get("/v1/alliances.csv", params={"type": "tight_consortium"})
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert {r["牵头单位"] for r in rows} == {"桂林市中西医结合医院", "西南医科大学附属医院"}
    assert {(r["类型"], r["类型代码"]) for r in rows} == {("紧密型医联体", "tight_consortium")}

    network = client.get("/v1/network").json()
    assert network["alliance_count"] == 4
    assert len(network["nodes"]) == 8 and len(network["edges"]) == 4
    graphml = ET.fromstring(client.get("/v1/network.graphml").content)
    ns = {"g": "http://graphml.graphdrawing.org/xmlns"}
    assert len(graphml.findall(".//g:node", ns)) == 8
    assert len(graphml.findall(".//g:edge", ns)) == 4


def test_csv_speaks_chinese_and_keeps_the_codes(client: TestClient) -> None:
    """Headers and type names as the dashboard and the alerts word them (one table of
    names), the type's code beside its name for machines."""
    answer = client.get("/v1/alliances.csv")
    assert answer.content.startswith("\ufeff".encode()), "a BOM, for spreadsheets"
    reader = csv.reader(io.StringIO(answer.text.lstrip("\ufeff")))
    header = next(reader)
    assert header[:5] == ["编号", "类型", "类型代码", "专科", "成立日期"]
    assert all(not name.isascii() for name in header), header
    rows = [dict(zip(header, row, strict=True)) for row in reader]
    assert len(rows) == 4
    for row in rows:
        assert row["类型"] == TYPE_LABELS[EventType(row["类型代码"])]
        assert row["跨省"] in ("是", "否")
    orthopaedics = [r for r in rows if r["专科"] == "骨科"]
    assert {r["类型"] for r in orthopaedics} == {"专科联盟"}
    crossing = {r["牵头单位"]: r["跨省"] for r in rows}
    assert crossing["西安市红会医院"] == "是"
    table = client.get("/v1/views/table", params={"size": 10}).json()["items"]
    assert {r["type_label"] for r in table} == {r["类型"] for r in rows}, "as the dashboard"


def test_renames_need_the_operator_token(client: TestClient) -> None:
    body = {"old_name": "泸州医学院附属医院", "new_name": "西南医科大学附属医院"}
    assert client.post("/v1/renames", json=body).status_code == 401
    wrong = {"Authorization": "Bearer wrong"}
    assert client.post("/v1/renames", json=body, headers=wrong).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    created = client.post("/v1/renames", json=body, headers=auth)
    assert created.status_code == 201, created.text
    assert client.post("/v1/renames", json=body, headers=auth).status_code == 200
    same = {"old_name": "甲医院", "new_name": "甲医院"}
    assert client.post("/v1/renames", json=same, headers=auth).status_code == 422
    assert [r["old_name"] for r in client.get("/v1/renames", headers=auth).json()] == [
        "泸州医学院附属医院"
    ]
    rule = created.json()["id"]
    assert client.delete(f"/v1/renames/{rule}", headers=auth).status_code == 204
    assert client.delete(f"/v1/renames/{rule}", headers=auth).status_code == 404


def test_operator_endpoints_are_off_without_a_token(repository: RegistryService) -> None:
    settings = RegistrySettings(REGISTRY_OPERATOR_TOKEN="")  # type: ignore[call-arg]
    with TestClient(build_api(settings, repository)) as client:
        answer = client.get("/v1/renames", headers={"Authorization": "Bearer x"})
    assert answer.status_code == 503 and "REGISTRY_OPERATOR_TOKEN" in answer.json()["detail"]


def test_every_alliance_names_its_evidence_page(repository: RegistryService) -> None:
    """The JSON API links each alliance to the page alerts link to (PUBLIC_BASE_URL)."""
    for message in seed_messages():
        apply(repository, message)
    settings = RegistrySettings(  # type: ignore[call-arg]
        REGISTRY_OPERATOR_TOKEN=TOKEN, PUBLIC_BASE_URL="https://watch.example.cn/aw/"
    )
    with TestClient(build_api(settings, repository)) as linked:
        items = linked.get("/v1/alliances").json()["items"]
        assert items and all(
            a["url"] == f"https://watch.example.cn/aw/alliances/{a['id']}" for a in items
        )
        one = linked.get(f"/v1/alliances/{items[0]['id']}").json()
        assert one["url"] == items[0]["url"]
        lead = items[0]["lead"][0]["id"]
        detail = linked.get(f"/v1/institutions/{lead}").json()
        assert all(entry["alliance"]["url"] for entry in detail["alliances"])
    # Unset, the page is the registry's own address: reachable on this machine only.
    local = RegistrySettings(REGISTRY_OPERATOR_TOKEN=TOKEN, REGISTRY_PORT=8002)  # type: ignore[call-arg]
    with TestClient(build_api(local, repository)) as plain:
        assert all(
            a["url"].startswith("http://127.0.0.1:8002/alliances/")
            for a in plain.get("/v1/alliances").json()["items"]
        )
