"""``python -m services.registry`` runs the service; ``--help`` lists the settings."""

import sys

from services.common.cli import ServiceCli
from services.registry.config import RegistrySettings


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
)

if __name__ == "__main__":
    sys.exit(CLI.main())
