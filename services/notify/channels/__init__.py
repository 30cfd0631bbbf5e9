"""The delivery channels: one module each, and one line each in ``CHANNEL_TABLE``.

A channel's entry (``spec.ChannelSpec``) says everything notify does differently for it:
its sender, its renderer, its limits (a robot's budget a minute, the bytes of one message,
whether a burst folds into digests), its signing, the form of its target and secret, and
how a robot's error codes are read. The worker, the service and the models consult the
entry; none names a channel. To add one: a module beside these with its sender and its
``SPEC``, its name in ``domain.models.Channel``, and its line below
(``tests/unit/notify/test_channel_table.py`` fails while a Channel has no line).
"""

from __future__ import annotations

from services.notify.adapters.sending import Senders
from services.notify.channels import dingtalk, email, webhook, wecom
from services.notify.channels.spec import ChannelSpec, SenderKit

#: Each channel's entry, by its name (a ``Channel`` value, as stored in a subscription).
CHANNEL_TABLE: dict[str, ChannelSpec] = {
    webhook.SPEC.name: webhook.SPEC,
    dingtalk.SPEC.name: dingtalk.SPEC,
    wecom.SPEC.name: wecom.SPEC,
    email.SPEC.name: email.SPEC,
}


class UnknownChannel(LookupError):
    """A subscription names a channel this build has no entry for."""


def spec_of(channel: str) -> ChannelSpec:
    try:
        return CHANNEL_TABLE[channel]
    except KeyError:
        raise UnknownChannel(f"no channel {channel!r} in this build") from None


def build_senders(kit: SenderKit) -> Senders:
    """One sender per entry of the table, as it is when notify starts."""
    return Senders({name: spec.make_sender(kit, spec) for name, spec in CHANNEL_TABLE.items()})
