"""``python -m services.notify`` runs the service; ``... new-secrets-key`` prints a key for
NOTIFY_SECRETS_KEY and ``... reseal-secrets`` seals stored secrets with the newest one."""

import sys

if len(sys.argv) > 1 and sys.argv[1] in ("new-secrets-key", "reseal-secrets"):
    from services.notify.entrypoints.reseal import main

    sys.exit(main(sys.argv[1:]))

from services.common.serve import run
from services.notify.bootstrap import build_app
from services.notify.config import NotifySettings

settings = NotifySettings()
run(
    build_app(settings),
    service="notify",
    host=settings.host,
    port=settings.port,
    log_level=settings.log_level,
)
