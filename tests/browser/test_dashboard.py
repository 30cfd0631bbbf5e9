"""The dashboard in headless Chromium, over the seed articles pushed through the real
pipeline (ingest -> extract -> registry on the session's Kafka broker)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from tests.browser.conftest import BrowserPage
from tests.e2e.test_alerts import seed_articles
from tools.harness import Stack

SEED_LEADS = {
    "西安市红会医院",
    "山西医科大学第二医院",
    "桂林市中西医结合医院",
    "西南医科大学附属医院",
}
SICHUAN_LEADS = {"西安市红会医院", "西南医科大学附属医院"}

MAP_DATA = """() => {
  const chart = echarts.getInstanceByDom(document.getElementById('map'));
  const option = chart.getOption();
  return {
    provinces: Object.fromEntries(
      option.series[0].data.filter(d => d.value != null).map(d => [d.name, d.value])),
    links: option.series[1].data.map(d => d.name),
  };
}"""
TIMELINE_TOTAL = """() => {
  const option = echarts.getInstanceByDom(document.getElementById('timeline')).getOption();
  return option.series.reduce((n, s) => n + s.data.reduce((a, b) => a + b, 0), 0);
}"""


def wait_for_alliances(stack: Stack, count: int, timeout: float = 120) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    alliances: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        alliances = stack.alliances()
        if len(alliances) >= count:
            time.sleep(1)  # let a late update settle
            return stack.alliances()
        time.sleep(0.3)
    raise AssertionError(f"{len(alliances)} alliances in the registry, expected {count}")


def table_leads(web: BrowserPage) -> list[str]:
    return [cell.strip() for cell in web.page.locator("#rows td.lead").all_inner_texts()]


def test_dashboard_over_the_seed_articles(pipeline: Stack, web: BrowserPage) -> None:
    for article in seed_articles():
        assert pipeline.push(article).status_code == 202
    alliances = wait_for_alliances(pipeline, 4)
    assert {lead["name"] for a in alliances for lead in a["lead"]} == SEED_LEADS
    registry = pipeline["registry"].url
    stats = httpx.get(registry + "/v1/stats", timeout=10).json()
    page = web.page

    # 1. The overview shows the seed alliances: table, map and timeline.
    page.goto(registry + "/")
    web.wait_ready()
    web.screenshot("dashboard")
    assert page.inner_text("#total") == "4"
    assert page.locator("#rows tr").count() == 4
    assert set(table_leads(web)) == SEED_LEADS
    assert page.evaluate("document.body.dataset.map") == "ready", "the China map is drawn"
    shown = page.evaluate(MAP_DATA)
    assert shown["provinces"] == stats["by_province"]
    assert shown["provinces"]["四川"] == 2
    assert shown["links"] == ["四川 — 陕西"], "the one cross-province alliance is a line"
    assert page.evaluate(TIMELINE_TOTAL) == 4, "every seed alliance is dated"

    # 2. A filter narrows the table and the map, and lives in the URL.
    page.select_option("#f-province", "四川")
    page.click("button[type=submit]")
    page.wait_for_url("**/?province=*")
    web.wait_ready()
    web.screenshot("dashboard-province-sichuan")
    assert parse_qs(urlparse(page.url).query) == {"province": ["四川"]}
    assert page.inner_text("#total") == "2"
    assert page.locator("#rows tr").count() == 2
    assert set(table_leads(web)) == SICHUAN_LEADS
    narrowed = page.evaluate(MAP_DATA)["provinces"]
    assert narrowed == {"四川": 2, "陕西": 1}
    assert page.evaluate(TIMELINE_TOTAL) == 2

    # The URL is a shareable view: opened afresh, it shows the same.
    shared = page.url
    page.goto("about:blank")
    page.goto(shared)
    web.wait_ready()
    assert page.input_value("#f-province") == "四川"
    assert page.locator("#rows tr").count() == 2

    # A text filter and sorting, server-side.
    page.goto(registry + "/?q=" + "红会")
    web.wait_ready()
    assert table_leads(web) == ["西安市红会医院"]
    page.goto(registry + "/")
    web.wait_ready()
    page.click("th[data-sort=confidence]")
    page.wait_for_url("**sort=-confidence*")
    page.wait_for_function("document.body.dataset.table === 'ready'")
    shown_confidence = [float(x) for x in page.locator("#rows td.num").all_inner_texts()]
    assert shown_confidence == sorted(shown_confidence, reverse=True)
    page.click("th[data-sort=date]")  # back to the default order: newest first
    page.wait_for_function("!location.search.includes('sort=')")
    page.wait_for_function("document.body.dataset.table === 'ready'")
    dates = page.locator("#rows td.nowrap").all_inner_texts()[::2]
    assert dates == sorted(dates, reverse=True)
    page.click("th[data-sort=date]")
    page.wait_for_url("**sort=date*")
    page.wait_for_function("document.body.dataset.table === 'ready'")
    dates = page.locator("#rows td.nowrap").all_inner_texts()[::2]
    assert dates == sorted(dates)

    # 3. An alliance page shows its facts and every source's evidence, highlighted.
    page.goto(registry + "/?province=四川")
    web.wait_ready()
    row = page.locator("#rows tr", has_text="西安市红会医院")
    row.locator("a.detail-link").click()
    page.wait_for_url("**/alliances/*")
    web.screenshot("alliance")
    assert "西安市红会医院" in page.inner_text("h1")
    facts = page.inner_text("dl.facts")
    for expected in ("专科联盟", "骨科", "广汉市第二人民医院", "2018-07-29", "陕西", "四川", "是"):
        assert expected in facts
    evidence = page.locator("#sources mark.evidence")
    assert evidence.count() >= 1
    assert "骨科专科联盟" in evidence.first.inner_text()
    names = page.locator("#sources mark.evidence b.name").all_inner_texts()
    assert any("红会医院" in n for n in names) and any("广汉市第二人民医院" in n for n in names)

    # 4. The lead's institution page: its alliances and its partner network.
    page.click("dl.facts a:has-text('西安市红会医院')")
    page.wait_for_url("**/institutions/*")
    page.wait_for_function("document.body.dataset.graph === 'ready'")
    web.screenshot("institution")
    assert page.inner_text("h1") == "西安市红会医院"
    assert "广汉市第二人民医院" in page.inner_text("#partners")
    assert page.locator("#institution-alliances tbody tr").count() == 1

    # 5. Nothing went wrong in the browser along the way.
    assert web.problems.all() == []
