"""Each service's store works the same on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from services.common.contracts import (
    Alliance,
    AllianceChange,
    ChangeKind,
    EventType,
    ExtractedArticle,
)
from services.common.db import database_ready, make_engine
from services.ingest.adapters.migrate import upgrade as upgrade_ingest
from services.ingest.adapters.store import SeenArticles
from services.notify.adapters.migrate import upgrade as upgrade_notify
from services.notify.adapters.repository import NotifyRepository
from services.registry.adapters.migrate import upgrade as upgrade_registry
from services.registry.adapters.queries import RegistryQueries
from services.registry.service import RegistryService
from tests.integration.ingest_articles import claim, record, recorded, release

NOW = datetime(2024, 5, 1, tzinfo=UTC)


async def test_ingest_remembers_accepted_articles(database_url: str) -> None:
    engine = make_engine(database_url)
    seen = SeenArticles(engine)
    upgrade_ingest(engine)
    assert await database_ready(engine)
    assert not recorded(seen, "u1", "h1")
    await record(seen, "u1", "h1")
    await record(seen, "u1", "h1")
    assert recorded(seen, "u1", "h1")
    assert not recorded(seen, "u1", "h2"), "new content at the same URL is not a duplicate"
    claims = await seen.claim_unseen({"u1": "h1"}, "a-push", 60)
    assert claims.seen == ["u1"] and not claims.taken
    engine.dispose()


async def test_ingest_gives_an_article_claim_to_exactly_one_concurrent_claimant(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    seen = SeenArticles(engine)
    upgrade_ingest(engine)
    for article in ("u1", "u2", "u3"):
        won = await asyncio.gather(*(claim(seen, article, f"c{n}") for n in range(20)))
        assert sum(won) == 1, f"{sum(won)} of 20 concurrent claims of {article} won"
    engine.dispose()


async def test_ingest_takes_over_an_expired_claim_and_only_its_holder_ends_one(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    now = [1_000.0]
    seen = SeenArticles(engine, clock=lambda: now[0])
    upgrade_ingest(engine)
    assert await claim(seen, "u1", "dead")
    now[0] += 59
    assert not await claim(seen, "u1", "late"), "a claim younger than the expiry holds"
    now[0] += 2
    assert await claim(seen, "u1", "late"), "a claim past the expiry is taken over"
    await release(seen, "dead")
    assert not await claim(seen, "u1", "third"), "the old holder cannot end the new claim"
    await record(seen, "u1", "h1", "late")
    assert recorded(seen, "u1", "h1")
    assert await claim(seen, "u1", "third"), "recording the article ended its claim"
    engine.dispose()


async def test_ingest_claims_a_batch_in_one_transaction_and_settles_it_in_one_more(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    seen = SeenArticles(engine)
    upgrade_ingest(engine)
    await record(seen, "old", "h")
    assert await claim(seen, "busy", "another-push")
    batch = {"old": "h", "busy": "h", "new": "h", "lost": "h", "updated": "h2"}
    await record(seen, "updated", "h1")

    claims = await seen.claim_unseen(batch, "this-push", 60)
    assert claims.seen == ["old"]
    assert claims.held == ["busy"]
    assert claims.taken == ["new", "lost", "updated"], "new content at a known URL is sent"

    # "new" and "updated" were acknowledged, "lost" was not.
    await seen.settle({"new": "h", "updated": "h2"}, "this-push")
    again = await seen.claim_unseen(batch, "a-retry", 60)
    assert again.seen == ["old", "new", "updated"]
    assert again.taken == ["lost"], "the claim of the one not acknowledged was released"
    assert again.held == ["busy"], "only a claim's holder ends it"
    engine.dispose()


async def test_ingest_gives_each_article_of_overlapping_batches_to_exactly_one_claimant(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    seen = SeenArticles(engine)
    upgrade_ingest(engine)
    articles = [f"u{n:02}" for n in range(30)]
    an_hour_ago = SeenArticles(engine, clock=lambda: time.time() - 3600)
    for article in articles[::3]:  # left by a process that died: each taken over once
        assert await claim(an_hour_ago, article, "dead")
    # Each batch holds the articles in another order (as crawlers of different feeds
    # would): on PostgreSQL that must wait, never deadlock.
    batches = [
        {a: "h" for a in articles[n % 3 :: 1 + n % 2][:: 1 if n % 2 else -1]} for n in range(12)
    ]
    claims = await asyncio.gather(
        *(seen.claim_unseen(batch, f"c{n}", 60) for n, batch in enumerate(batches))
    )
    taken = [article for claim in claims for article in claim.taken]
    assert sorted(taken) == articles, "each article claimed once, by one batch"
    engine.dispose()


async def test_registry_keeps_one_report_per_article(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade_registry(engine)
    registry = RegistryService(engine)
    report = ExtractedArticle(
        article_id="u1", extractor_version="1", relevant=False, extracted_at=NOW
    )
    assert registry.apply_extraction(report, NOW).status == "applied"
    again = registry.apply_extraction(report, NOW)
    assert again.status != "applied", "a replayed report changes nothing"
    newer = report.model_copy(update={"extractor_version": "2"})
    assert registry.apply_extraction(newer, NOW).status == "applied"
    rows, _ = RegistryQueries(engine).list_articles(10, None)
    assert [(r.article_id, ids) for r, ids in rows] == [("u1", [])]
    engine.dispose()


async def test_notify_receives_each_change_once(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade_notify(engine)
    notify = NotifyRepository(engine)
    change = AllianceChange(
        change_id="c1",
        alliance_id="al1",
        kind=ChangeKind.created,
        alliance=Alliance(
            id="al1",
            type=EventType.specialty_alliance,
            confidence=0.9,
            first_seen=NOW,
            last_seen=NOW,
        ),
        occurred_at=NOW,
    )
    assert await notify.record_change(change, NOW, []) is True
    assert await notify.record_change(change, NOW, []) is False
    assert await notify.received_change_ids() == ["c1"]
    engine.dispose()
