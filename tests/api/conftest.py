"""One running system for the whole module: schemathesis calls its real HTTP APIs."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.harness import Stack
from tools.localkafka import LocalKafka
from tools.topics import ensure_topics

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def system(kafka: LocalKafka, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    asyncio.run(ensure_topics(kafka.bootstrap_servers, partitions=3, prefix=prefix))
    stack = Stack(tmp_path_factory.mktemp("api"), kafka=kafka, topic_prefix=prefix)
    stack.start()
    try:
        # Something to find: the demo articles, through the whole pipeline.
        for line in (ROOT / "demo" / "articles.jsonl").read_text(encoding="utf-8").splitlines():
            stack.push(json.loads(line))
        yield stack
    finally:
        stack.stop()
