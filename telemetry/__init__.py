"""Structured, privacy-preserving logging: event names and hashed ids, never message text.

Every package logs through `event()`; `configure()` is called once by the CLI."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
from typing import Any

_SALT = b"ieum-default-salt-change-me"


def set_salt(salt: str) -> None:
    global _SALT
    _SALT = salt.encode()


def hash_id(value: object) -> str:
    """A short, stable pseudonym for a user or chat id, for logs only."""
    return hmac.new(_SALT, str(value).encode(), hashlib.sha256).hexdigest()[:12]


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            data.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            data["exc"] = record.exc_info[0].__name__
        return json.dumps(data, ensure_ascii=False, default=str)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiogram logs raw updates at debug and handled events at info: keep it quiet.
    logging.getLogger("aiogram").setLevel(logging.WARNING)


def event(logger: logging.Logger, name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log `name` (a verb, e.g. `case_opened`) with ids, levels and scores only."""
    logger.log(level, name, extra={"fields": fields})
