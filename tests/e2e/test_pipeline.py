"""The running services, end to end: an article pushed to ingest is extracted and reaches
the registry; every service answers health, readiness and metrics, and stops cleanly."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import CRAWLER_TOKEN, Pipeline

ROOT = Path(__file__).resolve().parents[2]


def registry_articles(registry_url: str) -> dict[str, dict[str, object]]:
    """Every article the registry took in, through its API."""
    found: dict[str, dict[str, object]] = {}
    cursor: str | None = None
    while True:
        params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        try:
            page = httpx.get(registry_url + "/v1/articles", params=params, timeout=5).json()
        except httpx.HTTPError:
            return found
        found.update({item["article_id"]: item for item in page["items"]})
        cursor = page["next_cursor"]
        if cursor is None:
            return found


def test_a_pushed_article_flows_through_extract_into_the_registry(pipeline: Pipeline) -> None:
    demo = [
        json.loads(line) for line in (ROOT / "demo" / "articles.jsonl").read_text().splitlines()
    ]
    answer = httpx.post(
        pipeline["ingest"].url + "/v1/articles/batch",
        json=demo,
        headers={"Authorization": f"Bearer {CRAWLER_TOKEN}"},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    ids = {r["article_id"] for r in answer.json()["results"]}
    assert len(ids) == len(demo)

    registry = pipeline["registry"].url
    deadline = time.monotonic() + 60
    while set(registry_articles(registry)) != ids and time.monotonic() < deadline:
        time.sleep(0.5)
    articles = registry_articles(registry)
    assert set(articles) == ids
    assert all(a["extractor_version"] for a in articles.values())
    relevant = [a for a in articles.values() if a["relevant"] and a["event_count"]]
    assert relevant, "at least one demo article reports an alliance"
    details = [httpx.get(f"{registry}/v1/articles/{a['article_id']}").json() for a in relevant]
    filed = [d for d in details if d["alliance_ids"]]
    assert filed, "the registry filed the reported events under alliances"
    alliance = httpx.get(f"{registry}/v1/alliances/{filed[0]['alliance_ids'][0]}").json()
    assert filed[0]["article_id"] in {s["article_id"] for s in alliance["sources"]}
    listed = httpx.get(registry + "/v1/alliances", params={"limit": 200}).json()["items"]
    assert alliance["id"] in {a["id"] for a in listed}
    before = {a["id"]: a["revision"] for a in listed}

    # A re-push is answered as a duplicate and leaves the registry as it was.
    again = httpx.post(
        pipeline["ingest"].url + "/v1/articles",
        json=demo[0],
        headers={"Authorization": f"Bearer {CRAWLER_TOKEN}"},
    )
    assert again.json()["duplicate"] is True
    after = httpx.get(registry + "/v1/alliances", params={"limit": 200}).json()["items"]
    assert {a["id"]: a["revision"] for a in after} == before

    metrics = httpx.get(pipeline["extract"].url + "/metrics").text
    assert "kafka_messages_consumed_total" in metrics
    assert 'extract_articles_total{relevant="true"}' in metrics


def test_every_service_is_healthy_ready_and_stops_cleanly(pipeline: Pipeline) -> None:
    for service in pipeline.services.values():
        assert httpx.get(service.url + "/healthz").json() == {"status": "ok"}
        ready = httpx.get(service.url + "/readyz").json()
        assert ready["status"] == "ready" and all(ready["checks"].values())
        assert "http_requests_total" in httpx.get(service.url + "/metrics").text
    for service in pipeline.services.values():
        assert service.stop() == 0, service.log.read_text()[-2000:]
