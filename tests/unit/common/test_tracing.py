"""Tracing in one process, with the SDK's in-memory exporter: one pushed article's path
(ingest's request, extract, registry and its outbox, notify and the webhook it sends) is
one trace, carried by Kafka headers on the in-memory broker and by the stored rows of the
outbox and the deliveries; log lines carry its id; with no SDK nothing is added."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.common import tracing
from services.common.contracts import AllianceChange, ExtractedArticle, RawArticle
from services.common.db import make_engine
from services.common.errors import PoisonError
from services.common.kafka.loop import ConsumerLoop, Handler
from services.common.kafka.memory import InMemoryBroker, InMemoryPublisher, InMemorySource
from services.common.kafka.records import Record
from services.common.logs import JsonFormatter
from services.common.settings import ServiceSettings
from services.extract.entrypoints.consumer import make_extract_handler
from services.extract.extraction import ArticleInput, ExtractionResult, extract
from services.ingest.bootstrap import build_app as build_ingest
from services.ingest.config import IngestSettings
from services.notify.bootstrap import build_app as build_notify
from services.notify.bootstrap import build_components
from services.notify.entrypoints.consumer import make_notify_handler
from services.registry.adapters.migrate import upgrade
from services.registry.adapters.outbox import OutboxRelay
from services.registry.entrypoints.consumer import make_registry_handler
from services.registry.service import RegistryService
from tests.unit.notify.conftest import OPERATOR, fake_dns_resolver, make_settings
from tests.unit.notify.receivers import Receiver

TOKEN = "crawler-token-for-tracing-tests"
FORMATION = "10月14日上午,山西医科大学第二医院与河津市人民医院签约成立骨科专科联盟。"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans of the project's tracer go to memory for the test (the global provider,
    which a process sets once, is left alone)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    try:
        yield exporter
    finally:
        tracing.use_provider(None)
        provider.shutdown()


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The JSON log lines the services would write, in a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter("test"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


class InProcessExtractor:
    """The pure extractor, called in this process (the service runs it in a worker)."""

    async def extract(self, article: ArticleInput) -> ExtractionResult:
        return extract(article)


async def consume(
    broker: InMemoryBroker,
    topic: str,
    model: type[Any],
    handler: Handler[Any],
    done: Callable[[ConsumerLoop[Any]], bool] = lambda loop: loop.processed >= 1,
) -> None:
    """Run a consumer loop on ``topic`` until ``done`` (one message handled)."""
    loop = ConsumerLoop(
        InMemorySource(broker, [topic], f"g-{topic}"),
        InMemoryPublisher(broker),
        model,
        handler,
        fetch_timeout_seconds=0.05,
    )
    task = asyncio.create_task(loop.run())
    deadline = time.monotonic() + 30
    while not done(loop) and time.monotonic() < deadline and not task.done():
        await asyncio.sleep(0.01)
    loop.request_stop()
    await task
    assert done(loop), f"{topic}: not done, {loop.processed} processed"


@pytest.fixture
async def ingest(tmp_path: Path, broker: InMemoryBroker) -> AsyncIterator[httpx.AsyncClient]:
    settings = IngestSettings(
        INGEST_API_TOKENS=TOKEN,
        INGEST_DATABASE_URL=f"sqlite:///{tmp_path}/ingest.db",
        TOPIC_PREFIX="t.",
    )
    app = build_ingest(settings, publisher=InMemoryPublisher(broker))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            yield client


@pytest.fixture
def broker() -> InMemoryBroker:
    return InMemoryBroker()


def by_name(finished: tuple[ReadableSpan, ...], name: str) -> ReadableSpan:
    found = [s for s in finished if s.name == name]
    assert len(found) == 1, f"{name}: {[s.name for s in finished]}"
    return found[0]


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_one_articles_path_is_one_trace_through_headers_outbox_and_deliveries(
    spans: InMemorySpanExporter,
    log_lines: io.StringIO,
    ingest: httpx.AsyncClient,
    broker: InMemoryBroker,
    tmp_path: Path,
) -> None:
    # notify first, with a bureau subscribed to everything at a local webhook
    parts = build_components(
        make_settings(f"sqlite:///{tmp_path / 'notify.db'}"),
        rng=random.Random(1),
        resolver=fake_dns_resolver,
    )
    notify = build_notify(components=parts, consume=False, run_worker=False)
    receiver = Receiver().start()
    registry = RegistryService(make_engine(f"sqlite:///{tmp_path / 'registry.db'}"))
    upgrade(registry.engine)
    try:
        async with (
            notify.router.lifespan_context(notify),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=notify), base_url="http://notify"
            ) as client,
        ):
            bureau = await client.post(
                "/v1/bureaus",
                json={"name": "某省卫健委"},
                headers={"Authorization": f"Bearer {OPERATOR}"},
            )
            key = bureau.json()["api_key"]
            subscribed = await client.post(
                "/v1/subscriptions",
                json={"name": "全部", "channel": "webhook", "url": receiver.url + "/all"},
                headers={"Authorization": f"Bearer {key}"},
            )
            assert subscribed.status_code == 201, subscribed.text
            spans.clear()

            pushed = await ingest.post(
                "/v1/articles",
                json={
                    "url": "https://news.example.cn/a/1.html",
                    "title": "骨科专科联盟签约",
                    "body": FORMATION,
                    "published_at": "2023-10-14",
                },
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            assert pushed.status_code == 202, pushed.text
            article_id = pushed.json()["article_id"]

            extracted = make_extract_handler(
                InMemoryPublisher(broker), "t.alliances.extracted", extractor=InProcessExtractor()
            )
            await consume(broker, "t.articles.raw", RawArticle, extracted)
            await consume(
                broker,
                "t.alliances.extracted",
                ExtractedArticle,
                make_registry_handler(registry),
            )
            relay = OutboxRelay(registry.engine, InMemoryPublisher(broker), "t.alliances.changes")
            assert await relay.drain() == 1, "one alliance created"
            await consume(
                broker, "t.alliances.changes", AllianceChange, make_notify_handler(parts.service)
            )
            assert await parts.worker.run_once() == 1
    finally:
        receiver.stop()
        registry.engine.dispose()

    finished = spans.get_finished_spans()
    push = by_name(finished, "POST /v1/articles")
    assert push.kind is SpanKind.SERVER
    trace_id = push.context.trace_id
    chain = [
        "POST /v1/articles",
        "send t.articles.raw",
        "process t.articles.raw",
        "extract article",
        "send t.alliances.extracted",
        "process t.alliances.extracted",
        "registry apply",
        "send t.alliances.changes",
        "process t.alliances.changes",
        "deliver webhook",
    ]
    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    assert sorted(s.name for s in in_trace) == sorted(chain), "the whole path, nothing else"
    named = {name: by_name(in_trace, name) for name in chain}
    # Each hop is the child of the one before: the headers and the stored rows carry it.
    assert parent_of(named["send t.articles.raw"]) == push.context.span_id
    for consumer, producer in (
        ("process t.articles.raw", "send t.articles.raw"),
        ("process t.alliances.extracted", "send t.alliances.extracted"),
        ("process t.alliances.changes", "send t.alliances.changes"),
    ):
        assert named[consumer].kind is SpanKind.CONSUMER
        assert parent_of(named[consumer]) == named[producer].context.span_id
    assert parent_of(named["send t.alliances.extracted"]) == (
        named["process t.articles.raw"].context.span_id
    )
    # The outbox row kept the context of the write; the relay sent the change in it.
    assert parent_of(named["send t.alliances.changes"]) == (named["registry apply"].context.span_id)
    # The delivery row kept the change's context; the attempt continues it.
    deliver = named["deliver webhook"]
    assert deliver.kind is SpanKind.CLIENT
    assert parent_of(deliver) == named["process t.alliances.changes"].context.span_id
    assert deliver.attributes is not None
    assert deliver.attributes["http.response.status_code"] == 204
    # The webhook went out with the attempt's traceparent.
    [request] = receiver.received
    version, sent_trace, sent_parent, _flags = request.headers["traceparent"].split("-")
    assert (version, sent_trace, sent_parent) == (
        "00",
        f"{trace_id:032x}",
        f"{deliver.context.span_id:016x}",
    )

    # Log lines about the article, in every step, carry the trace id.
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    about = [line for line in lines if line.get("article_id") == article_id]
    assert {line["msg"] for line in about} >= {"accepted article", "extracted 1 events"}
    assert all(line.get("trace_id") == f"{trace_id:032x}" for line in about)
    attempts = [line for line in lines if line["msg"].startswith("delivery attempt delivered")]
    assert len(attempts) == 1 and attempts[0]["trace_id"] == f"{trace_id:032x}"


async def test_a_traceparent_sent_by_the_crawler_is_continued(
    spans: InMemorySpanExporter, ingest: httpx.AsyncClient, broker: InMemoryBroker
) -> None:
    pushed = await ingest.post(
        "/v1/articles",
        json={"title": "t", "body": FORMATION},
        headers={"Authorization": f"Bearer {TOKEN}", "traceparent": TRACEPARENT},
    )
    assert pushed.status_code == 202
    push = by_name(spans.get_finished_spans(), "POST /v1/articles")
    assert f"{push.context.trace_id:032x}" == TRACEPARENT.split("-")[1]
    assert parent_of(push) == int(TRACEPARENT.split("-")[2], 16)
    [record] = broker.records("t.articles.raw")
    [header] = [v for k, v in record.headers if k == "traceparent"]
    assert header.decode().split("-")[1] == TRACEPARENT.split("-")[1]


async def test_health_readiness_and_metrics_make_no_spans(
    spans: InMemorySpanExporter, ingest: httpx.AsyncClient
) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        await ingest.get(path)
    assert spans.get_finished_spans() == ()
    await ingest.get("/v1/nothing-here")
    [span] = spans.get_finished_spans()
    assert span.attributes is not None and span.attributes["http.response.status_code"] == 404


async def test_a_dead_letter_stays_in_the_trace_with_one_traceparent(
    spans: InMemorySpanExporter, broker: InMemoryBroker
) -> None:
    publisher = InMemoryPublisher(broker)
    with tracing.tracer().start_as_current_span("origin") as origin:
        await publisher.publish("t.articles.raw", b"a1", b"{}", [("traceparent", b"stale")])

    async def refuse(message: RawArticle, record: Record) -> None:
        raise PoisonError("no")

    # b"{}" is no RawArticle: dead-lettered as invalid, in the message's trace
    await consume(
        broker,
        "t.articles.raw",
        RawArticle,
        refuse,
        done=lambda loop: bool(broker.records("t.articles.raw.dlq")),
    )
    [sent] = broker.records("t.articles.raw")
    assert [k for k, _ in sent.headers].count("traceparent") == 1, "the stale one replaced"
    [dead] = broker.records("t.articles.raw.dlq")
    assert [k for k, _ in dead.headers].count("traceparent") == 1
    process = by_name(spans.get_finished_spans(), "process t.articles.raw")
    assert process.context.trace_id == origin.get_span_context().trace_id
    assert not process.status.is_ok
    assert process.attributes is not None and process.attributes["dlq.reason"] == "invalid"
    send_dlq = by_name(spans.get_finished_spans(), "send t.articles.raw.dlq")
    assert parent_of(send_dlq) == process.context.span_id


async def test_without_the_sdk_nothing_is_added(broker: InMemoryBroker) -> None:
    assert not isinstance(trace.get_tracer_provider(), TracerProvider), "no SDK in tests"
    publisher = InMemoryPublisher(broker)
    await publisher.publish("t.x", b"k", b"v", [("h", b"1")])
    [record] = broker.records("t.x")
    assert record.headers == (("h", b"1"),)
    assert tracing.current_carrier() is None
    assert tracing.current_ids() is None
    # ... but a context that came in is passed on, so a traced neighbour's trace goes on.
    with tracing.resumed(json.dumps({"traceparent": TRACEPARENT})):
        await publisher.publish("t.y", b"k", b"v")
        assert tracing.current_ids() == (TRACEPARENT.split("-")[1], TRACEPARENT.split("-")[2])
    [passed] = broker.records("t.y")
    assert passed.headers == (("traceparent", TRACEPARENT.encode()),)


def test_stored_contexts_that_are_not_ones_start_no_trace() -> None:
    for stored in (None, "", "not json", "[1]", '{"traceparent": "00-zz-yy-01"}'):
        assert (
            not trace.get_current_span(tracing.context_from_carrier(stored))
            .get_span_context()
            .is_valid
        )
        assert tracing.link_to(stored) is None


def test_the_endpoint_comes_from_the_standard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    assert tracing.traces_endpoint() == ""
    assert tracing.traces_endpoint("http://127.0.0.1:4318/") == "http://127.0.0.1:4318/v1/traces"
    assert tracing.traces_endpoint("http://a:4318", "http://b/x") == "http://b/x"
    settings = ServiceSettings(
        _env_file=None,  # type: ignore[call-arg]
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318",
    )
    assert settings.traces_endpoint == "http://127.0.0.1:4318/v1/traces"
    assert ServiceSettings(_env_file=None).traces_endpoint == ""  # type: ignore[call-arg]
    assert tracing.configure_tracing("ingest", "") is None
