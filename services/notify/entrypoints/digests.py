"""E-mail digests and notices, run by the delivery worker.

``DigestJob`` sends each daily or weekly e-mail subscription the digest of its latest
period once that period has ended (``NOTIFY_DIGEST_HOUR``, Asia/Shanghai time; weekly on
Monday). A period is claimed before it is sent and recorded as sent in the transaction that
marks its alerts delivered, so it goes out once, across restarts and replicas (a worker
that dies while sending lets its claim run out; the message keeps its Message-ID, so a
mail system can drop the rare second copy). ``Notices`` tells a bureau's contact e-mail
that one of its endpoints was disabled, and why.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime, timedelta

from pydantic import ValidationError

from services.notify.adapters.digest_store import PeriodOutcome
from services.notify.adapters.mail import EmailSender, Unencodable
from services.notify.adapters.repository import NotifyRepository
from services.notify.adapters.sending import SendOutcome, Target
from services.notify.adapters.tables import SubscriptionRow
from services.notify.domain.email_digest import disabled_notice, render_email_digest
from services.notify.domain.models import Alert, Channel
from services.notify.domain.periods import Cadence, Period, period_due
from services.notify.domain.schedule import Clock, RetrySchedule

log = logging.getLogger(__name__)


def digest_message_id(subscription_id: str, period: str) -> str:
    """The same for every attempt at one period's digest."""
    digest = hashlib.sha256(f"{subscription_id}\n{period}".encode()).hexdigest()
    return f"dig_{digest[:32]}"


class DigestJob:
    def __init__(
        self,
        repository: NotifyRepository,
        mail: EmailSender,
        clock: Clock,
        *,
        hour: int,
        schedule: RetrySchedule | None = None,
        lease: timedelta = timedelta(minutes=10),
        check_every: timedelta = timedelta(seconds=30),
    ) -> None:
        self.repository = repository
        self.mail = mail
        self.clock = clock
        self.hour = hour
        self.schedule = schedule or RetrySchedule(jitter=0)
        self.lease = lease
        self.check_every = check_every
        self._last_check: datetime | None = None

    async def run_if_due(self) -> int:
        now = self.clock.now()
        if self._last_check is not None and now - self._last_check < self.check_every:
            return 0
        self._last_check = now
        return await self.run_once()

    async def run_once(self) -> int:
        """Send every digest whose period has ended and is not sent; returns how many."""
        now = self.clock.now()
        sent = 0
        for subscription in await self.repository.digest_subscriptions():
            try:
                sent += await self._serve(subscription, now)
            except Exception:
                log.exception("digest of subscription %s failed", subscription.id)
        return sent

    async def _serve(self, subscription: SubscriptionRow, now: datetime) -> int:
        cadence = Cadence(subscription.cadence)
        period = period_due(cadence, now, self.hour, subscription.created_at)
        if period is None:
            return 0
        attempt = await self.repository.claim_period(subscription.id, period.key, now, self.lease)
        if attempt is None:
            return 0
        held = await self.repository.held_deliveries(subscription.id, period.end)
        alerts: list[Alert] = []
        ids: list[str] = []
        for delivery in held:
            try:
                alerts.append(Alert.model_validate_json(delivery.payload))
                ids.append(delivery.id)
            except ValidationError:
                log.error("delivery %s: stored alert unreadable, left out", delivery.id)
        message_id = digest_message_id(subscription.id, period.key)
        if not alerts:
            outcome = PeriodOutcome(True, now, message_id, None, None)
            await self.repository.finish_period(subscription.id, period.key, [], outcome)
            return 0
        result = await self._send(subscription, period, alerts, message_id)
        retry_at = None
        if not result.ok and not result.permanent:
            wait = self.schedule.delay(attempt)
            retry_at = now + wait if wait is not None else None
        outcome = PeriodOutcome(
            result.ok,
            now,
            message_id,
            result.status_code,
            result.latency_ms,
            result.error,
            retry_at,
        )
        await self.repository.finish_period(subscription.id, period.key, ids, outcome)
        log.info(
            "digest %s of subscription %s: %d alerts, %s%s",
            period.key,
            subscription.id,
            len(ids),
            "sent" if result.ok else "not sent",
            f" ({result.error})" if result.error else "",
        )
        return 1 if result.ok else 0

    async def _send(
        self, subscription: SubscriptionRow, period: Period, alerts: list[Alert], message_id: str
    ) -> SendOutcome:
        target = Target(subscription.id, Channel.email, subscription.url, None)
        unsubscribe = self.mail.unsubscribe_url
        link = unsubscribe(subscription.id) if unsubscribe is not None else ""
        mail = render_email_digest(alerts, period, link)
        try:
            message = self.mail.compose_digest(target, mail, message_id)
        except Unencodable as exc:
            return SendOutcome(False, None, 0.0, str(exc), permanent=True)
        return await self.mail.deliver(message)


class Notices:
    """E-mails to a bureau's contact about its endpoints."""

    def __init__(self, repository: NotifyRepository, mail: EmailSender) -> None:
        self.repository = repository
        self.mail = mail

    async def disabled(self, subscription_id: str) -> bool:
        """Tell the bureau's contact (if it has one) that the subscription was disabled."""
        try:
            found = await self.repository.subscription_and_bureau(subscription_id)
            if found is None:
                return False
            subscription, bureau = found
            if not bureau.contact_email:
                return False
            subject, text = disabled_notice(
                subscription.name, subscription.channel, subscription.disabled_reason or "未知"
            )
            stamp = f"{subscription_id}-{time.time_ns()}"
            message = self.mail.compose_notice(
                bureau.contact_email, subject, text, f"notice_{stamp}"
            )
            outcome = await self.mail.deliver(message)
        except Exception:
            log.exception("telling the contact about subscription %s failed", subscription_id)
            return False
        if not outcome.ok:
            log.warning("notice of subscription %s not sent: %s", subscription_id, outcome.error)
        return outcome.ok
