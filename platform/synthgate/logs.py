"""Structured logs: one event per line on stderr, as text or JSON.

``--log-format json`` (or ``SYNTHGATE_LOG_FORMAT=json``) writes JSON lines with
``ts``, ``level``, ``event`` and the event's fields (``job``, ``run_id``,
``stage``, ``duration`` …) for log collectors; text, the default, is quiet
below warnings so the command's own output stays readable.
``SYNTHGATE_LOG_LEVEL`` overrides the level. Every string field passes through
:func:`synthgate.errors.redact`; callers log identifiers, counts and timings,
never values read from a table.
"""

from __future__ import annotations

import enum
import json
import logging
import os
import sys
import warnings
from datetime import UTC, datetime
from typing import Any, TextIO

from synthgate.errors import redact

__all__ = [
    "FORMAT_ENV",
    "LEVEL_ENV",
    "JsonFormatter",
    "LogFormat",
    "TextFormatter",
    "configure",
    "current_format",
    "log_event",
    "logger",
    "server_log_config",
]

FORMAT_ENV = "SYNTHGATE_LOG_FORMAT"
LEVEL_ENV = "SYNTHGATE_LOG_LEVEL"

logger = logging.getLogger("synthgate")


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if value is None or isinstance(value, bool | int):
        return value
    return redact(str(value))


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, dict) else {}


_ACCESS_ARGS = 5  # uvicorn.access: client, method, path, HTTP version, status


def _access(record: logging.LogRecord) -> dict[str, Any] | None:
    """The fields of one of uvicorn's access lines, or None for any other record."""
    args = record.args
    if record.name != "uvicorn.access" or not isinstance(args, tuple):
        return None
    if len(args) != _ACCESS_ARGS:
        return None
    client, method, path, version, status = args
    return {"client": client, "method": method, "path": path, "http": version, "status": status}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        access = _access(record)
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(),
            "event": "http.request" if access else redact(record.getMessage()),
        }
        for key, value in (access or {}).items():
            line[key] = _clean(value)
        for key, value in _fields(record).items():
            if key not in line:
                line[key] = _clean(value)
        return json.dumps(line, sort_keys=False, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{k}={_clean(v)}" for k, v in _fields(record).items() if v is not None]
        return " ".join(
            [f"synthgate {record.levelname.lower()}: {redact(record.getMessage())}", *parts]
        )


_HANDLER_NAME = "synthgate-structured"


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.setStream(sys.stderr)
        super().emit(record)


def configure(
    fmt: LogFormat | str | None = None, *, level: str | None = None, stream: TextIO | None = None
) -> LogFormat:
    """(Re)configure the ``synthgate`` logger; returns the format in effect.

    *fmt* and *level* default to ``SYNTHGATE_LOG_FORMAT`` / ``SYNTHGATE_LOG_LEVEL``.
    """
    raw = fmt if fmt is not None else os.environ.get(FORMAT_ENV) or LogFormat.TEXT
    try:
        chosen = LogFormat(str(raw).lower())
    except ValueError:
        from synthgate.errors import ConfigError

        raise ConfigError(
            f"log format {str(raw)!r} is not one of: {', '.join(f.value for f in LogFormat)}",
            hint=f"set --log-format or {FORMAT_ENV} to text or json",
        ) from None
    default_level = "INFO" if chosen is LogFormat.JSON else "WARNING"
    name = (level or os.environ.get(LEVEL_ENV) or default_level).upper()
    numeric = logging.getLevelName(name)
    if not isinstance(numeric, int):
        from synthgate.errors import ConfigError

        raise ConfigError(f"log level {name!r} is not one of DEBUG, INFO, WARNING, ERROR")
    for old in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
        logger.removeHandler(old)
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    )
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if chosen is LogFormat.JSON else TextFormatter())
    logger.addHandler(handler)
    logger.setLevel(numeric)
    logger.propagate = False
    _quiet_libraries(JsonFormatter() if chosen is LogFormat.JSON else TextFormatter(), stream)
    # JSON logs hold only JSON: Python warnings become log records (text keeps Python's lines)
    logging.captureWarnings(chosen is LogFormat.JSON)
    return chosen


# warnings that libraries raise on every training run and that say nothing to a user
_NOISE = (
    r"Secure RNG turned off",  # documented in docs/differential-privacy.md
    r"Full backward hook is firing",  # Opacus ghost clipping, expected
)


def _quiet_libraries(formatter: logging.Formatter, stream: TextIO | None) -> None:
    """Libraries log through the root logger: give it one handler of ours (same format,
    redaction, warnings and above only) so that a library calling ``basicConfig`` on
    import (Opacus does) cannot turn on its own INFO output; drop known noise warnings."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    )
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    handler.setLevel(logging.WARNING)
    root.addHandler(handler)
    for pattern in _NOISE:
        warnings.filterwarnings("ignore", message=pattern, category=UserWarning)


def current_format() -> LogFormat:
    """The format :func:`configure` set (text before it ran)."""
    for handler in logger.handlers:
        if handler.get_name() == _HANDLER_NAME and isinstance(handler.formatter, JsonFormatter):
            return LogFormat.JSON
    return LogFormat.TEXT


def server_log_config(fmt: LogFormat) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn: its messages and access lines in
    synthgate's format (JSON lines carry ``method``, ``path``, ``status``)."""
    formatter = JsonFormatter if fmt is LogFormat.JSON else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"synthgate": {"()": f"{__name__}.{formatter.__name__}"}},
        "handlers": {
            "synthgate": {"()": f"{__name__}.{_StderrHandler.__name__}", "formatter": "synthgate"}
        },
        "loggers": {
            name: {"handlers": ["synthgate"], "level": "INFO", "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def log_event(event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Log *event* with *fields* (identifiers, counts, timings — never table values)."""
    if not logger.handlers:
        configure()
    logger.log(level, event, extra={"fields": fields})
