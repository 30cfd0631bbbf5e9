"""Dependencies of ingest's routes: the service, and the crawler's token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.common.auth import BearerGuard
from services.ingest.config import IngestSettings
from services.ingest.service import IngestService


def get_service(request: Request) -> IngestService:
    service: IngestService = request.app.state.ingest
    return service


Service = Annotated[IngestService, Depends(get_service)]


def settings_of(request: Request) -> IngestSettings:
    settings: IngestSettings = request.app.state.settings
    return settings


Settings = Annotated[IngestSettings, Depends(settings_of)]


def _crawler_tokens(request: Request) -> tuple[str, ...]:
    return settings_of(request).tokens


#: Any one of INGEST_API_TOKENS (one per crawler, so one can be revoked alone).
require_crawler = BearerGuard(
    _crawler_tokens,
    setting="INGEST_API_TOKENS",
    credential="a valid crawler token",
    routes="article pushes",
)
