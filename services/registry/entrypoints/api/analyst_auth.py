"""The analysts' credential: ``Authorization: Bearer ak_…``, a key the operator issued
(``POST /v1/analysts``). The key is looked up by its SHA-256, so revoking it
(``DELETE /v1/analysts/{id}``) stops it at the next request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.exc import DBAPIError

from services.common.auth import Credentials
from services.registry.domain.review import Analyst
from services.registry.service import RegistryService

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def current_analyst(request: Request, credentials: Credentials) -> Analyst:
    """The analyst presenting the request's key; 401 saying why when there is none."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="an analyst key is required (Authorization: Bearer ak_…)",
            headers=_CHALLENGE,
        )
    repository: RegistryService = request.app.state.repository
    try:
        analyst = repository.analyst_by_key(credentials.credentials)
    except DBAPIError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail="the registry database is unavailable"
        ) from exc
    if analyst is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="unknown or revoked analyst key",
            headers=_CHALLENGE,
        )
    return analyst


#: A route parameter that is the authenticated analyst.
CurrentAnalyst = Annotated[Analyst, Depends(current_analyst)]
