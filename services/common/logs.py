"""Structured JSON logs, one object a line, carrying ids passed in ``extra`` and, while a
span is current, its ``trace_id`` and ``span_id`` (see ``services.common.tracing``)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from services.common.tracing import current_ids

#: ``extra`` keys copied into the log line when present, so one article can be followed.
CORRELATION_KEYS = ("article_id", "alliance_id", "delivery_id", "topic", "partition", "offset")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in CORRELATION_KEYS:
            if key in record.__dict__:
                line[key] = record.__dict__[key]
        # Formatted in the thread that logged, so the span current there is the line's.
        ids = current_ids()
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
