"""The dashboard's timeline in Chromium over alliances dated from 2013 to 2025: the whole
range is in view by default with bars a person can see, and each type has one colour in
every view (the registry's), whichever types a filter leaves."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from services.common.contracts import EventType, ExtractedArticle
from services.common.db import make_engine
from services.common.labels import TYPE_COLOURS, TYPE_LABELS
from services.registry.adapters.migrate import upgrade
from services.registry.bootstrap import build_api
from services.registry.config import RegistrySettings
from services.registry.service import RegistryService
from tests.browser.conftest import BrowserPage
from tests.browser.test_views import event, mention
from tools.harness import free_port

NOW = datetime(2025, 6, 1, tzinfo=UTC)

#: One alliance of each type, the oldest in 2013 (which the old default zoom hid).
EVENTS = [
    event(
        EventType.county_community,
        mention("德清县人民医院", "浙江", "湖州市"),
        [mention("德清县新市镇卫生院", "浙江", "湖州市")],
        "2013-03-15",
        "德清县人民医院牵头组建县域医共体",
    ),
    event(
        EventType.medical_group,
        mention("郑州市中心医院", "河南", "郑州市"),
        [mention("郑州市第七人民医院", "河南", "郑州市")],
        "2015-06",
        "郑州市中心医院成立医疗集团",
    ),
    event(
        EventType.remote_network,
        mention("四川大学华西医院", "四川", "成都市"),
        [mention("甘孜藏族自治州人民医院", "四川", "甘孜藏族自治州")],
        "2016-09-01",
        "四川大学华西医院与甘孜藏族自治州人民医院建立远程医疗协作网",
    ),
    event(
        EventType.specialty_alliance,
        mention("西安市红会医院", "陕西", "西安市"),
        [mention("广汉市第二人民医院", "四川", "德阳市")],
        "2018-07-29",
        "西安市红会医院与广汉市第二人民医院建立骨科专科联盟",
        "骨科",
    ),
    event(
        EventType.consortium,
        mention("济南市中心医院", "山东", "济南市"),
        [mention("济南市章丘区人民医院", "山东", "济南市")],
        "2020-11-11",
        "济南市中心医院与济南市章丘区人民医院组建医联体",
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
        EventType.other,
        mention("北京协和医院", "北京", "北京市"),
        [mention("西藏自治区人民医院", "西藏", "拉萨市")],
        "2025-05-20",
        "北京协和医院对口支援西藏自治区人民医院",
    ),
]

TIMELINE = """() => {
  const chart = echarts.getInstanceByDom(document.getElementById('timeline'));
  const option = chart.getOption();
  const model = chart.getModel();
  const rect = model.getComponent('grid', 0).coordinateSystem.getRect();
  const [first, last] = model.getComponent('xAxis', 0).axis.scale.getExtent();
  return {
    unit: document.body.dataset.timelineUnit,
    title: document.getElementById('timeline-title').textContent,
    keys: option.xAxis[0].data,
    extent: [first, last],
    zoom: (option.dataZoom || []).length,
    series: option.series.map((s, k) => {
      const data = model.getSeriesByIndex(k).getData();
      const bars = [];
      s.data.forEach((value, i) => {
        if (!value) return;
        const box = data.getItemLayout(i);
        bars.push({ index: i, value, x: box.x, width: Math.abs(box.width),
          inside: box.x >= rect.x - 0.5 && box.x + box.width <= rect.x + rect.width + 0.5 });
      });
      return { name: s.name, color: s.itemStyle.color, bars };
    }),
  };
}"""


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    """A registry served over HTTP, with the front-end packages, holding ``EVENTS``."""
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    engine = make_engine(url)
    upgrade(engine)
    repository = RegistryService(engine)
    for number, item in enumerate(EVENTS):
        repository.apply_extraction(
            ExtractedArticle(
                article_id=f"old-{number}",
                extractor_version="test",
                url=f"https://news.example.cn/{number}.html",
                title=f"新闻 {number}",
                published_at=date(2025, 6, 1),
                relevant=True,
                events=(item,),
                extracted_at=NOW,
            ),
            NOW + timedelta(minutes=number),
        )
    app = build_api(RegistrySettings(REGISTRY_DATABASE_URL=url), repository)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


def timeline(web: BrowserPage, url: str) -> dict[str, Any]:
    web.page.goto(url)
    web.wait_ready()
    assert web.page.evaluate("document.body.dataset.timeline") == "ready"
    shown: dict[str, Any] = web.page.evaluate(TIMELINE)
    return shown


def colours(shown: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["color"] for s in shown["series"]}


def test_the_whole_range_is_in_view_with_readable_bars(registry: str, web: BrowserPage) -> None:
    shown = timeline(web, registry + "/")
    web.screenshot("dashboard-timeline-2013-2025")
    assert shown["keys"][0].startswith("2013") and shown["keys"][-1].startswith("2025")
    assert shown["unit"] == "year" and shown["title"] == "按年成立数"
    assert shown["extent"] == [0, len(shown["keys"]) - 1], "nothing is zoomed out of view"
    bars = [bar for s in shown["series"] for bar in s["bars"]]
    assert sum(bar["value"] for bar in bars) == len(EVENTS), "every alliance is counted"
    assert all(bar["inside"] for bar in bars), f"a bar outside the chart: {bars}"
    assert min(bar["width"] for bar in bars) >= 10, "bars a person can see"
    assert {shown["keys"][b["index"]] for b in bars} >= {"2013", "2025"}
    assert "2013年3月至2025年5月，共 8 个" in web.page.inner_text("#timeline-note")

    # A narrower date range is drawn by month.
    narrow = timeline(web, registry + "/?since=2022-01-01&until=2022-12-31")
    web.screenshot("dashboard-timeline-2022")
    assert narrow["unit"] == "month" and narrow["keys"] == ["2022-01", "2022-02", "2022-03"]
    assert sum(bar["value"] for s in narrow["series"] for bar in s["bars"]) == 2
    assert web.problems.all() == []


def test_a_type_keeps_its_colour_in_every_view(registry: str, web: BrowserPage) -> None:
    facets = httpx.get(registry + "/v1/views/facets", timeout=10).json()
    expected = {t["label"]: t["color"] for t in facets["types"]}
    assert expected == {TYPE_LABELS[k]: v for k, v in TYPE_COLOURS.items()}
    assert len(set(expected.values())) == len(expected), "one colour per type"

    everything = colours(timeline(web, registry + "/"))
    assert everything == expected, "every type is in view, each in its colour"
    views = [
        "/?province=四川",
        "/?type=trusteeship",
        "/?type=other",
        "/?since=2018-01-01",
        "/?q=人民医院",
    ]
    for view in views:
        shown = colours(timeline(web, registry + view))
        assert shown, f"{view} shows no series"
        assert shown == {name: expected[name] for name in shown}, view
    alone = colours(timeline(web, registry + "/?type=trusteeship"))
    assert alone == {"托管": TYPE_COLOURS[EventType.trusteeship]}, "not the palette's first"
    web.screenshot("dashboard-timeline-trusteeship")
    assert web.problems.all() == []
