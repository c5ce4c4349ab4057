"""Structured logging: one JSON object per line on stderr, with the request id.

The request id travels in a context variable set by the request middleware,
so every log line written while serving a request carries it, whichever
module wrote it. `configure_logging` owns exactly one handler on the root
logger and is idempotent: calling it from each worker's lifespan is safe and
leaves other handlers (pytest's capture, for one) alone.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from vaultapi.config import LogSettings

request_id_var: ContextVar[str | None] = ContextVar("vaultapi_request_id", default=None)

# Attributes every LogRecord has; anything else came in through `extra=`.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured duplicate of the message
}


def _install_request_id_factory() -> None:
    """Stamp the current request id on every record when it is created, so
    every handler sees it (ours, pytest's capture, anything an operator adds)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "_vaultapi", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id_var.get()
        return record

    factory._vaultapi = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ConsoleFormatter(logging.Formatter):
    """One line per record: control characters in the message (a percent-decoded
    request path can hold a newline) are escaped, so a request cannot forge a
    log line. Tracebacks, added after the message, keep their lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - stdlib name
        record.message = _escape_controls(record.message)
        return super().formatMessage(record)


def _escape_controls(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class _OwnedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the one handler `configure_logging` manages."""


def configure_logging(settings: LogSettings) -> None:
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _OwnedHandler)]:
        root.removeHandler(handler)
    _install_request_id_factory()
    handler = _OwnedHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if settings.format == "json" else ConsoleFormatter())
    root.addHandler(handler)
    root.setLevel(settings.level)
    # aiosqlite logs every statement with its parameters at DEBUG: verifiers and
    # ciphertext must not reach a log, whatever level an operator picks.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    # Our middleware writes the access log (with request ids); uvicorn's would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
