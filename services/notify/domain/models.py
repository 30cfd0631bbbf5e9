"""Notify's vocabulary: channels, filters, and the models its API reads and answers."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from services.common.contracts import Alliance, EventType
from services.common.places import Level, UnknownPlace
from services.common.places import check as check_place
from services.notify.domain.periods import Cadence
from services.notify.domain.targets import EMAIL_ADDRESS


class Channel(StrEnum):
    """The channels a bureau may choose; each has its entry in ``services.notify.channels``
    (a test fails if one has none)."""

    webhook = "webhook"
    dingtalk = "dingtalk"
    wecom = "wecom"
    email = "email"


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its (next) attempt
    sending = "sending"  # claimed by a worker; back to due when its lease runs out
    delivered = "delivered"
    failed = "failed"  # the schedule ran out, or the endpoint is gone


class AlertType(StrEnum):
    created = "alliance.created"
    #: A material change, or an analyst's correction (``Alert.by_review``).
    updated = "alliance.updated"
    #: An analyst rejected the alliance, or merged it into another (``Alert.merged_into``):
    #: sent only to the subscriptions that were told of it.
    retracted = "alliance.retracted"
    #: A sample alliance a bureau asked for (``POST /v1/subscriptions/{id}/test``).
    test = "alliance.test"


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Filters(BaseModel):
    """What a subscription wants to hear about; an empty list means "any".

    ``provinces``, ``cities`` and ``counties`` together describe one area: an alliance
    matches when any of its institutions (lead or member) lies in any of them. The other
    lists each narrow the match further.
    """

    model_config = ConfigDict(extra="forbid")

    provinces: list[Name] = Field(default_factory=list, max_length=64)
    cities: list[Name] = Field(default_factory=list, max_length=512)
    counties: list[Name] = Field(default_factory=list, max_length=1024)
    types: list[EventType] = Field(default_factory=list, max_length=len(EventType))
    specialties: list[Name] = Field(default_factory=list, max_length=128)
    institutions: list[Name] = Field(default_factory=list, max_length=512)
    min_confidence: float = Field(0.0, ge=0.0, le=1.0)


_PLACE_LEVELS = {"provinces": Level.province, "cities": Level.city, "counties": Level.county}


class FiltersIn(Filters):
    """Filters as a bureau sends them: every place word must be one the gazetteer knows at
    its level (services.common.places), or the request is refused with the nearest names.
    Filters already stored are read as :class:`Filters`, unchecked."""

    @field_validator("provinces", "cities", "counties")
    @classmethod
    def _known_places(cls, words: list[str], info: ValidationInfo) -> list[str]:
        level = _PLACE_LEVELS[info.field_name or ""]
        for word in words:
            try:
                check_place(level, word)
            except UnknownPlace as unknown:
                raise PydanticCustomError(
                    "unknown_place",
                    "{reason}",
                    {"reason": str(unknown), "word": word, "suggestions": unknown.suggestions},
                ) from None
        return words


def validate_target(channel: Channel, url: str) -> str:
    """The target URL of a channel, checked for form by its entry in the channel table;
    raises ValueError."""
    # Looked up on use: the table imports the senders, which import these models.
    from services.notify.channels import spec_of

    return spec_of(channel).validate_target(url)


def validate_cadence(channel: Channel, cadence: Cadence) -> Cadence:
    from services.notify.channels import spec_of  # on use, as in validate_target

    if cadence not in spec_of(channel).cadences:
        raise ValueError("only an e-mail subscription can be a daily or weekly digest")
    return cadence


def validate_contact(address: str | None) -> str | None:
    if address is None or not address.strip():
        return None
    address = address.strip()
    if not EMAIL_ADDRESS.match(address):
        raise ValueError(f"not an e-mail address: {address!r}")
    return address


_CADENCE_HELP = (
    "e-mail only: immediate (one e-mail per alert, the default), daily or weekly (one "
    "digest of the period's alliances, grouped by region; sent at NOTIFY_DIGEST_HOUR, "
    "Asia/Shanghai time, weekly on Monday)"
)
_CONTACT_HELP = "told by e-mail when one of the bureau's endpoints is disabled, and why"


def validate_secret(channel: Channel, secret: str | None) -> str | None:
    """A caller-chosen secret, in the form the channel's table entry asks for (a ``whsec_``
    key for webhooks, the robot's key for DingTalk)."""
    from services.notify.channels import spec_of  # on use, as in validate_target

    if secret is None:
        return None
    check = spec_of(channel).validate_secret
    if check is None:
        raise ValueError(f"a {channel.value} subscription takes no secret")
    return check(secret)


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    channel: Channel
    url: Annotated[str, Field(min_length=1, max_length=2048)] = Field(
        description="webhook / robot URL, or mailto:a@example.gov.cn,b@example.gov.cn"
    )
    secret: Annotated[str | None, Field(min_length=8, max_length=256)] = Field(
        None,
        description="webhook: your own whsec_ secret (one is generated otherwise); "
        "dingtalk: the robot's signing secret (SEC...)",
    )
    filters: FiltersIn = Field(default_factory=FiltersIn)
    enabled: bool = True
    cadence: Cadence = Field(Cadence.immediate, description=_CADENCE_HELP)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        channel = info.data.get("channel")
        return validate_target(channel, value) if channel is not None else value

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str | None, info: ValidationInfo) -> str | None:
        channel = info.data.get("channel")
        return validate_secret(channel, value) if channel is not None else value

    @model_validator(mode="after")
    def _cadence(self) -> SubscriptionCreate:
        validate_cadence(self.channel, self.cadence)
        return self


class SubscriptionUpdate(BaseModel):
    """Fields to change; the channel cannot change (create another subscription)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    url: Annotated[str | None, Field(min_length=1, max_length=2048)] = None
    secret: Annotated[str | None, Field(min_length=8, max_length=256)] = None
    filters: FiltersIn | None = None
    enabled: bool | None = None
    cadence: Cadence | None = Field(None, description=_CADENCE_HELP)


class SubscriptionPublic(BaseModel):
    id: str
    name: str
    channel: Channel
    url: str
    filters: Filters
    enabled: bool
    cadence: Cadence = Field(Cadence.immediate, description=_CADENCE_HELP)
    disabled_reason: str | None = None
    failing_since: datetime | None = None
    previous_secret_until: datetime | None = Field(
        None,
        description="after a rotate-secret: until when webhook deliveries are signed with "
        "the previous secret too (both signatures in webhook-signature)",
    )
    created_at: datetime
    updated_at: datetime


class SubscriptionWithSecret(SubscriptionPublic):
    """Answered on creation and on secret rotation only."""

    secret: str | None = None


class SubscriptionList(BaseModel):
    items: list[SubscriptionPublic]


#: The longest overlap a rotation may ask for: a week.
MAX_OVERLAP_SECONDS = 7 * 24 * 3600
DEFAULT_OVERLAP_SECONDS = 24 * 3600


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int = Field(
        DEFAULT_OVERLAP_SECONDS,
        ge=0,
        le=MAX_OVERLAP_SECONDS,
        description="how long deliveries are signed with the old secret too (0 to 604800; "
        "default 86400, a day); 0 retires the old secret at once",
    )


#: The most deliveries one replay call sends again.
MAX_REPLAY = 1000


class ReplayRequest(BaseModel):
    """Which of the bureau's deliveries to send again: created in ``[since, until)``."""

    model_config = ConfigDict(extra="forbid")

    since: datetime = Field(description="deliveries created at or after this moment")
    until: datetime | None = Field(None, description="... and before this one (default: now)")
    subscription_id: str | None = Field(None, max_length=40)
    status: Literal["failed", "all"] = Field(
        "failed",
        description="failed: the failed ones only; all: the delivered ones as well "
        "(deliveries still pending or being sent are left to their schedule)",
    )

    @field_validator("since", "until")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # a moment without a zone is UTC
        return value

    @model_validator(mode="after")
    def _ordered(self) -> ReplayRequest:
        if self.until is not None and self.until <= self.since:
            raise ValueError("until must be later than since")
        return self


class ReplayAnswer(BaseModel):
    replayed: int = Field(description="deliveries due again now, oldest first")
    more: bool = Field(
        description=f"more than {MAX_REPLAY} matched: call again with since=next_since"
    )
    next_since: datetime | None = None


class DeliveryQueued(BaseModel):
    delivery_id: str


ContactEmail = Annotated[str | None, Field(max_length=254, description=_CONTACT_HELP)]


class BureauCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str, Field(min_length=1, max_length=200)]
    contact_email: ContactEmail = None

    @field_validator("contact_email")
    @classmethod
    def _contact(cls, value: str | None) -> str | None:
        return validate_contact(value)


class BureauUpdate(BaseModel):
    """Fields to change; ``contact_email: null`` removes the contact."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    contact_email: ContactEmail = None

    @field_validator("contact_email")
    @classmethod
    def _contact(cls, value: str | None) -> str | None:
        return validate_contact(value)


class BureauPublic(BaseModel):
    id: str
    name: str
    contact_email: str | None = None
    created_at: datetime


class BureauCreated(BaseModel):
    id: str
    name: str
    contact_email: str | None = None
    api_key: str = Field(description="shown once; only its hash is kept")
    key_id: str


class ApiKeyPublic(BaseModel):
    id: str
    prefix: str
    label: str | None = None
    created_at: datetime
    revoked_at: datetime | None = None


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: Annotated[str | None, Field(max_length=100)] = None


class ApiKeyIssued(ApiKeyPublic):
    api_key: str = Field(description="shown once; only its hash is kept")


class AttemptPublic(BaseModel):
    number: int
    started_at: datetime
    status_code: int | None
    latency_ms: float | None
    outcome: Literal["delivered", "retry", "failed", "gone"]
    error: str | None = None
    batch_size: int = 1


class DeliveryPublic(BaseModel):
    id: str
    subscription_id: str
    change_id: str
    alliance_id: str
    type: AlertType
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: float | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryDetail(DeliveryPublic):
    log: list[AttemptPublic]


class DeliveryList(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None = None


class Alert(BaseModel):
    """What one delivery says: an alliance, created, materially changed or corrected, or
    retracted."""

    model_config = ConfigDict(frozen=True)

    type: AlertType
    change_id: str
    changed_fields: tuple[str, ...] = ()
    #: Readable lines on what changed (新增成员单位：…), for updates; why, for retractions.
    highlights: tuple[str, ...] = ()
    alliance: Alliance
    occurred_at: datetime
    #: The change is an analyst's review action (a correction, a rejection, a merge).
    by_review: bool = False
    #: For a retraction by a merge: the id of the alliance that absorbed this one.
    merged_into: str | None = None
