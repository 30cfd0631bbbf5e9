"""``python -m services.registry`` runs the service; ``... reextract`` replays articles."""

import sys

if len(sys.argv) > 1 and sys.argv[1] == "reextract":
    from services.registry.entrypoints.reextract import main

    sys.exit(main(sys.argv[2:]))

from services.common.serve import run
from services.registry.bootstrap import build_app
from services.registry.config import RegistrySettings

settings = RegistrySettings()
run(
    build_app(settings),
    service="registry",
    host=settings.host,
    port=settings.port,
    log_level=settings.log_level,
)
