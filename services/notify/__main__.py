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
