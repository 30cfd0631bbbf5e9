"""The failure kinds every service distinguishes.

- ``RetryableError``: the world is briefly wrong (a database restarting, a broker
  election); the consumer loop backs off and tries the same message again.
- ``PoisonError``: this message can never be processed (it is malformed, or refers to
  something impossible); it goes to the topic's dead-letter twin, with its ``reason``, and
  the loop goes on.
- Domain errors are raised at the HTTP edge as 4xx answers; they live with each service.
"""


class AllianceWatchError(Exception):
    """Base of the project's own exceptions."""


class RetryableError(AllianceWatchError):
    """Processing failed for a reason that may pass; try the same message again."""


class PoisonError(AllianceWatchError):
    """The message cannot be processed, however often it is tried.

    ``reason`` becomes the dead letter's ``dlq.reason`` header: one word that tells an
    operator (and a replay tool) why, without parsing the error text. Subclasses set
    their own; ``PoisonError("...", reason="...")`` sets it for one error.
    """

    reason: str = "poison"

    def __init__(self, *args: object, reason: str | None = None) -> None:
        super().__init__(*args)
        if reason is not None:
            self.reason = reason
