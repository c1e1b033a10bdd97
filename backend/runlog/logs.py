"""The service's logging: one configuration for runlog's and uvicorn's loggers, as text or JSON lines.

``python -m runlog serve --log-format json`` is for a log collector: one JSON
object a line, with the time, level, logger and message, plus the fields a
record carries in ``extra={"fields": {...}}`` (the startup line's store,
registry, bind address and limits). It is the standard ``logging`` module's
configuration (``logging.config.dictConfig``), given to uvicorn too, so its own
lines (startup, access log, errors) come out in the same format.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Any

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonLines(logging.Formatter):
    """A record as one JSON object: ``time``, ``level``, ``logger``, ``message``, its fields, ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update({key: value for key, value in fields.items() if key not in line})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def logging_config(log_format: str = "text", level: str = "INFO") -> dict[str, Any]:
    """A ``dictConfig`` for runlog's and uvicorn's loggers, writing to stderr in ``log_format``."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {list(LOG_FORMATS)}, got {log_format!r}")
    formatter: dict[str, Any] = (
        {"()": f"{__name__}.JsonLines"} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    handler = {"class": "logging.StreamHandler", "formatter": log_format, "stream": "ext://sys.stderr"}
    own = {"handlers": ["stderr"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {log_format: formatter},
        "handlers": {"stderr": handler},
        "loggers": {"runlog": own, "uvicorn": own, "uvicorn.access": own, "uvicorn.error": {"level": level}},
    }
