"""Rotating ``NOTIFY_SECRETS_KEY``: the start-up check and ``reseal-secrets``.

    python -m services.notify new-secrets-key    # prints a fresh key
    python -m services.notify reseal-secrets     # seals every stored secret with the newest key

A rotation: put the new key first in NOTIFY_SECRETS_KEY, the old one after it, and
restart; run ``reseal-secrets`` once; then drop the old key. At start-up notify refuses to
run while a live subscription's secret opens with none of the keys (the old key went too
early), and says how many secrets still wait for ``reseal-secrets``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from dataclasses import dataclass

from services.notify.adapters.repository import NotifyRepository
from services.notify.adapters.sealing import SecretBox, SecretUnreadable, new_key

log = logging.getLogger(__name__)


class SecretsUnreadable(RuntimeError):
    """Stored secrets that none of the configured keys opens."""


@dataclass(frozen=True)
class ResealReport:
    resealed: int
    current: int
    unreadable: tuple[str, ...]
    #: Changed by their bureau while this ran: sealed with the newest key already.
    changed_meanwhile: int = 0

    def __str__(self) -> str:
        text = (
            f"resealed {self.resealed} subscription secrets with the newest key; "
            f"{self.current + self.changed_meanwhile} already were"
        )
        if self.unreadable:
            text += (
                f"; {len(self.unreadable)} open with none of the keys "
                f"({', '.join(self.unreadable[:5])}{', …' if len(self.unreadable) > 5 else ''})"
            )
        return text


async def check_sealed_secrets(repository: NotifyRepository, box: SecretBox) -> int:
    """Refuse (``SecretsUnreadable``) if a live secret opens with no key; return how many
    are sealed with an older key than the newest."""
    unreadable: list[str] = []
    older = 0
    for subscription_id, sealed in await repository.sealed_secrets(live_only=True):
        if box.is_current(sealed):
            continue
        try:
            box.open(sealed)
        except SecretUnreadable:
            unreadable.append(subscription_id)
            continue
        older += 1
    if unreadable:
        raise SecretsUnreadable(
            f"{len(unreadable)} subscription secrets open with none of the keys in "
            f"NOTIFY_SECRETS_KEY (first: {unreadable[0]}): put the key they were sealed "
            "with back, after the newest, and run `python -m services.notify reseal-secrets`"
        )
    if older:
        log.warning(
            "%d subscription secrets are sealed with an older key: run "
            "`python -m services.notify reseal-secrets`, then drop the old key",
            older,
        )
    return older


async def reseal_secrets(repository: NotifyRepository, box: SecretBox) -> ResealReport:
    """Seal every stored secret (deleted subscriptions' too) with the newest key."""
    resealed = current = changed = 0
    unreadable: list[str] = []
    for subscription_id, sealed in await repository.sealed_secrets():
        if box.is_current(sealed):
            current += 1
            continue
        try:
            fresh = box.reseal(sealed)
        except SecretUnreadable:
            unreadable.append(subscription_id)
            continue
        if await repository.replace_sealed_secret(subscription_id, sealed, fresh):
            resealed += 1
        else:
            changed += 1
    return ResealReport(resealed, current, tuple(unreadable), changed)


def print_new_key(args: object = None) -> int:
    """``new-secrets-key``: a fresh key for NOTIFY_SECRETS_KEY on stdout."""
    print(new_key())
    return 0


def reseal(args: object = None) -> int:
    """``reseal-secrets``: seal every stored secret with the newest key; print the report."""
    from services.common.db import make_engine
    from services.notify.adapters.migrate import upgrade
    from services.notify.config import NotifySettings

    settings = NotifySettings()
    box = SecretBox(settings.secrets_keys)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine, box=box)
        report = asyncio.run(reseal_secrets(NotifyRepository(engine), box))
    finally:
        engine.dispose()
    print(report)
    return 1 if report.unreadable else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.notify")
    parser.add_argument("command", choices=["new-secrets-key", "reseal-secrets"])
    args = parser.parse_args(argv)
    return print_new_key() if args.command == "new-secrets-key" else reseal()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
