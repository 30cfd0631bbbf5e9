"""``python -m services.notify`` runs the service; ``... new-secrets-key`` prints a key for
NOTIFY_SECRETS_KEY and ``... reseal-secrets`` seals stored secrets with the newest one;
``--help`` lists the commands and the settings."""

import sys

from services.common.cli import Command, ServiceCli
from services.notify.config import NotifySettings
from services.notify.entrypoints import reseal


def serve() -> None:
    # imported here so that --help answers without loading the service
    from services.common.serve import serve as serve_service
    from services.notify.bootstrap import build_app

    serve_service("notify", NotifySettings(), build_app)


CLI = ServiceCli(
    service="notify",
    description=(
        "Alliance Watch's notify service: bureaus, API keys and subscriptions; consumes "
        "alliances.changes and delivers signed alerts (webhook, DingTalk, WeCom, e-mail)."
    ),
    settings=NotifySettings,
    serve=serve,
    commands=[
        Command(
            "new-secrets-key",
            "print a new key for NOTIFY_SECRETS_KEY",
            reseal.print_new_key,
        ),
        Command(
            "reseal-secrets",
            "seal every stored secret with the newest key of NOTIFY_SECRETS_KEY",
            reseal.reseal,
            description=reseal.__doc__ or "",
        ),
    ],
)

if __name__ == "__main__":
    sys.exit(CLI.main())
