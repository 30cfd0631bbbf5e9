"""``python -m services.ingest`` runs the service; ``--help`` lists its settings."""

import sys

from services.common.cli import ServiceCli
from services.ingest.config import IngestSettings


def serve() -> None:
    # imported here so that --help answers without loading the service
    from services.common.serve import serve as serve_service
    from services.ingest.bootstrap import build_app

    serve_service("ingest", IngestSettings(), build_app)


CLI = ServiceCli(
    service="ingest",
    description=(
        "Alliance Watch's ingest service: crawlers POST articles to /v1/articles and "
        "/v1/articles/batch (a bearer token of INGEST_API_TOKENS); each accepted article "
        "is published to articles.raw."
    ),
    settings=IngestSettings,
    serve=serve,
)

if __name__ == "__main__":
    sys.exit(CLI.main())
