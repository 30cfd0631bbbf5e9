"""``python -m services.extract`` runs the extract service; ``python -m services.extract
FILE...`` (or ``... files FILE...``) extracts files, one JSON line each; ``... replay``
extracts articles.raw again into alliances.extracted; ``--help`` lists the commands and
the settings."""

import os
import sys

from services.common.cli import Command, ServiceCli
from services.extract.config import ExtractSettings
from services.extract.entrypoints import cli, replay


def serve() -> None:
    # imported here so that --help answers without loading the service
    from services.common.serve import serve as serve_service
    from services.extract.bootstrap import build_app

    serve_service("extract", ExtractSettings(), build_app)


def _is_files_argument(arg: str) -> bool:
    """The CLI's options, and any file (even one that is missing, but not a lone word that
    would be a mistyped command): ``python -m services.extract a.txt --published ...``."""
    return arg.startswith("-") or os.sep in arg or "." in arg or os.path.exists(arg)


CLI = ServiceCli(
    service="extract",
    description=(
        "Alliance Watch's extract service: consumes articles.raw and publishes the alliance "
        "events of each article to alliances.extracted. With files, the extraction CLI: "
        "python -m services.extract FILE... [--published YYYY-MM-DD] or --manifest LIST.jsonl."
    ),
    settings=ExtractSettings,
    serve=serve,
    commands=[
        Command(
            "replay",
            "extract articles.raw again with the current extractor into alliances.extracted "
            "(resumable; --since DATE, --restart)",
            replay.run,
            replay.configure,
            description=replay.__doc__ or "",
        ),
    ],
    fallback=Command(
        "files",
        "extract events from article files, one JSON line each (the command may be left out)",
        cli.run,
        cli.configure,
        description=cli.__doc__ or "",
    ),
    fallback_accepts=_is_files_argument,
)

if __name__ == "__main__":
    sys.exit(CLI.main())
