"""Who is calling: the operator (its token from the settings) or a bureau (an API key)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from services.common.auth import BearerGuard, Credentials, unauthorized
from services.notify.service import NotifyService

if TYPE_CHECKING:
    from services.notify.bootstrap import NotifyComponents


def get_service(request: Request) -> NotifyService:
    service: NotifyService = request.app.state.notify
    return service


Service = Annotated[NotifyService, Depends(get_service)]


def components_of(request: Request) -> NotifyComponents:
    parts: NotifyComponents = request.app.state.components
    return parts


def _operator_token(request: Request) -> list[str]:
    return [request.app.state.settings.operator_token.strip()]


require_operator = BearerGuard(
    _operator_token,
    setting="NOTIFY_OPERATOR_TOKEN",
    credential="the operator token",
    routes="operator endpoints",
)


async def current_bureau(service: Service, credentials: Credentials) -> str:
    """The id of the bureau whose API key was presented."""
    bureau_id = await service.authenticate(credentials.credentials) if credentials else None
    if bureau_id is None:
        raise unauthorized("a valid bureau API key")
    return bureau_id


Bureau = Annotated[str, Depends(current_bureau)]
