"""Analysts signed in to the dashboard: an analyst key (``ak_…``, issued by the operator
with ``POST /v1/analysts``) exchanged for a session whose token lives in a cookie and
whose SHA-256 lives in ``analyst_sessions``. The primitives (tokens, digests, CSRF tokens)
are the ones notify's bureau portal uses (``services.common.web_sessions``).

Whatever an analyst does through the pages is the registry's review use cases
(``RegistryService.review`` ...), called with the signed-in analyst, as the JSON API calls
them with the analyst of a bearer key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.common.values import token_digest, utc
from services.common.web_sessions import csrf_of, new_token, plausible_token
from services.registry.adapters import analyst_sessions as store
from services.registry.adapters.tables import AnalystSessionRow
from services.registry.domain.review import Analyst
from services.registry.service import RegistryService

#: What the review pages' CSRF tokens are derived for (never valid in the bureau portal).
CSRF_PURPOSE = b"analyst-csrf"


class WrongKey(Exception):
    """No live analyst key matches what was presented."""


@dataclass(frozen=True)
class AnalystSession:
    analyst: Analyst
    csrf: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    token: str
    session: AnalystSession


class AnalystSessions:
    def __init__(
        self,
        repository: RegistryService,
        *,
        lifetime: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repository = repository
        self.lifetime = lifetime
        self.clock = clock

    def sign_in(self, presented: str) -> SignedIn:
        presented = presented.strip()
        analyst = self.repository.analyst_by_key(presented) if presented else None
        if analyst is None:
            raise WrongKey("no live analyst key matches")
        now = utc(self.clock())
        token = new_token()
        expires_at = now + self.lifetime
        row = AnalystSessionRow(
            id=token_digest(token), analyst_id=analyst.id, created_at=now, expires_at=expires_at
        )
        store.add_session(self.repository.engine, row, now)
        return SignedIn(token, AnalystSession(analyst, csrf_of(token, CSRF_PURPOSE), expires_at))

    def session(self, token: str) -> AnalystSession | None:
        """The live session of a cookie's token, or None (unknown, expired, signed out,
        or the analyst's key revoked)."""
        if not plausible_token(token):
            return None
        found = store.live_session(self.repository.engine, token_digest(token), self.clock())
        if found is None:
            return None
        return AnalystSession(
            Analyst(found.analyst_id, found.analyst_name),
            csrf_of(token, CSRF_PURPOSE),
            found.expires_at,
        )

    def sign_out(self, token: str) -> None:
        if plausible_token(token):
            store.end_session(self.repository.engine, token_digest(token))
