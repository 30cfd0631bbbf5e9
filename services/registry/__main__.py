"""``python -m services.registry`` runs the service; ``... reextract`` replays articles;
``--help`` lists the commands and the settings."""

import sys

from services.common.cli import Command, ServiceCli
from services.registry.config import RegistrySettings
from services.registry.entrypoints import reextract


def serve() -> None:
    # imported here so that --help answers without loading the service
    from services.common.serve import serve as serve_service
    from services.registry.bootstrap import build_app

    serve_service("registry", RegistrySettings(), build_app)


CLI = ServiceCli(
    service="registry",
    description=(
        "Alliance Watch's registry: consumes alliances.extracted into one record per "
        "alliance, serves the query API, the exports and the dashboard at /, and publishes "
        "alliances.changes."
    ),
    settings=RegistrySettings,
    serve=serve,
    commands=[
        Command(
            "reextract",
            "replay articles.raw through the current extractor into the registry (resumable)",
            reextract.run,
            reextract.configure,
            description=reextract.__doc__ or "",
        ),
    ],
)

if __name__ == "__main__":
    sys.exit(CLI.main())
