"""Write the AsyncAPI 3.0 document of the project's Kafka topics: every topic and its
dead-letter twin, who sends and who receives, each message's key, headers and payload.

The payloads are the JSON Schemas of the models in ``services/common/contracts.py``
(pydantic's ``model_json_schema``), so the document is generated, never edited:
``make asyncapi`` writes it, and a test fails when the checked-in one differs from what
the contracts generate.

Command line::

    python -m tools.asyncapi             # writes docs/asyncapi.yaml
    python -m tools.asyncapi --check     # exit 1 when docs/asyncapi.yaml is out of date
    python -m tools.asyncapi --output -  # print it
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from services.common.contracts import (
    MAIN_TOPICS,
    SCHEMA_VERSION,
    TOPIC_ALLIANCES_CHANGES,
    TOPIC_ALLIANCES_EXTRACTED,
    TOPIC_ARTICLES_RAW,
    TOPIC_KEYS,
    TOPIC_MODELS,
    dlq_topic,
)
from services.common.kafka.loop import (
    DLQ_ERROR,
    DLQ_ORIGIN_OFFSET,
    DLQ_ORIGIN_PARTITION,
    DLQ_ORIGIN_TOPIC,
    DLQ_REASON,
)
from services.common.tracing import TRACE_HEADERS
from tools.topics import MAX_MESSAGE_BYTES, TOPIC_CONFIGS

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "asyncapi.yaml"
KAFKA_BINDING_VERSION = "0.5.0"
HEADER = (
    "# The AsyncAPI document of Alliance Watch's Kafka topics. Generated from\n"
    "# services/common/contracts.py by `make asyncapi` (python -m tools.asyncapi): do not\n"
    "# edit; a test fails when it differs from what the contracts generate.\n"
)


@dataclass(frozen=True)
class Consumer:
    #: the operation's id starts with it
    name: str
    #: its consumer group (each replica of a service shares it)
    group: str
    #: whether it sends what it cannot process to the topic's .dlq twin (the consumer loop)
    dead_letters: bool = True


@dataclass(frozen=True)
class TopicRole:
    producer: str
    consumers: tuple[Consumer, ...]
    description: str


#: Who writes and who reads each main topic.
ROLES: dict[str, TopicRole] = {
    TOPIC_ARTICLES_RAW: TopicRole(
        "ingest",
        (
            Consumer("extract", "extract"),
            Consumer("extractReplay", "extract-replay"),
        ),
        "Every article a crawler pushed, as ingest accepted it (acks=all, before the crawler "
        "hears 202). Compacted by article_id and kept forever, so history can be "
        "re-extracted: extract reads it live, `python -m services.extract replay` "
        "reads it again with the current extractor into alliances.extracted.",
    ),
    TOPIC_ALLIANCES_EXTRACTED: TopicRole(
        "extract",
        (Consumer("registry", "registry"),),
        "What extraction made of each article: relevance and the alliance events, each "
        "with its evidence sentence. A later extraction of the same article replaces the "
        "earlier one in the registry.",
    ),
    TOPIC_ALLIANCES_CHANGES: TopicRole(
        "registry",
        (Consumer("notify", "notify"),),
        "Each committed change to an alliance in the registry (created or updated), with "
        "the alliance as it now stands; relayed from the registry's outbox table, in commit "
        "order, so nothing committed is lost. Consumers deduplicate by change_id.",
    ),
}

#: The values of the dlq.reason header.
DLQ_REASONS = {
    "invalid": "not a valid message of the topic (the value is kept as it came)",
    "poison": "valid, but cannot be processed however often it is tried",
    "error": "its handler failed with an unexpected error (a bug) KAFKA_ERROR_ATTEMPTS times "
    "(a retryable failure is retried until it passes, never dead-lettered)",
    "budget_exceeded": "its extraction overran EXTRACT_ARTICLE_BUDGET_SECONDS (articles.raw)",
}

DESCRIPTION = f"""\
The messages that travel between Alliance Watch's services:
crawlers → ingest → `articles.raw` → extract → `alliances.extracted` → registry →
`alliances.changes` → notify → bureaus.

- Values are UTF-8 JSON with a `schema_version` (now {SCHEMA_VERSION}); a message of an
  unknown version or with unknown fields fails validation and is dead-lettered.
- Keys are the UTF-8 id named in each message's Kafka binding: one article's (one
  alliance's) messages share a partition and stay in order.
- Delivery is at least once: offsets are committed after the work is done, and every
  consumer is idempotent by its key (and `change_id` for `alliances.changes`).
- Each topic has a `.dlq` twin that receives what its consumer cannot process: the
  original key and value, with the reason and origin in headers (at most KAFKA_DLQ_LIMIT
  of the last KAFKA_DLQ_LIMIT_WINDOW messages; past it the consumer stops).
  `python -m services.common.dlq list|show|replay TOPIC` looks at them and replays them.
- Every message carries its trace in a W3C `traceparent` header (when there is one): one
  article's path is one trace (see the README's *Tracing*).
- Topic names get `TOPIC_PREFIX` in front of them when it is set.
"""


def _channel_id(topic: str) -> str:
    head, *rest = topic.replace(".", "_").split("_")
    return head + "".join(part.capitalize() for part in rest)


def _message_name(topic: str) -> str:
    return TOPIC_MODELS[topic].__name__


def _key_binding(topic: str) -> dict[str, Any]:
    field = TOPIC_KEYS[topic]
    model = TOPIC_MODELS[topic]
    if field not in model.model_fields:
        raise ValueError(f"{topic}: key field {field} is not a field of {model.__name__}")
    return {
        "kafka": {
            "key": {
                "type": "string",
                "description": f"the message's `{field}`, UTF-8",
            },
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


def _topic_binding(topic: str) -> dict[str, Any]:
    configs = TOPIC_CONFIGS.get(topic, {})
    configuration: dict[str, Any] = {}
    if "cleanup.policy" in configs:
        configuration["cleanup.policy"] = configs["cleanup.policy"].split(",")
    if "retention.ms" in configs:
        configuration["retention.ms"] = int(configs["retention.ms"])
    configuration["max.message.bytes"] = int(configs.get("max.message.bytes", MAX_MESSAGE_BYTES))
    return {
        "kafka": {
            "topic": topic,
            "topicConfiguration": configuration,
            "bindingVersion": KAFKA_BINDING_VERSION,
        }
    }


def _trace_headers() -> dict[str, Any]:
    traceparent, tracestate = TRACE_HEADERS
    return {
        "type": "object",
        "description": "Kafka headers (UTF-8 values).",
        "properties": {
            traceparent: {
                "type": "string",
                "description": "W3C trace context of the span that sent the message",
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
            },
            tracestate: {"type": "string", "description": "W3C trace state, when any"},
        },
    }


def _dead_letter_headers() -> dict[str, Any]:
    headers = _trace_headers()
    headers["properties"] = {
        DLQ_REASON: {
            "type": "string",
            "enum": list(DLQ_REASONS),
            "description": "why: "
            + "; ".join(f"`{name}` {meaning}" for name, meaning in DLQ_REASONS.items()),
        },
        DLQ_ERROR: {
            "type": "string",
            "maxLength": 4096,
            "description": "the error, for a person (at most 4 KiB)",
        },
        DLQ_ORIGIN_TOPIC: {"type": "string", "description": "the topic it was read from"},
        DLQ_ORIGIN_PARTITION: {"type": "string", "description": "its partition, in decimal"},
        DLQ_ORIGIN_OFFSET: {"type": "string", "description": "its offset, in decimal"},
        **headers["properties"],
    }
    headers["required"] = [
        DLQ_REASON,
        DLQ_ERROR,
        DLQ_ORIGIN_TOPIC,
        DLQ_ORIGIN_PARTITION,
        DLQ_ORIGIN_OFFSET,
    ]
    return headers


def _schemas() -> dict[str, Any]:
    """The JSON Schema of every message model, and of the models they use, by name."""
    _, definitions = models_json_schema(
        [(TOPIC_MODELS[topic], "validation") for topic in MAIN_TOPICS],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = dict(sorted(definitions["$defs"].items()))
    schemas["TraceHeaders"] = _trace_headers()
    schemas["DeadLetterHeaders"] = _dead_letter_headers()
    return schemas


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document, as a mapping."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in MAIN_TOPICS:
        role = ROLES[topic]
        name = _message_name(topic)
        model = TOPIC_MODELS[topic]
        dead = f"{name}DeadLetter"
        channel, dlq_channel = _channel_id(topic), _channel_id(dlq_topic(topic))
        messages[name] = {
            "name": name,
            "title": name,
            "summary": (model.__doc__ or "").strip().splitlines()[0].replace("``", "`"),
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/TraceHeaders"},
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": _key_binding(topic),
        }
        messages[dead] = {
            "name": dead,
            "title": f"{name} (dead letter)",
            "summary": f"A message of {topic} that its consumer could not process.",
            "description": (
                f"The key and value of the {topic} message, unchanged: the value is its "
                f"{name}, unless `dlq.reason` is `invalid`, when it is whatever came."
            ),
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "bindings": _key_binding(topic),
        }
        channels[channel] = {
            "address": topic,
            "title": topic,
            "description": role.description,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "bindings": _topic_binding(topic),
        }
        channels[dlq_channel] = {
            "address": dlq_topic(topic),
            "title": dlq_topic(topic),
            "description": (
                f"The dead-letter twin of {topic}: what "
                + ", ".join(c.name for c in role.consumers if c.dead_letters)
                + " could not process, for an operator to read, mend and replay."
            ),
            "messages": {dead: {"$ref": f"#/components/messages/{dead}"}},
            "bindings": _topic_binding(dlq_topic(topic)),
        }
        operations[f"{role.producer}Sends{name}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{channel}"},
            "summary": f"{role.producer} publishes to {topic}",
            "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
        }
        for consumer in role.consumers:
            operations[f"{consumer.name}Receives{name}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel}"},
                "summary": f"{consumer.name} consumes {topic} (consumer group `{consumer.group}`)",
                "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
            }
            if not consumer.dead_letters:
                continue
            operations[f"{consumer.name}DeadLetters{name}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{dlq_channel}"},
                "summary": f"{consumer.name} dead-letters what it cannot process of {topic}",
                "messages": [{"$ref": f"#/channels/{dlq_channel}/messages/{dead}"}],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Alliance Watch topics",
            "version": str(SCHEMA_VERSION),
            "description": DESCRIPTION,
            "license": {
                "name": "Apache-2.0",
                "url": "https://www.apache.org/licenses/LICENSE-2.0",
            },
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "the broker `make run` starts (KAFKA_BOOTSTRAP_SERVERS)",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": _schemas()},
    }


class _Dumper(yaml.SafeDumper):
    """Text of several lines as a literal block, the way it reads in the code."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render() -> str:
    """The document as the checked-in YAML text."""
    body = yaml.dump(
        document(),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return HEADER + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.asyncapi",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--output",
        default=str(DOCUMENT.relative_to(ROOT)),
        help="where to write it ('-' for standard output; default: %(default)s)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 when the file differs from what the contracts generate",
    )
    args = parser.parse_args(argv)
    text = render()
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    target = Path(args.output)
    if not target.is_absolute():
        target = ROOT / target
    shown = target.relative_to(ROOT) if target.is_relative_to(ROOT) else target
    if args.check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            print(
                f"[asyncapi] {shown} differs from what "
                "services/common/contracts.py generates: run `make asyncapi`",
                file=sys.stderr,
            )
            return 1
        print(f"[asyncapi] {shown} is up to date", file=sys.stderr)
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"[asyncapi] wrote {shown}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
