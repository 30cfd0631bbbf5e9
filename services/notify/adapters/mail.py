"""E-mail over the operator's SMTP relay: alerts (one per e-mail), digests (HTML with a
plain-text part) and notices to a bureau's contact.

Every e-mail to a subscription carries ``List-Unsubscribe`` (an http(s) URL) with
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), and the same link in its
body. An e-mail the relay refused for some recipients is not delivered: it fails with
those recipients and the reason (the others have it, so it is not sent again). A header
that cannot be encoded fails the delivery at once: no retry can mend it.
"""

from __future__ import annotations

import asyncio
import email.errors
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate

from services.notify.adapters.sending import SendOutcome, Target
from services.notify.domain.email_digest import DigestMail, unsubscribe_footer
from services.notify.domain.models import Alert
from services.notify.domain.rendering import plain_text
from services.notify.domain.targets import email_recipients

#: Made of a subscription id: the URL of its one-click unsubscribe link.
UnsubscribeUrl = Callable[[str], str]
#: Subject and text of an alert's e-mail (the e-mail channel's renderer).
MailRenderer = Callable[[Sequence[Alert], int | None], tuple[str, str]]


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    username: str | None = None
    password: str | None = None
    sender: str = "alliance-watch@localhost"
    starttls: bool = False
    ssl: bool = False
    timeout_seconds: float = 10.0


class Unencodable(ValueError):
    """A header or the body cannot be put into an e-mail."""


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def refusal_reason(refused: dict[str, tuple[int, bytes]]) -> str:
    parts = []
    for address, (code, answer) in sorted(refused.items()):
        text = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
        parts.append(f"{address}: {code} {text}")
    return "refused for " + "; ".join(parts)


class EmailSender:
    """Its relay is configuration, not a bureau's choice: not put through the SSRF guard."""

    def __init__(
        self,
        settings: SmtpSettings,
        unsubscribe_url: UnsubscribeUrl | None = None,
        render: MailRenderer = plain_text,
    ):
        self.settings = settings
        self.unsubscribe_url = unsubscribe_url
        self.render = render

    # --- composing ------------------------------------------------------------------

    def _message(self, to: Sequence[str], subject: str, message_id: str) -> EmailMessage:
        message = EmailMessage()
        try:
            message["Subject"] = subject
            message["From"] = self.settings.sender
            message["To"] = ", ".join(to)
            message["Date"] = formatdate(localtime=False)
            # Stable across retries: a mail system that saw it already can drop the copy.
            message["Message-ID"] = f"<{message_id}@alliance-watch>"
        except (ValueError, TypeError, email.errors.MessageError) as exc:
            raise Unencodable(f"a header cannot be encoded: {exc}") from exc
        return message

    def _unsubscribe(self, message: EmailMessage, target: Target) -> str | None:
        if self.unsubscribe_url is None:
            return None
        url = self.unsubscribe_url(target.subscription_id)
        message["List-Unsubscribe"] = f"<{url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return url

    @staticmethod
    def _checked(message: EmailMessage) -> EmailMessage:
        """Serialise once now, so that what cannot be encoded fails here, not in the relay."""
        try:
            message.as_bytes()
        except (ValueError, TypeError, UnicodeError, email.errors.MessageError) as exc:
            raise Unencodable(f"the e-mail cannot be encoded: {exc}") from exc
        return message

    def compose(self, target: Target, alert: Alert, message_id: str) -> EmailMessage:
        subject, body = self.render([alert], None)
        message = self._message(email_recipients(target.url), subject, message_id)
        message["X-Alliance-Id"] = alert.alliance.id
        url = self._unsubscribe(message, target)
        message.set_content(body + (unsubscribe_footer(url) if url else ""))
        return self._checked(message)

    def compose_digest(self, target: Target, mail: DigestMail, message_id: str) -> EmailMessage:
        message = self._message(email_recipients(target.url), mail.subject, message_id)
        self._unsubscribe(message, target)
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        return self._checked(message)

    def compose_notice(self, to: str, subject: str, text: str, message_id: str) -> EmailMessage:
        message = self._message([to], subject, message_id)
        message.set_content(text)
        return self._checked(message)

    # --- sending --------------------------------------------------------------------

    async def send(self, target: Target, alerts: Sequence[Alert], message_id: str) -> SendOutcome:
        if len(alerts) != 1:
            raise ValueError("an e-mail carries one alert")
        try:
            message = self.compose(target, alerts[0], message_id)
        except Unencodable as exc:
            return SendOutcome(False, None, 0.0, str(exc), permanent=True)
        return await self.deliver(message)

    async def deliver(self, message: EmailMessage) -> SendOutcome:
        if not self.settings.host:
            return SendOutcome(False, None, 0.0, "no SMTP relay configured (NOTIFY_SMTP_HOST)")
        started = time.perf_counter()
        try:
            refused = await asyncio.to_thread(self._deliver, message)
        except smtplib.SMTPNotSupportedError as exc:
            # An address needs SMTPUTF8 and the relay has none: no retry mends it.
            return SendOutcome(False, None, _elapsed_ms(started), f"{exc}", permanent=True)
        except smtplib.SMTPRecipientsRefused as exc:
            reason = refusal_reason(exc.recipients)
            codes = [code for code, _ in exc.recipients.values()]
            permanent = all(code >= 500 for code in codes)
            return SendOutcome(
                False, max(codes, default=None), _elapsed_ms(started), reason, permanent=permanent
            )
        except smtplib.SMTPResponseException as exc:
            error = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            return SendOutcome(False, exc.smtp_code, _elapsed_ms(started), error)
        except (UnicodeError, email.errors.MessageError) as exc:
            error = f"the e-mail cannot be encoded: {exc}"
            return SendOutcome(False, None, _elapsed_ms(started), error, permanent=True)
        except (smtplib.SMTPException, OSError) as exc:
            return SendOutcome(False, None, _elapsed_ms(started), f"{type(exc).__name__}: {exc}")
        if refused:
            # The others have it: sending again would repeat it to them. Failed, with why.
            code = max(code for code, _ in refused.values())
            error = refusal_reason(refused)
            return SendOutcome(False, code, _elapsed_ms(started), error, permanent=True)
        return SendOutcome(True, 250, _elapsed_ms(started))

    def _deliver(self, message: EmailMessage) -> dict[str, tuple[int, bytes]]:
        s = self.settings
        smtp: smtplib.SMTP
        if s.ssl:
            smtp = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        with smtp:
            if s.starttls and not s.ssl:
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
            return smtp.send_message(message)
