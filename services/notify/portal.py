"""The bureau portal's use cases: sessions opened with an API key, and re-enabling an
endpoint notify disabled once a test alert has reached it. Everything else the portal
does is NotifyService's, called with the signed-in bureau's id, as the JSON API does."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.common.values import token_digest
from services.common.web_sessions import csrf_of, new_token, plausible_token
from services.notify.adapters.portal_store import PortalSessionRow, PortalStore
from services.notify.domain.models import AlertType, SubscriptionPublic, SubscriptionUpdate
from services.notify.domain.security import key_matches, key_prefix
from services.notify.service import Conflict, NotifyService

#: The reason NotifyService gives a subscription the bureau paused itself.
PAUSED_BY_BUREAU = "disabled by the bureau"


class WrongKey(Exception):
    """No live API key matches what was presented."""


@dataclass(frozen=True)
class PortalSession:
    bureau_id: str
    bureau_name: str
    csrf: str
    expires_at: datetime


@dataclass(frozen=True)
class SignedIn:
    token: str
    session: PortalSession


#: What the portal's CSRF tokens are derived for (services.common.web_sessions.csrf_of).
CSRF_PURPOSE = b"portal-csrf"


def system_disabled(subscription: SubscriptionPublic) -> bool:
    """Disabled by notify (its endpoint failed or is gone), not paused by the bureau."""
    return not subscription.enabled and subscription.disabled_reason not in (
        None,
        PAUSED_BY_BUREAU,
    )


class BureauPortal:
    def __init__(self, service: NotifyService, store: PortalStore, *, lifetime: timedelta):
        self.service = service
        self.store = store
        self.lifetime = lifetime

    async def sign_in(self, presented: str) -> SignedIn:
        presented = presented.strip()
        prefix = key_prefix(presented)
        key = None
        if prefix is not None:
            for candidate in await self.service.repository.live_keys_with_prefix(prefix):
                if key_matches(presented, candidate.digest):
                    key = candidate
        if key is None:
            raise WrongKey("no live API key matches")
        bureau = await self.service.repository.get_bureau(key.bureau_id)
        if bureau is None:
            raise WrongKey("the key's bureau is gone")
        now = self.service.clock.now()
        token = new_token()
        row = PortalSessionRow(
            id=token_digest(token),
            bureau_id=bureau.id,
            key_id=key.id,
            created_at=now,
            expires_at=now + self.lifetime,
        )
        await self.store.add_session(row, now)
        return SignedIn(
            token,
            PortalSession(bureau.id, bureau.name, csrf_of(token, CSRF_PURPOSE), row.expires_at),
        )

    async def session(self, token: str) -> PortalSession | None:
        """The live session of a cookie's token, or None (unknown, expired, signed out, or
        its API key revoked)."""
        if not plausible_token(token):
            return None
        row = await self.store.live_session(token_digest(token), self.service.clock.now())
        if row is None:
            return None
        bureau = await self.service.repository.get_bureau(row.bureau_id)
        if bureau is None:
            return None
        return PortalSession(bureau.id, bureau.name, csrf_of(token, CSRF_PURPOSE), row.expires_at)

    async def sign_out(self, token: str) -> None:
        await self.store.end_session(token_digest(token))

    async def tested_since_disabled(self, bureau_id: str, subscription_id: str) -> bool:
        """Whether a test alert reached the endpoint after notify disabled it: the latest
        attempt at the endpoint is a delivered ``alliance.test``. Attempts that failed
        (the one that disabled it among them) come before it; nothing but tests is sent to
        a disabled endpoint."""
        found = await self.store.last_attempt(bureau_id, subscription_id)
        if found is None:
            return False
        attempt, kind = found
        return attempt.outcome == "delivered" and kind == AlertType.test.value

    async def reenable(self, bureau_id: str, subscription_id: str) -> SubscriptionPublic:
        """Enable again a subscription notify disabled, once a test alert got through."""
        current = await self.service.get_subscription(bureau_id, subscription_id)
        if current.enabled:
            return current
        if system_disabled(current) and not await self.tested_since_disabled(
            bureau_id, subscription_id
        ):
            raise Conflict("send a test alert that succeeds before enabling it again")
        return await self.service.update_subscription(
            bureau_id, subscription_id, SubscriptionUpdate(enabled=True)
        )
