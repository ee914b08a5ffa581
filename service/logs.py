"""Structured JSON logs with the request id, shared by web and worker processes."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "warden_request_id", default=None
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            doc["request_id"] = request_id
        for key in ("comment_id", "task", "decision"):
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str)


def configure_logging(level: str) -> None:
    """Send ``warden.*`` logs as JSON lines to stderr (idempotent).

    flask-limiter's own warnings (Redis for the rate limits unreachable, each process
    counting on its own; recovered) go the same way, so an operator's log pipeline sees
    them as JSON rather than as Python's bare last-resort lines.
    """
    for name, logger_level in (("warden", level), ("flask-limiter", "INFO")):
        logger = logging.getLogger(name)
        logger.setLevel(logger_level)
        if not any(getattr(h, "_warden", False) for h in logger.handlers):
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(JsonFormatter())
            handler._warden = True  # type: ignore[attr-defined]
            if name == "flask-limiter":
                handler.addFilter(_limiter_worth_logging)
            logger.addHandler(handler)
            logger.propagate = False


def _limiter_worth_logging(record: logging.LogRecord) -> bool:
    """Warnings and the storage's recovery; not the info line it writes for every 429,
    which a submit flood would turn into a log flood (429s are counted in /metrics)."""
    return record.levelno >= logging.WARNING or "recovered" in record.getMessage()
