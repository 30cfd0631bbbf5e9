from services.common.serve import run
from services.ingest.bootstrap import build_app
from services.ingest.config import IngestSettings

settings = IngestSettings()
run(
    build_app(settings),
    service="ingest",
    host=settings.host,
    port=settings.port,
    log_level=settings.log_level,
)
