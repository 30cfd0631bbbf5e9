"""Runs the real service processes against the session's Kafka broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.harness import CRAWLER_TOKEN, Stack
from tools.localkafka import LocalKafka

__all__ = ["CRAWLER_TOKEN", "Pipeline", "pipeline"]

#: The four services as processes, with their URLs, logs and settings.
Pipeline = Stack


@pytest.fixture
def pipeline(kafka: LocalKafka, kafka_topics: str, tmp_path: Path) -> Iterator[Stack]:
    stack = Stack(tmp_path, kafka=kafka, topic_prefix=kafka_topics)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
