"""Notify's use cases: the operator's bureaus and keys, a bureau's subscriptions and
delivery log, and turning a registry change into deliveries."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from services.common import tracing
from services.notify.adapters.net import AddressGuard
from services.notify.adapters.public import (
    bureau_public,
    delivery_public,
    key_public,
    subscription_public,
)
from services.notify.adapters.repository import NotifyRepository, filters_json, new_id
from services.notify.adapters.sealing import SecretBox
from services.notify.adapters.tables import ApiKeyRow, BureauRow, DeliveryRow, SubscriptionRow
from services.notify.changes import ChangeIntake
from services.notify.channels import spec_of
from services.notify.domain.matching import (
    Matcher,
)
from services.notify.domain.models import (
    MAX_REPLAY,
    Alert,
    AlertType,
    ApiKeyIssued,
    ApiKeyPublic,
    AttemptPublic,
    BureauCreated,
    BureauPublic,
    BureauUpdate,
    Channel,
    DeliveryDetail,
    DeliveryPublic,
    DeliveryQueued,
    DeliveryStatus,
    ReplayAnswer,
    ReplayRequest,
    SecretRotation,
    SubscriptionCreate,
    SubscriptionPublic,
    SubscriptionUpdate,
    SubscriptionWithSecret,
    validate_cadence,
    validate_secret,
    validate_target,
)
from services.notify.domain.periods import Cadence
from services.notify.domain.samples import TEST_ALLIANCE_ID, TEST_NOTE, sample_alliance
from services.notify.domain.schedule import Clock, SystemClock
from services.notify.domain.security import issue_api_key, key_matches, key_prefix
from services.notify.domain.ssrf import AddressRefused

log = logging.getLogger(__name__)


class NotFound(Exception):
    """Not there, or not this bureau's: both answer 404."""


class Conflict(Exception):
    """The request is valid but the resource's state forbids it (409)."""


class Invalid(Exception):
    """The request is well-formed but not acceptable (422)."""


class NotifyService(ChangeIntake):
    def __init__(
        self,
        repository: NotifyRepository,
        *,
        box: SecretBox,
        clock: Clock | None = None,
        guard: AddressGuard | None = None,
        on_new_deliveries: Callable[[], None] | None = None,
    ) -> None:
        self.repository = repository
        self.box = box
        self.clock = clock or SystemClock()
        self.guard = guard or AddressGuard()
        self.on_new_deliveries = on_new_deliveries
        self._filter_cache: dict[str, tuple[tuple[str, str], Matcher]] = {}

    # --- the operator: bureaus and their keys ---------------------------------------

    async def create_bureau(self, name: str, contact_email: str | None = None) -> BureauCreated:
        now = self.clock.now()
        bureau = BureauRow(id=new_id("bur"), name=name, contact_email=contact_email, created_at=now)
        issued = issue_api_key()
        key = ApiKeyRow(
            id=new_id("key"),
            bureau_id=bureau.id,
            prefix=issued.prefix,
            digest=issued.digest,
            label="initial",
            created_at=now,
        )
        await self.repository.create_bureau(bureau, key)
        log.info("bureau created: %s", bureau.id)
        return BureauCreated(
            id=bureau.id,
            name=name,
            contact_email=contact_email,
            api_key=issued.plaintext,
            key_id=key.id,
        )

    async def update_bureau(self, bureau_id: str, request: BureauUpdate) -> BureauPublic:
        changes = {
            f: getattr(request, f)
            for f in request.model_fields_set
            if f == "contact_email" or getattr(request, f) is not None
        }
        row = await self.repository.update_bureau(bureau_id, changes)
        if row is None:
            raise NotFound(f"no bureau {bureau_id}")
        return bureau_public(row)

    async def list_bureaus(self) -> list[BureauPublic]:
        return [bureau_public(b) for b in await self.repository.list_bureaus()]

    async def _require_bureau(self, bureau_id: str) -> BureauRow:
        bureau = await self.repository.get_bureau(bureau_id)
        if bureau is None:
            raise NotFound(f"no bureau {bureau_id}")
        return bureau

    async def issue_key(self, bureau_id: str, label: str | None) -> ApiKeyIssued:
        await self._require_bureau(bureau_id)
        row, plaintext = self._new_key(bureau_id, label)
        await self.repository.add_key(row)
        return ApiKeyIssued(**key_public(row).model_dump(), api_key=plaintext)

    def _new_key(self, bureau_id: str, label: str | None) -> tuple[ApiKeyRow, str]:
        issued = issue_api_key()
        row = ApiKeyRow(
            id=new_id("key"),
            bureau_id=bureau_id,
            prefix=issued.prefix,
            digest=issued.digest,
            label=label,
            created_at=self.clock.now(),
        )
        return row, issued.plaintext

    async def list_keys(self, bureau_id: str) -> list[ApiKeyPublic]:
        await self._require_bureau(bureau_id)
        return [key_public(k) for k in await self.repository.list_keys(bureau_id)]

    async def revoke_key(self, bureau_id: str, key_id: str) -> ApiKeyPublic:
        row = await self.repository.revoke_key(bureau_id, key_id, self.clock.now())
        if row is None:
            raise NotFound(f"no key {key_id}")
        return key_public(row)

    async def rotate_key(self, bureau_id: str, key_id: str) -> ApiKeyIssued:
        """A new key in place of a live one, which stops working at once."""
        current = await self.repository.get_key(bureau_id, key_id)
        if current is None:
            raise NotFound(f"no key {key_id}")
        if current.revoked_at is not None:
            raise Conflict(f"key {key_id} is already revoked")
        row, plaintext = self._new_key(bureau_id, current.label)
        rotated = await self.repository.rotate_key(bureau_id, key_id, row, self.clock.now())
        if rotated is None:
            raise Conflict(f"key {key_id} was revoked meanwhile")
        return ApiKeyIssued(**key_public(row).model_dump(), api_key=plaintext)

    async def authenticate(self, presented: str) -> str | None:
        """The bureau a presented API key belongs to, or None."""
        prefix = key_prefix(presented)
        if prefix is None:
            return None
        found: str | None = None
        for key in await self.repository.live_keys_with_prefix(prefix):
            if key_matches(presented, key.digest):
                found = key.bureau_id
        return found

    # --- a bureau's subscriptions ---------------------------------------------------

    async def _check_reachable(self, channel: Channel, url: str) -> None:
        """The SSRF guard's verdict now, so that a bureau hears of a refused URL at once."""
        if not spec_of(channel).guarded:
            return  # e-mail goes to the operator's relay, not to a host the bureau names
        try:
            await self.guard.check_url(url)
        except AddressRefused as exc:
            raise Invalid(f"url: {exc}") from exc

    async def create_subscription(
        self, bureau_id: str, request: SubscriptionCreate
    ) -> SubscriptionWithSecret:
        await self._check_reachable(request.channel, request.url)
        secret = request.secret
        new_secret = spec_of(request.channel).new_secret
        if secret is None and new_secret is not None:
            secret = new_secret()
        now = self.clock.now()
        row = SubscriptionRow(
            id=new_id("sub"),
            bureau_id=bureau_id,
            name=request.name,
            channel=request.channel.value,
            url=request.url,
            secret_sealed=self.box.seal(secret),
            filters=filters_json(request.filters.model_dump(mode="json")),
            enabled=request.enabled,
            cadence=request.cadence.value,
            created_at=now,
            updated_at=now,
        )
        await self.repository.add_subscription(row)
        return SubscriptionWithSecret(**subscription_public(row).model_dump(), secret=secret)

    async def list_subscriptions(self, bureau_id: str) -> list[SubscriptionPublic]:
        rows = await self.repository.list_subscriptions(bureau_id)
        return [subscription_public(r) for r in rows]

    async def _subscription(self, bureau_id: str, subscription_id: str) -> SubscriptionRow:
        row = await self.repository.get_subscription(bureau_id, subscription_id)
        if row is None:
            raise NotFound(f"no subscription {subscription_id}")
        return row

    async def get_subscription(self, bureau_id: str, subscription_id: str) -> SubscriptionPublic:
        return subscription_public(await self._subscription(bureau_id, subscription_id))

    async def update_subscription(
        self, bureau_id: str, subscription_id: str, request: SubscriptionUpdate
    ) -> SubscriptionPublic:
        row = await self._subscription(bureau_id, subscription_id)
        channel = Channel(row.channel)
        changes: dict[str, Any] = {}
        fields = request.model_fields_set
        try:
            if "name" in fields and request.name is not None:
                changes["name"] = request.name
            if "url" in fields and request.url is not None:
                changes["url"] = validate_target(channel, request.url)
            if "secret" in fields and request.secret is not None:
                changes["secret_sealed"] = self.box.seal(validate_secret(channel, request.secret))
                # A secret set by hand replaces the old one at once (rotate-secret overlaps).
                changes["previous_secret_sealed"] = None
                changes["previous_secret_until"] = None
        except ValueError as exc:
            raise Invalid(str(exc)) from exc
        if "url" in changes:
            await self._check_reachable(channel, changes["url"])
        if "filters" in fields and request.filters is not None:
            changes["filters"] = filters_json(request.filters.model_dump(mode="json"))
        if "cadence" in fields and request.cadence is not None:
            try:
                changes["cadence"] = validate_cadence(channel, request.cadence).value
            except ValueError as exc:
                raise Invalid(str(exc)) from exc
        if "enabled" in fields and request.enabled is not None:
            changes["enabled"] = request.enabled
            if request.enabled:
                changes["disabled_reason"] = None
                changes["failing_since"] = None
            else:
                changes["disabled_reason"] = "disabled by the bureau"
        changes["updated_at"] = self.clock.now()
        updated = await self.repository.update_subscription(bureau_id, subscription_id, changes)
        if updated is None:
            raise NotFound(f"no subscription {subscription_id}")
        if updated.cadence == Cadence.immediate.value and row.cadence != updated.cadence:
            await self.repository.release_held(subscription_id, self.clock.now())
        if updated.enabled and self.on_new_deliveries is not None:
            self.on_new_deliveries()  # waiting deliveries of a re-enabled one may be due
        return subscription_public(updated)

    async def rotate_secret(
        self, bureau_id: str, subscription_id: str, request: SecretRotation | None = None
    ) -> SubscriptionWithSecret:
        """A new webhook secret; the old one keeps signing beside it (two signatures in
        ``webhook-signature``) for ``overlap_seconds``, then signs nothing. Rotating again
        within the overlap retires the oldest at once: two secrets at most."""
        request = request or SecretRotation()
        row = await self._subscription(bureau_id, subscription_id)
        new_secret = spec_of(row.channel).new_secret
        if new_secret is None:
            raise Conflict("only a webhook's secret is generated here; PATCH a robot's secret")
        secret = new_secret()
        now = self.clock.now()
        overlap = request.overlap_seconds
        changes: dict[str, Any] = {
            "secret_sealed": self.box.seal(secret),
            "previous_secret_sealed": row.secret_sealed if overlap > 0 else None,
            "previous_secret_until": now + timedelta(seconds=overlap) if overlap > 0 else None,
            "updated_at": now,
        }
        updated = await self.repository.update_subscription(bureau_id, subscription_id, changes)
        if updated is None:
            raise NotFound(f"no subscription {subscription_id}")
        return SubscriptionWithSecret(**subscription_public(updated).model_dump(), secret=secret)

    async def send_test(self, bureau_id: str, subscription_id: str) -> DeliveryQueued:
        """A test alert (``alliance.test``, a sample alliance) to the subscription's
        endpoint, through the delivery worker like any alert, and in the delivery log. It
        goes to a disabled subscription too (not a deleted one), so that a bureau can see
        its endpoint works before enabling it again."""
        subscription = await self._subscription(bureau_id, subscription_id)
        now = self.clock.now()
        delivery_id = new_id("dlv")
        change_id = f"test-{delivery_id}"
        alert = Alert(
            type=AlertType.test,
            change_id=change_id,
            highlights=(TEST_NOTE,),
            alliance=sample_alliance(now),
            occurred_at=now,
        )
        await self.repository.add_delivery(
            DeliveryRow(
                id=delivery_id,
                bureau_id=bureau_id,
                subscription_id=subscription.id,
                change_id=change_id,
                alliance_id=TEST_ALLIANCE_ID,
                dedupe_key=f"{subscription.id}:{change_id}",
                type=AlertType.test.value,
                payload=alert.model_dump_json(),
                status=DeliveryStatus.pending.value,
                next_attempt_at=now,
                created_at=now,
                trace_context=tracing.current_carrier(),
            )
        )
        log.info("test alert %s queued for subscription %s", delivery_id, subscription.id)
        if self.on_new_deliveries is not None:
            self.on_new_deliveries()
        return DeliveryQueued(delivery_id=delivery_id)

    async def delete_subscription(self, bureau_id: str, subscription_id: str) -> None:
        if not await self.repository.delete_subscription(
            bureau_id, subscription_id, self.clock.now()
        ):
            raise NotFound(f"no subscription {subscription_id}")

    # --- the delivery log -----------------------------------------------------------

    async def list_deliveries(
        self,
        bureau_id: str,
        *,
        subscription_id: str | None,
        status: DeliveryStatus | None,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[DeliveryPublic], str | None]:
        if subscription_id is not None:
            await self._subscription(bureau_id, subscription_id)
        rows = await self.repository.list_deliveries(
            bureau_id,
            subscription_id=subscription_id,
            status=status.value if status else None,
            after=cursor,
            limit=limit + 1,
        )
        more = len(rows) > limit
        rows = rows[:limit]
        return [delivery_public(r) for r in rows], (rows[-1].id if more and rows else None)

    async def get_delivery(self, bureau_id: str, delivery_id: str) -> DeliveryDetail:
        found = await self.repository.get_delivery(bureau_id, delivery_id)
        if found is None:
            raise NotFound(f"no delivery {delivery_id}")
        row, attempts = found
        log_entries = [
            AttemptPublic(
                number=a.number,
                started_at=a.started_at,
                status_code=a.status_code,
                latency_ms=a.latency_ms,
                outcome=a.outcome,  # type: ignore[arg-type]
                error=a.error,
                batch_size=a.batch_size,
            )
            for a in attempts
        ]
        return DeliveryDetail(**delivery_public(row).model_dump(), log=log_entries)

    async def redeliver(self, bureau_id: str, delivery_id: str) -> DeliveryPublic:
        found = await self.repository.get_delivery(bureau_id, delivery_id)
        if found is None:
            raise NotFound(f"no delivery {delivery_id}")
        delivery, _ = found
        subscription = await self.repository.get_subscription(bureau_id, delivery.subscription_id)
        if subscription is None:
            raise Conflict("the delivery's subscription was deleted")
        if not subscription.enabled:
            raise Conflict(
                f"the subscription is disabled ({subscription.disabled_reason}); "
                "enable it first (PATCH enabled=true)"
            )
        if delivery.status == DeliveryStatus.sending.value:
            raise Conflict("the delivery is being sent right now")
        row = await self.repository.redeliver(bureau_id, delivery_id, self.clock.now())
        if row is None:
            raise NotFound(f"no delivery {delivery_id}")
        if self.on_new_deliveries is not None:
            self.on_new_deliveries()
        return delivery_public(row)

    async def replay(self, bureau_id: str, request: ReplayRequest) -> ReplayAnswer:
        """Send the bureau's failed (or all finished) deliveries of a period again, each
        with its own ``webhook-id`` (the delivery id), at most ``MAX_REPLAY`` a call."""
        if request.subscription_id is not None:
            subscription = await self._subscription(bureau_id, request.subscription_id)
            if not subscription.enabled:
                raise Conflict(
                    f"the subscription is disabled ({subscription.disabled_reason}); "
                    "enable it first (PATCH enabled=true)"
                )
        now = self.clock.now()
        until = request.until or now
        statuses = [DeliveryStatus.failed.value]
        if request.status == "all":
            statuses.append(DeliveryStatus.delivered.value)
        replayed, left_over = await self.repository.replay(
            bureau_id,
            since=request.since,
            until=until,
            subscription_id=request.subscription_id,
            statuses=statuses,
            now=now,
            limit=MAX_REPLAY,
        )
        log.info("bureau %s replayed %d deliveries", bureau_id, replayed)
        if replayed and self.on_new_deliveries is not None:
            self.on_new_deliveries()
        return ReplayAnswer(replayed=replayed, more=left_over is not None, next_since=left_over)
