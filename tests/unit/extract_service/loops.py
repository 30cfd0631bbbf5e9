"""Running the extract step's consumer loop on an in-memory broker until it has done what
a test waits for."""

from __future__ import annotations

import asyncio
import time

from services.common.contracts import RawArticle
from services.common.kafka.loop import ConsumerLoop
from services.common.kafka.memory import InMemoryBroker


async def run_until_done(
    broker: InMemoryBroker, loop: ConsumerLoop[RawArticle], expected: int, timeout: float = 30
) -> None:
    """Run ``loop`` until ``expected`` results or dead letters exist (or ``timeout``), then
    stop it."""
    task = asyncio.create_task(loop.run())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = broker.records("alliances.extracted") + broker.records("articles.raw.dlq")
        if len(done) >= expected:
            break
        await asyncio.sleep(0.05)
    loop.request_stop()
    await task
