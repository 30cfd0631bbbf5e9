"""``python -m services.extract FILE...`` extracts files (the CLI); without arguments it
runs the extract service. This file belongs to the service wiring: leave it as it is."""

import sys


def main() -> int:
    if len(sys.argv) > 1:
        from services.extract.cli import main as cli_main

        return cli_main(sys.argv[1:])
    from services.common.serve import run
    from services.extract.bootstrap import build_app
    from services.extract.config import ExtractSettings

    settings = ExtractSettings()
    run(
        build_app(settings),
        service="extract",
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
