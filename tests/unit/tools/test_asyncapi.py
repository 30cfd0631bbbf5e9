"""docs/asyncapi.yaml is what services/common/contracts.py generates (drift fails here,
and so in CI), names every topic and its dead-letter twin, and holds together: each
reference resolves, each operation's messages are its channel's, each payload is its
model's JSON Schema."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.contracts import MAIN_TOPICS, TOPIC_KEYS, TOPIC_MODELS, dlq_topic
from services.common.kafka.loop import DLQ_REASON
from tools import asyncapi
from tools.topics import topic_names


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(asyncapi.DOCUMENT.read_text(encoding="utf-8"))
    return loaded


def test_the_checked_in_document_is_what_the_contracts_generate() -> None:
    assert asyncapi.DOCUMENT.exists(), "docs/asyncapi.yaml is missing: run `make asyncapi`"
    checked_in = asyncapi.DOCUMENT.read_text(encoding="utf-8")
    generated = asyncapi.render()
    if checked_in != generated:
        diff = "".join(
            list(
                difflib.unified_diff(
                    checked_in.splitlines(keepends=True),
                    generated.splitlines(keepends=True),
                    "docs/asyncapi.yaml (checked in)",
                    "generated from services/common/contracts.py",
                )
            )[:60]
        )
        pytest.fail(
            "docs/asyncapi.yaml differs from what services/common/contracts.py generates: "
            f"run `make asyncapi` and commit it.\n{diff}",
            pytrace=False,
        )


def test_every_topic_and_its_dead_letter_twin_is_a_channel(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    addresses = sorted(channel["address"] for channel in document["channels"].values())
    assert addresses == sorted(topic_names())
    assert {dlq_topic(t) for t in MAIN_TOPICS} <= set(addresses)


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    found = refs(document)
    assert len(found) > 30
    for ref in found:
        resolve(document, ref)


def test_operations_send_and_receive_their_channels_messages(document: dict[str, Any]) -> None:
    actions: dict[str, set[str]] = {}
    for operation in document["operations"].values():
        channel_ref = operation["channel"]["$ref"]
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/")
            resolve(document, message["$ref"])
        address = resolve(document, channel_ref)["address"]
        actions.setdefault(address, set()).add(operation["action"])
    for topic in MAIN_TOPICS:
        assert actions[topic] == {"send", "receive"}, topic
        assert actions[dlq_topic(topic)] == {"send"}, "dead letters are for operators to read"


def test_each_message_is_its_models_schema_with_its_key(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    schemas = document["components"]["schemas"]
    for topic in MAIN_TOPICS:
        model = TOPIC_MODELS[topic]
        message = messages[model.__name__]
        expected = model.model_json_schema(ref_template="#/components/schemas/{model}")
        expected.pop("$defs", None)
        assert resolve(document, message["payload"]["$ref"]) == expected
        key = message["bindings"]["kafka"]["key"]
        assert TOPIC_KEYS[topic] in key["description"]
        dead = messages[f"{model.__name__}DeadLetter"]
        assert dead["payload"] == message["payload"]
        headers = resolve(document, dead["headers"]["$ref"])
        assert DLQ_REASON in headers["required"]
        assert set(headers["properties"][DLQ_REASON]["enum"]) >= {"invalid", "poison"}
    assert "traceparent" in schemas["TraceHeaders"]["properties"]


def test_the_command_checks_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "asyncapi.yaml"
    assert asyncapi.main(["--check", "--output", str(target)]) == 1
    assert "run `make asyncapi`" in capsys.readouterr().err
    assert asyncapi.main(["--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == asyncapi.render()
    assert asyncapi.main(["--check", "--output", str(target)]) == 0
    target.write_text(asyncapi.render().replace("alliances.changes", "alliance.changes"))
    assert asyncapi.main(["--check", "--output", str(target)]) == 1
