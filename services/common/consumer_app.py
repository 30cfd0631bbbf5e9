"""The HTTP app of a consuming service: its consumer loop runs inside the app's lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from services.common.contracts import Message
from services.common.http import ReadinessCheck, create_app
from services.common.kafka.loop import BatchHandler, ConsumerLoop, DlqLimit, Handler, RetryPolicy
from services.common.kafka.publisher import KafkaPublisher, Publisher
from services.common.kafka.source import KafkaSource
from services.common.settings import ServiceSettings
from services.common.worker import ConsumerWorker


def build_consumer_app(
    *,
    title: str,
    settings: ServiceSettings,
    group_id: str,
    topic: str,
    model: type[Message],
    make_handler: Callable[[Publisher], Handler[Any]],
    make_batch_handler: Callable[[Publisher], BatchHandler[Any]] | None = None,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    on_startup: Callable[[], Awaitable[None]] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    retry: RetryPolicy | None = None,
    dlq_limit: DlqLimit | None = None,
) -> FastAPI:
    """Consume ``topic`` (already prefixed) as ``group_id`` with the handler it makes (and
    the batch handler, when given: every fetch at once, one message at a time only to find
    the one at fault).

    Retries and the dead-letter limit come from ``settings`` unless given. ``/readyz``
    has a ``consumer`` check besides ``kafka``: false while a message is being retried
    (a dependency is away) and once the dead-letter limit stopped the consumer."""
    retry = retry or settings.retry_policy()
    dlq_limit = dlq_limit or settings.dlq_limit()
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers, client_id=group_id)
    source = KafkaSource(settings.kafka_bootstrap_servers, [topic], group_id, client_id=group_id)

    def make_loop(src: KafkaSource, pub: KafkaPublisher) -> ConsumerLoop[Any]:
        return ConsumerLoop(
            src,
            pub,
            model,
            make_handler(pub),
            retry=retry,
            dlq_limit=dlq_limit,
            batch_handler=make_batch_handler(pub) if make_batch_handler is not None else None,
        )

    worker = ConsumerWorker(publisher, source, make_loop)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        worker.start()
        try:
            yield
        finally:
            await worker.stop()
            if on_shutdown is not None:
                await on_shutdown()

    app = create_app(
        title=title,
        readiness={"kafka": worker.ready, "consumer": worker.consuming, **(readiness or {})},
        body_limit=settings.body_limit,
        lifespan=lifespan,
    )
    app.state.worker = worker
    app.state.settings = settings
    return app
