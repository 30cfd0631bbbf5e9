"""One article pushed to the four services, running as processes with tracing on, is one
trace at a tracing back-end (a local OTLP/HTTP collector): spans from ingest, extract,
registry and notify, down to the webhook's delivery, which carries the trace on; each
service's log lines about the article carry its trace id."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from tools.harness import CollectedSpan, OtlpCollector, Stack, WebhookReceiver
from tools.localkafka import LocalKafka

FORMATION = "10月14日上午,山西医科大学第二医院与河津市人民医院签约成立骨科专科联盟。"


def wait_for(what: str, check: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_one_article_is_one_trace_across_the_four_services_and_its_delivery(
    kafka: LocalKafka, kafka_topics: str, tmp_path: Path
) -> None:
    with OtlpCollector() as collector, WebhookReceiver() as receiver:
        stack = Stack(
            tmp_path,
            kafka=kafka,
            topic_prefix=kafka_topics,
            extra_env={
                "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
                "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds between exports
            },
        )
        try:
            stack.start()
            key = stack.create_bureau("山西省卫生健康委员会")
            created = stack.subscribe(key, "all", receiver.url("all"), {})
            receiver.secrets["all"] = created["secret"]
            pushed = stack.push(
                {
                    "url": "https://news.example.cn/trace.html",
                    "title": "骨科专科联盟签约",
                    "body": FORMATION,
                    "content_type": "text/plain",
                    "published_at": "2023-10-14",
                }
            )
            assert pushed.status_code == 202, pushed.text
            article_id = pushed.json()["article_id"]
            wait_for("the webhook", lambda: len(receiver.snapshot()) >= 1)
            [webhook] = receiver.snapshot()
            trace_id = webhook.traceparent.split("-")[1]

            def delivered() -> bool:
                return any(s.name == "deliver webhook" for s in collector.spans(trace_id))

            wait_for("the delivery's span at the collector", delivered)
        finally:
            stack.stop()
        logs = {name: stack[name].log.read_text(encoding="utf-8") for name in stack.services}

    spans = collector.spans(trace_id)
    pushes = [s for s in spans if s.name == "POST /v1/articles"]
    assert len(pushes) == 1 and pushes[0].service == "ingest", "the trace starts at the push"
    by_service = Counter(s.service for s in spans)
    assert set(by_service) == {"ingest", "extract", "registry", "notify"}, by_service
    p = kafka_topics
    assert sorted((s.service, s.name) for s in spans) == sorted(
        [
            ("ingest", "POST /v1/articles"),
            ("ingest", f"send {p}articles.raw"),
            ("extract", f"process {p}articles.raw"),
            ("extract", "extract article"),
            ("extract", f"send {p}alliances.extracted"),
            ("registry", f"process {p}alliances.extracted"),
            ("registry", "registry apply"),
            ("registry", f"send {p}alliances.changes"),
            ("notify", f"process {p}alliances.changes"),
            ("notify", "deliver webhook"),
        ]
    ), "the whole path, once, and nothing else"

    def one(service: str, name: str) -> CollectedSpan:
        found = [s for s in spans if s.service == service and s.name == name]
        assert len(found) == 1, (service, name, [(s.service, s.name) for s in spans])
        return found[0]

    prefix = kafka_topics
    push = one("ingest", "POST /v1/articles")
    hops = [
        ("ingest", f"send {prefix}articles.raw", "extract", f"process {prefix}articles.raw"),
        (
            "extract",
            f"send {prefix}alliances.extracted",
            "registry",
            f"process {prefix}alliances.extracted",
        ),
        (
            "registry",
            f"send {prefix}alliances.changes",
            "notify",
            f"process {prefix}alliances.changes",
        ),
    ]
    assert one("ingest", f"send {prefix}articles.raw").parent_span_id == push.span_id
    for producer_service, producer, consumer_service, consumer in hops:
        sent = one(producer_service, producer)
        taken = one(consumer_service, consumer)
        assert (sent.kind, taken.kind) == ("SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER")
        assert taken.parent_span_id == sent.span_id, f"{consumer} continues {producer}"
    # Through the outbox (the relay publishes later) and the stored delivery.
    apply = one("registry", "registry apply")
    assert one("registry", f"send {prefix}alliances.changes").parent_span_id == apply.span_id
    deliver = one("notify", "deliver webhook")
    assert deliver.parent_span_id == one("notify", f"process {prefix}alliances.changes").span_id
    assert deliver.kind == "SPAN_KIND_CLIENT"
    assert deliver.attributes["http.response.status_code"] == 200
    assert webhook.traceparent.split("-")[2] == deliver.span_id, "the endpoint can go on"

    # Every service's log lines about the article carry the trace id.
    for name in ("ingest", "extract", "registry"):
        lines = [json.loads(line) for line in logs[name].splitlines() if line.startswith("{")]
        about = [line for line in lines if line.get("article_id") == article_id]
        assert about, f"{name} logged nothing about {article_id}"
        assert all(line.get("trace_id") == trace_id for line in about), (name, about)
    notify_lines = [
        json.loads(line) for line in logs["notify"].splitlines() if line.startswith("{")
    ]
    attempts = [line for line in notify_lines if line["msg"].startswith("delivery attempt")]
    assert [line.get("trace_id") for line in attempts] == [trace_id]
