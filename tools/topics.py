"""Create the project's Kafka topics, if missing: the three main ones and their ``.dlq`` twins.

``articles.raw`` is compacted and kept forever (``cleanup.policy=compact``,
``retention.ms=-1``) so that the history of accepted articles can be replayed; the others use
the broker's defaults. Running it again is harmless: existing topics are left as they are
(the articles topic has its two settings put back if they were changed), and every topic is
checked with a describe call before it returns.

Command line::

    python -m tools.topics --bootstrap 127.0.0.1:9092 [--partitions 6] [--prefix X]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.common.contracts import MAIN_TOPICS, TOPIC_ARTICLES_RAW, dlq_topic

#: Every topic accepts messages up to this size: an article of ingest's largest accepted
#: size, JSON-escaped, must fit (the broker's own default is 1 MiB).
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
_EVERY_TOPIC = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}

#: Per-topic settings, by unprefixed topic name (alter_configs replaces a topic's whole
#: set, so each entry lists everything wanted for that topic).
TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    **{topic: dict(_EVERY_TOPIC) for topic in MAIN_TOPICS},
    **{dlq_topic(topic): dict(_EVERY_TOPIC) for topic in MAIN_TOPICS},
    TOPIC_ARTICLES_RAW: {**_EVERY_TOPIC, "cleanup.policy": "compact", "retention.ms": "-1"},
}
ERROR_NONE = 0
ERROR_TOPIC_ALREADY_EXISTS = 36


class TopicError(RuntimeError):
    """A topic could not be created or does not look as it should."""


def topic_names(prefix: str = "") -> list[str]:
    """Every topic the project uses: each main topic followed by its dead-letter twin."""
    names: list[str] = []
    for topic in MAIN_TOPICS:
        names += [prefix + topic, prefix + dlq_topic(topic)]
    return names


def wanted_configs(prefix: str = "") -> dict[str, dict[str, str]]:
    """The settings each of :func:`topic_names` gets, by full (prefixed) name."""
    return {prefix + name: dict(configs) for name, configs in TOPIC_CONFIGS.items()}


async def describe_topic_configs(admin: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    """A topic's effective configuration, as the broker reports it."""
    responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    configs: dict[str, str] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource["error_code"] != ERROR_NONE:
                raise TopicError(
                    f"describe configs of {topic}: error {resource['error_code']} "
                    f"{resource['error_message']}"
                )
            for entry in resource["config_entries"]:
                configs[entry["config_names"]] = entry["config_value"]
    return configs


def _ready(description: dict[str, Any]) -> bool:
    partitions = description.get("partitions") or []
    return (
        description.get("error_code") == ERROR_NONE
        and bool(partitions)
        and all(p["error_code"] == ERROR_NONE and p["leader"] >= 0 for p in partitions)
    )


async def ensure_topics(
    bootstrap_servers: str,
    partitions: int = 6,
    prefix: str = "",
    timeout: float = 30.0,
) -> None:
    """Create the main topics and their ``.dlq`` twins (named ``prefix + name``) if missing.

    Replication factor 1. Returns once every topic is described with a leader for each of its
    partitions; raises :class:`TopicError` otherwise.
    """
    names = topic_names(prefix)
    configs = wanted_configs(prefix)
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout * 1000)
    )
    await admin.start()
    try:
        existing = {d["topic"] for d in await admin.describe_topics(names) if _ready(d)}
        missing = [name for name in names if name not in existing]
        if missing:
            new_topics = [
                NewTopic(name, partitions, 1, topic_configs=configs.get(name)) for name in missing
            ]
            response = await admin.create_topics(new_topics, timeout_ms=int(timeout * 1000))
            for result in response.to_object()["topic_errors"]:
                if result["error_code"] not in (ERROR_NONE, ERROR_TOPIC_ALREADY_EXISTS):
                    raise TopicError(
                        f"creating {result['topic']}: error {result['error_code']} "
                        f"{result['error_message']}"
                    )
        deadline = time.monotonic() + timeout
        while True:
            descriptions = {d["topic"]: d for d in await admin.describe_topics(names)}
            not_ready = [n for n in names if not _ready(descriptions.get(n, {}))]
            if not not_ready:
                break
            if time.monotonic() > deadline:
                raise TopicError(f"topics not ready after {timeout:.0f}s: {not_ready}")
            await asyncio.sleep(0.1)
        for name, wanted in configs.items():
            actual = await describe_topic_configs(admin, name)
            if any(actual.get(key) != value for key, value in wanted.items()):
                await admin.alter_configs(
                    [ConfigResource(ConfigResourceType.TOPIC, name, configs=wanted)]
                )
                actual = await describe_topic_configs(admin, name)
                wrong = {k: actual.get(k) for k, v in wanted.items() if actual.get(k) != v}
                if wrong:
                    raise TopicError(f"{name} has {wrong}, wanted {wanted}")
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.topics",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--bootstrap", default="127.0.0.1:9092", help="bootstrap servers")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    try:
        asyncio.run(ensure_topics(args.bootstrap, args.partitions, args.prefix, args.timeout))
    except Exception as error:
        print(f"[topics] error: {error}", file=sys.stderr)
        return 1
    print(
        f"[topics] ready on {args.bootstrap}: {', '.join(topic_names(args.prefix))}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
