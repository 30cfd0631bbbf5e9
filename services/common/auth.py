"""The one bearer-token guard of every service's protected routes (ingest's crawlers, the
registry's and notify's operator): the same answers everywhere, 503 while the service has
no token to compare with (its routes are off, not open) and 401 with ``WWW-Authenticate``
for a missing or wrong one.

The comparison takes the same time whichever token matched, or how much of one did: each
side is hashed to a fixed length first (``compare_digest`` on unequal lengths would answer
at once) and every configured token is compared, never stopping at the first match.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

#: auto_error off: FastAPI's own answer to a missing header is a 403, ours is a 401.
_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def unauthorized(credential: str) -> HTTPException:
    """401 naming what to present, e.g. ``the operator token`` or ``a valid bureau API key``."""
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail=f"{credential} is required (Authorization: Bearer <token>)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def matches_any(presented: str, tokens: Sequence[str]) -> bool:
    """Whether ``presented`` is one of ``tokens``, in time that depends on neither."""
    digest = hashlib.sha256(presented.encode()).digest()
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(digest, hashlib.sha256(token.encode()).digest())
    return matched


class BearerGuard:
    """A FastAPI dependency: passes a request that presents one of the tokens
    ``tokens_of(request)`` reads from the app's settings, answers 401 or 503 otherwise.

    ``setting`` names the setting in the 503, ``credential`` what the 401 asks for, and
    ``routes`` which routes are off while the setting is empty.
    """

    def __init__(
        self,
        tokens_of: Callable[[Request], Sequence[str]],
        *,
        setting: str,
        credential: str,
        routes: str,
    ) -> None:
        self.tokens_of = tokens_of
        self.setting = setting
        self.credential = credential
        self.routes = routes

    def __call__(self, request: Request, credentials: Credentials) -> None:
        tokens = [t for t in self.tokens_of(request) if t]
        if not tokens:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                detail=f"{self.routes} are disabled: {self.setting} is not set",
            )
        if credentials is None or not matches_any(credentials.credentials, tokens):
            raise unauthorized(self.credential)
