"""E-mail through the operator's SMTP relay (``adapters.mail``): one alert per e-mail, or a
daily or weekly digest; the relay is configuration, so the target is not put through the
SSRF guard."""

from __future__ import annotations

from services.notify.adapters.sending import Sender
from services.notify.channels.spec import ChannelSpec, SenderKit
from services.notify.domain.models import Channel
from services.notify.domain.periods import Cadence
from services.notify.domain.rendering import plain_text
from services.notify.domain.targets import mailto_target


def _mail(kit: SenderKit, spec: ChannelSpec) -> Sender:
    # The one EmailSender, shared with the digests and the notices to a bureau's contact.
    return kit.mail


SPEC = ChannelSpec(
    name=Channel.email,
    make_sender=_mail,
    render=plain_text,
    validate_target=mailto_target,
    cadences=frozenset(Cadence),
    guarded=False,
)
