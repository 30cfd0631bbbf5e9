"""Two registry replicas on one PostgreSQL database, writing at once: reports of one
alliance from different articles, applied by both replicas at the same moment, file one
alliance, and the outbox holds its changes in commit order with one relay at a time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from services.common.contracts import ExtractedArticle
from services.common.db import make_engine
from services.registry.adapters import outbox as outbox_rows
from services.registry.adapters.migrate import upgrade
from services.registry.adapters.outbox import OutboxRelay
from services.registry.adapters.queries import AllianceFilters, RegistryQueries
from services.registry.service import ApplyOutcome, RegistryService
from tests.integration.registry.seeds import seed_messages
from tools.localpg import LocalPostgres

NOW = datetime(2024, 6, 2, tzinfo=UTC)


@pytest.fixture
def two_replicas(postgres: LocalPostgres) -> Iterator[tuple[RegistryService, RegistryService]]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(name)
    engines = [make_engine(url), make_engine(url)]
    try:
        # Both migrate at start-up, as replicas do; the advisory lock makes it once.
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(upgrade, engines))
        yield RegistryService(engines[0]), RegistryService(engines[1])
    finally:
        for engine in engines:
            engine.dispose()
        postgres.drop_database(name)


def copies(message: ExtractedArticle, count: int) -> list[ExtractedArticle]:
    """The same report as ``count`` different outlets' articles."""
    return [
        message.model_copy(update={"article_id": f"{message.article_id}-outlet{n}"})
        for n in range(count)
    ]


def test_both_replicas_filing_one_alliance_at_once_file_it_once(
    two_replicas: tuple[RegistryService, RegistryService],
) -> None:
    one, two = two_replicas
    seeds = seed_messages()
    work = [(replica, m) for seed in seeds for m in copies(seed, 6) for replica in (one, two)]

    def apply(item: tuple[RegistryService, ExtractedArticle]) -> ApplyOutcome:
        replica, message = item
        return replica.apply_extraction(message, NOW)

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(apply, work))
    # Each article applied once (its second delivery, to the other replica, is a replay).
    assert sorted(o.status for o in outcomes).count("applied") == len(seeds) * 6
    views = list(RegistryQueries(one.engine).iter_alliances(AllianceFilters()))
    assert len(views) == len(seeds), [v.alliance.lead for v in views]
    assert all(len(v.alliance.sources) == 6 for v in views)
    rows = outbox_rows.outbox(two.engine)
    created = [r for r in rows if '"kind":"created"' in r.payload]
    assert len(created) == len(seeds)
    ids = [r.id for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


def test_one_relay_at_a_time(two_replicas: tuple[RegistryService, RegistryService]) -> None:
    one, two = two_replicas
    relays = [OutboxRelay(r.engine, None, "alliances.changes") for r in (one, two)]  # type: ignore[arg-type]
    try:
        assert relays[0]._lead() is True
        assert relays[1]._lead() is False
        assert relays[0]._lead() is True  # it keeps the lead
        # The leader lets go (its loop failed, or it stops): the other takes over. (The
        # lock is the session's: returned to the pool, the session kept it, and then no
        # replica could relay until that pooled connection happened to be closed.)
        relays[0]._release()
        assert relays[1]._lead() is True
        assert relays[0]._lead() is False
    finally:
        for relay in relays:
            relay._release()
