"""``python -m services.ingest`` runs the service; ``--help`` lists its settings."""

import sys

from services.common.cli import ServiceCli
from services.ingest.config import IngestSettings


def serve() -> None:
    from services.common.serve import run
    from services.ingest.bootstrap import build_app

    settings = IngestSettings()
    run(
        build_app(settings),
        service="ingest",
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
    )


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
