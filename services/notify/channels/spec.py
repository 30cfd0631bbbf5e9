"""What one delivery channel is: the entry it has in the channel table.

Everything notify does differently from one channel to the next is a field here, so that
the worker, the service and the models ask the table instead of naming channels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import httpx

from services.notify.adapters.mail import EmailSender
from services.notify.adapters.net import AddressGuard
from services.notify.adapters.sending import Sender
from services.notify.domain.models import Alert
from services.notify.domain.periods import Cadence
from services.notify.domain.robots import RobotAnswer, RobotVerdict

#: Title and text of one message carrying these alerts, in at most ``max_bytes`` UTF-8
#: bytes of text (None: the channel sets no limit).
Renderer = Callable[[Sequence[Alert], int | None], tuple[str, str]]
#: Standard-Webhooks-like headers over the exact body: ``(secret, message_id,
#: unix_seconds, body, previous_secret) -> headers``.
HeaderSigner = Callable[[str, str, int, bytes, str | None], dict[str, str]]
#: A URL carrying its own signature: ``(url, secret, unix_millis) -> signed url``.
UrlSigner = Callable[[str, str, int], str]


@dataclass(frozen=True)
class SenderKit:
    """What senders are made of; built once by the bootstrap."""

    client: httpx.AsyncClient
    wall: Callable[[], float]
    guard: AddressGuard
    #: The one e-mail sender (it also sends the digests and the notices to contacts).
    mail: EmailSender


@dataclass(frozen=True)
class Signing:
    """How a message proves it comes from us: headers over its body, or a signed URL."""

    headers: HeaderSigner | None = None
    url: UrlSigner | None = None


@dataclass(frozen=True)
class RobotLimits:
    """A group robot: it counts messages per robot (all subscriptions posting to one robot
    share its budget), blocks a sender that goes over, and answers HTTP 200 with an
    ``errcode`` that says what happened."""

    #: What each ``errcode`` means (codes not listed: retried on the schedule).
    errcodes: Mapping[int, RobotAnswer]
    #: How long the robot refuses messages once it said "rate limited".
    block: timedelta
    #: Messages the robot takes a minute (NOTIFY_ROBOT_MESSAGES_PER_MINUTE may lower it).
    per_minute: int = 20
    #: A burst above the budget is folded into digest messages; otherwise it waits.
    fold_digests: bool = True

    def classify(self, errcode: int) -> RobotVerdict:
        """What ``errcode`` from this robot means for the delivery."""
        if errcode == 0:
            return RobotVerdict(RobotAnswer.ok)
        kind = self.errcodes.get(errcode, RobotAnswer.retry)
        if kind is RobotAnswer.rate_limited:
            return RobotVerdict(kind, self.block)
        return RobotVerdict(kind)


@dataclass(frozen=True)
class ChannelSpec:
    """One channel's line in the table."""

    #: The channel's name, as stored in a subscription (a ``Channel`` value).
    name: str
    #: Its sender, made once at start-up from the shared kit and this entry.
    make_sender: Callable[[SenderKit, ChannelSpec], Sender]
    #: What its messages say (the sender renders with it).
    render: Renderer
    #: The form of its target, checked when a subscription is created or changed.
    validate_target: Callable[[str], str]
    #: A secret the bureau chooses, checked; None: the channel takes no secret.
    validate_secret: Callable[[str], str] | None = None
    #: Makes a secret when the bureau gives none (and rotate-secret makes a new one);
    #: None: the secret, if any, is the bureau's to give.
    new_secret: Callable[[], str] | None = None
    signing: Signing | None = None
    #: The largest text one message may carry, in UTF-8 bytes; None: no limit.
    max_bytes: int | None = None
    #: Set for a group robot: its budget, its block and its error codes.
    robot: RobotLimits | None = None
    #: The cadences a subscription on this channel may have.
    cadences: frozenset[Cadence] = field(default_factory=lambda: frozenset({Cadence.immediate}))
    #: Its target is a host the bureau names: put through the SSRF guard when it is set
    #: (e-mail goes to the operator's relay instead).
    guarded: bool = True

    def __post_init__(self) -> None:
        if self.robot is not None and self.max_bytes is None:
            # Digests are folded to fit one message: a robot must say how much that is.
            raise ValueError(f"channel {self.name}: a robot needs max_bytes")
