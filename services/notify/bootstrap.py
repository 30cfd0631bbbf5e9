"""Wires notify: database (migrated at start-up), the SSRF-guarded HTTP client and the
channel senders, the delivery worker, the consumer of alliances.changes, the HTTP API."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError

from services.common.consumer_app import build_consumer_app
from services.common.contracts import TOPIC_ALLIANCES_CHANGES, AllianceChange
from services.common.db import database_ready, make_engine
from services.common.http import create_app
from services.common.migrations import migrate_with_retry
from services.notify.adapters.mail import EmailSender, SmtpSettings
from services.notify.adapters.migrate import upgrade
from services.notify.adapters.net import AddressGuard, Resolver, guarded_client, system_resolver
from services.notify.adapters.repository import NotifyRepository
from services.notify.adapters.sealing import SecretBox
from services.notify.channels import SenderKit, build_senders, spec_of
from services.notify.config import NotifySettings
from services.notify.domain import unsubscribe as unsubscribe_tokens
from services.notify.domain.models import Channel
from services.notify.domain.schedule import DEFAULT_DELAYS, Clock, RetrySchedule, SystemClock
from services.notify.entrypoints import portal
from services.notify.entrypoints.api import bureaus, deliveries, keys, subscriptions, unsubscribe
from services.notify.entrypoints.consumer import make_notify_batch_handler, make_notify_handler
from services.notify.entrypoints.digests import DigestJob, Notices
from services.notify.entrypoints.reseal import check_sealed_secrets
from services.notify.entrypoints.worker import DeliveryWorker, WorkerOptions
from services.notify.service import Conflict, Invalid, NotFound, NotifyService

log = logging.getLogger(__name__)


@dataclass
class NotifyComponents:
    settings: NotifySettings
    engine: Engine
    repository: NotifyRepository
    service: NotifyService
    worker: DeliveryWorker
    client: httpx.AsyncClient
    clock: Clock
    box: SecretBox
    mail: EmailSender
    digests: DigestJob


def build_components(
    settings: NotifySettings,
    *,
    clock: Clock | None = None,
    resolver: Resolver = system_resolver,
    schedule: RetrySchedule | None = None,
    rng: random.Random | None = None,
    wall: Callable[[], float] = time.time,
) -> NotifyComponents:
    """Everything notify is made of; tests pass a fake clock, resolver or schedule."""
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    repository = NotifyRepository(engine)
    box = SecretBox(settings.secrets_keys)
    guard = AddressGuard(settings.allowed, resolver)
    client = guarded_client(guard=guard, timeout_seconds=settings.send_timeout_seconds)
    smtp = SmtpSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        sender=settings.smtp_from,
        starttls=settings.smtp_starttls,
        ssl=settings.smtp_ssl,
        timeout_seconds=settings.send_timeout_seconds,
    )
    key = settings.unsubscribe_key

    def unsubscribe_url(subscription_id: str) -> str:
        return settings.unsubscribe_url(unsubscribe_tokens.sign(key, subscription_id))

    mail = EmailSender(smtp, unsubscribe_url, render=spec_of(Channel.email).render)
    senders = build_senders(SenderKit(client, wall, guard, mail))
    digests = DigestJob(repository, mail, clock, hour=settings.digest_hour)
    worker = DeliveryWorker(
        repository,
        senders,
        clock,
        box=box,
        schedule=schedule or RetrySchedule(DEFAULT_DELAYS, settings.retry_jitter),
        options=WorkerOptions(
            poll_seconds=settings.worker_poll_seconds,
            batch=settings.worker_batch,
            concurrency=settings.worker_concurrency,
            lease=timedelta(seconds=max(300.0, settings.send_timeout_seconds * 30)),
            disable_after=timedelta(hours=settings.disable_after_hours),
            robot_limit=settings.robot_messages_per_minute,
        ),
        rng=rng,
        notices=Notices(repository, mail),
        digests=digests,
    )
    service = NotifyService(
        repository, box=box, clock=clock, guard=guard, on_new_deliveries=worker.wake
    )
    return NotifyComponents(
        settings, engine, repository, service, worker, client, clock, box, mail, digests
    )


def build_app(
    settings: NotifySettings | None = None,
    *,
    components: NotifyComponents | None = None,
    consume: bool = True,
    run_worker: bool = True,
) -> FastAPI:
    """The notify service; ``consume=False`` leaves Kafka out and ``run_worker=False`` the
    delivery loop (tests then drive ``components.worker.run_once`` themselves)."""
    settings = settings or (components.settings if components else NotifySettings())
    parts = components or build_components(settings)

    async def startup() -> None:
        await migrate_with_retry(lambda: upgrade(parts.engine, "head", parts.box))
        await check_sealed_secrets(parts.repository, parts.box)
        if run_worker:
            parts.worker.start()

    async def shutdown() -> None:
        await parts.worker.stop()
        await parts.client.aclose()
        parts.engine.dispose()

    async def worker_ready() -> bool:
        return parts.worker.running or not run_worker

    readiness = {"database": lambda: database_ready(parts.engine), "delivery_worker": worker_ready}
    if consume:
        app = build_consumer_app(
            title="Alliance Watch notify",
            settings=settings,
            group_id=settings.group_id,
            topic=settings.topic(TOPIC_ALLIANCES_CHANGES),
            model=AllianceChange,
            make_handler=lambda publisher: make_notify_handler(parts.service),
            make_batch_handler=lambda publisher: make_notify_batch_handler(parts.service),
            readiness=readiness,
            on_startup=startup,
            on_shutdown=shutdown,
        )
    else:

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            await startup()
            try:
                yield
            finally:
                await shutdown()

        app = create_app(
            title="Alliance Watch notify",
            readiness=readiness,
            body_limit=settings.body_limit,
            lifespan=lifespan,
        )
        app.state.settings = settings
    app.state.notify = parts.service
    app.state.components = parts
    routers = (bureaus, keys, subscriptions, deliveries, unsubscribe)
    for module in routers:
        app.include_router(module.router)
    portal.install(app, parts.service, session_hours=settings.portal_session_hours)
    _error_answers(app)
    return app


def _error_answers(app: FastAPI) -> None:
    def answer(code: int) -> Callable[[Request, Exception], Response]:
        def handler(request: Request, exc: Exception) -> Response:
            if portal.is_portal(request):
                return portal.error_page(code)
            return JSONResponse({"detail": str(exc)}, status_code=code)

        return handler

    app.add_exception_handler(NotFound, answer(404))
    app.add_exception_handler(Conflict, answer(409))
    app.add_exception_handler(Invalid, answer(422))
    app.add_exception_handler(unsubscribe_tokens.BadToken, unsubscribe.bad_token_page)

    def database_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", exc)
        return JSONResponse(
            {"detail": "the notify database is unavailable, retry later"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(OperationalError, database_down)
    app.add_exception_handler(InterfaceError, database_down)
