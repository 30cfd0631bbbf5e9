"""The seed articles, pushed to ingest, reach subscribed bureaus as exactly one validly
signed alert per matching alliance, and none where the filters do not match."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tools.harness import Stack, WebhookReceiver

SHARED = Path(__file__).resolve().parents[3] / "shared"
SEEDS = SHARED / "seeds"


def seed_articles() -> list[dict[str, str | None]]:
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds is not present")
    gold = {
        row["file"]: row
        for row in map(json.loads, (SHARED / "eval" / "seeds.gold.jsonl").read_text().splitlines())
    }
    return [
        {
            "url": f"https://seeds.alliance-watch.local/{path.stem}",
            "title": "",
            "body": path.read_text(encoding="utf-8"),
            "content_type": "text/plain",
            "published_at": gold[path.name]["published"],
        }
        for path in sorted(SEEDS.glob("*.txt"))
    ]


def wait_for_quiet(receiver: WebhookReceiver, at_least: int, quiet: float = 3.0) -> None:
    """Until at least ``at_least`` arrived and nothing more came for ``quiet`` seconds."""
    deadline = time.monotonic() + 90
    last_count, last_change = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(receiver.snapshot())
        if count != last_count:
            last_count, last_change = count, time.monotonic()
        elif count >= at_least and time.monotonic() - last_change > quiet:
            return
        time.sleep(0.2)
    raise AssertionError(f"{len(receiver.snapshot())} webhooks arrived, expected {at_least}")


def test_seed_articles_reach_matching_subscriptions_once(pipeline: Stack) -> None:
    articles = seed_articles()
    with WebhookReceiver() as receiver:
        sichuan = pipeline.create_bureau("四川省卫生健康委员会")
        national = pipeline.create_bureau("国家卫生健康委员会")
        subscriptions = {
            "everything": (national, {}),
            "sichuan": (sichuan, {"provinces": ["四川"]}),
            "trusteeships": (national, {"types": ["trusteeship"]}),
            "orthopaedics-shanxi": (national, {"provinces": ["山西"], "specialties": ["骨科"]}),
        }
        for name, (key, filters) in subscriptions.items():
            created = pipeline.subscribe(key, name, receiver.url(name), filters)
            receiver.secrets[name] = created["secret"]

        for article in articles:
            assert pipeline.push(article).status_code == 202
        wait_for_quiet(receiver, at_least=4 + 2 + 1)
        for article in articles:  # a crawler pushing the same articles again
            assert pipeline.push(article).json()["duplicate"] is True
        time.sleep(2)

        alliances = pipeline.alliances()
        arrived = receiver.snapshot()

    assert len(alliances) == 4
    assert all(w.valid_signature for w in arrived), "every alert verifies with its secret"
    by_path = Counter(w.path for w in arrived)
    assert by_path == {"everything": 4, "sichuan": 2, "orthopaedics-shanxi": 1}
    ids = [w.webhook_id for w in arrived]
    assert len(ids) == len(set(ids)), "no alert was sent twice"
    assert {w.payload["type"] for w in arrived} == {"alliance.created"}
    sichuan_leads = {
        lead["name"]
        for w in arrived
        if w.path == "sichuan"
        for lead in w.payload["alliance"]["lead"]
    }
    assert sichuan_leads == {"西安市红会医院", "西南医科大学附属医院"}
    # Every alert links to its evidence: the alliance's page on the registry's dashboard
    # (PUBLIC_BASE_URL unset: the registry's own address), which answers with its sources.
    for webhook in arrived:
        alliance = webhook.payload["alliance"]
        page = f"{pipeline['registry'].url}/alliances/{alliance['id']}"
        assert webhook.payload["url"] == alliance["url"] == page
        assert f"查看证据：{page}" in webhook.payload["text"]
    for page in {w.payload["url"] for w in arrived}:
        answer = httpx.get(page, timeout=30)
        assert answer.status_code == 200 and "text/html" in answer.headers["content-type"]
