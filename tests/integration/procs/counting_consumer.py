"""A consumer process for the crash test: records every handler call and every effect.

    python -m tests.integration.procs.counting_consumer BOOTSTRAP TOPIC GROUP DB [HANG_ON_ID]

Each handled article adds a row to ``calls`` (every attempt) and, idempotently by
article id, to ``effects``. With HANG_ON_ID, after handling that article the process
writes ``DB.hung`` and hangs before its offset commit, for the test to SIGKILL it there.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from pathlib import Path

from services.common.contracts import RawArticle
from services.common.kafka.loop import ConsumerLoop
from services.common.kafka.publisher import KafkaPublisher
from services.common.kafka.records import Record
from services.common.kafka.source import KafkaSource


async def main(bootstrap: str, topic: str, group: str, db: str, hang_on: str | None) -> None:
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("CREATE TABLE IF NOT EXISTS calls (article_id TEXT)")
    connection.execute("CREATE TABLE IF NOT EXISTS effects (article_id TEXT PRIMARY KEY)")

    async def handle(article: RawArticle, record: Record) -> None:
        connection.execute("INSERT INTO calls VALUES (?)", (article.article_id,))
        connection.execute("INSERT OR IGNORE INTO effects VALUES (?)", (article.article_id,))
        if article.article_id == hang_on:
            Path(db + ".hung").write_text(article.article_id)
            time.sleep(3600)  # blocks the loop: the offset commit never happens

    publisher = KafkaPublisher(bootstrap, client_id="crash-test")
    source = KafkaSource(bootstrap, [topic], group)
    await publisher.start()
    await source.start()
    loop = ConsumerLoop(source, publisher, RawArticle, handle, max_batch=1)
    try:
        await loop.run()
    finally:
        await source.stop()
        await publisher.stop()


if __name__ == "__main__":
    bootstrap, topic, group, db = sys.argv[1:5]
    hang = sys.argv[5] if len(sys.argv) > 5 else None
    asyncio.run(main(bootstrap, topic, group, db, hang))
