"""Re-extraction: replay articles.raw through the current extractor into the registry.

    python -m services.registry reextract [--run NAME] [--limit N] [--idle-seconds S]

Each run is a consumer group of its own (by default named after the extractor version),
so an interrupted run resumes where it stopped and a new extractor version starts from
the first article. Every article's new extraction replaces what the older one contributed
(alliances gain, keep or lose members and sources); changes reach alliances.changes
through the outbox, relayed by the running registry service.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TextIO

from pydantic import ValidationError

from services.common.contracts import (
    TOPIC_ARTICLES_RAW,
    AllianceEvent,
    ExtractedArticle,
    RawArticle,
)
from services.common.db import make_engine
from services.common.kafka.source import KafkaSource, Source
from services.registry.adapters.migrate import upgrade
from services.registry.adapters.repository import RegistryRepository
from services.registry.config import RegistrySettings
from services.registry.entrypoints.consumer import apply_extraction


class ExtractionLike(Protocol):
    @property
    def relevant(self) -> bool: ...

    @property
    def events(self) -> Sequence[AllianceEvent]: ...

    @property
    def extractor_version(self) -> str: ...


Extractor = Callable[[RawArticle], ExtractionLike]


def current_extractor() -> tuple[Extractor, str]:
    """The extract service's extractor, and its version (imported only when needed)."""
    from services.extract.extraction import ArticleInput, extract

    def run(article: RawArticle) -> ExtractionLike:
        result: ExtractionLike = extract(
            ArticleInput(
                body=article.body,
                title=article.title,
                content_type=article.content_type.value,
                published=article.published_at,
            )
        )
        return result

    probe = RawArticle(article_id="probe", body="probe", received_at=datetime.now(UTC))
    return run, run(probe).extractor_version


@dataclass
class Progress:
    out: TextIO = sys.stderr
    done: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.monotonic)
    _last: float = 0.0

    def show(self, remaining: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._last < 0.2:
            return
        self._last = now
        total = self.done + remaining
        share = self.done / total if total else 1.0
        bar = "#" * int(share * 30)
        rate = self.done / max(now - self.started, 1e-6)
        counts = " ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        line = f"reextract [{bar:<30}] {self.done}/{total} ({share:.0%}) {rate:.1f}/s {counts}"
        if self.out.isatty():
            self.out.write("\r" + line + ("\n" if final else ""))
        elif final or self.done % 100 == 0:
            self.out.write(line + "\n")
        self.out.flush()


async def reextract(
    source: Source,
    repository: RegistryRepository,
    extractor: Extractor,
    *,
    limit: int | None = None,
    idle_seconds: float = 5.0,
    progress: Progress | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Counter[str]:
    """Replay every article the source holds; commit offsets after each batch."""
    progress = progress or Progress()
    idle_since = time.monotonic()
    while limit is None or progress.done < limit:
        batch = await source.fetch(0.5, 50 if limit is None else min(50, limit - progress.done))
        if not batch:
            lag = sum((await source.lag()).values())
            progress.show(lag)
            if lag == 0 and time.monotonic() - idle_since > min(idle_seconds, 1.0):
                break
            if time.monotonic() - idle_since > idle_seconds:
                break
            continue
        idle_since = time.monotonic()
        offsets: dict[tuple[str, int], int] = {}
        for record in batch:
            offsets[(record.topic, record.partition)] = record.offset + 1
            progress.done += 1
            try:
                article = RawArticle.model_validate_json(record.value or b"")
            except ValidationError:
                progress.outcomes["invalid"] += 1
                continue
            try:
                result = await asyncio.to_thread(extractor, article)
            except Exception:
                progress.outcomes["failed"] += 1
                continue
            message = ExtractedArticle(
                article_id=article.article_id,
                extractor_version=result.extractor_version,
                url=article.url,
                title=article.title,
                published_at=article.published_at,
                relevant=result.relevant,
                events=tuple(result.events),
                extracted_at=clock(),
            )
            outcome = await apply_extraction(repository, message, clock)
            progress.outcomes[outcome.status] += 1
        await source.commit(offsets)
        progress.show(sum((await source.lag()).values()))
    progress.show(0, final=True)
    return progress.outcomes


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m services.registry reextract``."""
    parser.add_argument("--run", help="name of this run (default: the extractor version)")
    parser.add_argument("--limit", type=int, help="stop after this many articles")
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=5.0,
        help="stop once no article arrived for this long (default: %(default)s)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.registry reextract")
    configure(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Re-extract with the options ``configure`` defines."""
    settings = RegistrySettings()
    extractor, version = current_extractor()
    name = args.run or version
    engine = make_engine(settings.database_url)
    upgrade(engine)
    repository = RegistryRepository(engine)
    group = f"{settings.reextract_group_id}-{name}"
    print(
        f"re-extracting {settings.topic(TOPIC_ARTICLES_RAW)} with extractor {version} "
        f"(run {group})",
        file=sys.stderr,
    )

    async def go() -> Counter[str]:
        source = KafkaSource(
            settings.kafka_bootstrap_servers,
            [settings.topic(TOPIC_ARTICLES_RAW)],
            group,
            client_id=group,
        )
        await source.start()
        try:
            return await reextract(
                source, repository, extractor, limit=args.limit, idle_seconds=args.idle_seconds
            )
        finally:
            await source.stop()

    try:
        outcomes = asyncio.run(go())
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume", file=sys.stderr)
        return 130
    finally:
        engine.dispose()
    print(dict(outcomes), file=sys.stderr)
    return 0
