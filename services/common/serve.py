"""Runs one service process: JSON logs, tracing when an OTLP endpoint is set, uvicorn, and a
clean exit on SIGTERM / SIGINT."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Protocol, TypeVar

import uvicorn
from fastapi import FastAPI

from services.common.logs import configure_logging
from services.common.settings import ServiceSettings
from services.common.tracing import configure_tracing


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    # uvicorn re-raises the signal after its graceful shutdown; end with status 0 then.
    sys.exit(0)


def run(app: FastAPI, *, service: str, host: str, port: int, log_level: str = "INFO") -> None:
    configure_logging(service, log_level)
    settings = getattr(app.state, "settings", None)
    if not isinstance(settings, ServiceSettings):
        settings = ServiceSettings()
    # The SDK flushes the spans still batched when the process exits (atexit).
    configure_tracing(service, settings.traces_endpoint)
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )


class ServedSettings(Protocol):
    host: str
    port: int
    log_level: str


SettingsT = TypeVar("SettingsT", bound=ServedSettings)


def serve(service: str, settings: SettingsT, build_app: Callable[[SettingsT], FastAPI]) -> None:
    """Build a service's app from its settings and run it on its host and port."""
    run(
        build_app(settings),
        service=service,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
    )
