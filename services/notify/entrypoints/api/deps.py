"""Who is calling: the operator (its token from the settings) or a bureau (an API key)."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.notify.service import NotifyService

if TYPE_CHECKING:
    from services.notify.bootstrap import NotifyComponents

_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_service(request: Request) -> NotifyService:
    service: NotifyService = request.app.state.notify
    return service


Service = Annotated[NotifyService, Depends(get_service)]


def components_of(request: Request) -> NotifyComponents:
    parts: NotifyComponents = request.app.state.components
    return parts


def _unauthorized(what: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail=f"{what} is required (Authorization: Bearer <token>)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def require_operator(request: Request, credentials: Credentials) -> None:
    expected: str = request.app.state.settings.operator_token.strip()
    presented = credentials.credentials if credentials else ""
    if not expected or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise _unauthorized("the operator token")


async def current_bureau(service: Service, credentials: Credentials) -> str:
    """The id of the bureau whose API key was presented."""
    bureau_id = await service.authenticate(credentials.credentials) if credentials else None
    if bureau_id is None:
        raise _unauthorized("a valid bureau API key")
    return bureau_id


Bureau = Annotated[str, Depends(current_bureau)]
