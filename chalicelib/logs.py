"""Structured JSON logs (one line per event) with passwords and tokens never written."""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

from chalicelib.clock import utc_iso
from chalicelib.settings import read_settings

# Anything that looks like a secret in a message is masked before it is written.
_SECRET_PATTERN = re.compile(
    r"(?i)(password|passwd|secret|token|sid|authorization)([\"']?\s*[:=]\s*[\"']?)([^\s\"',}]+)"
)
_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# botocore writes whole request and response bodies at DEBUG, Secrets Manager's `SecretString` included
# (center and directory passwords, the token signing key): these loggers never go below INFO, whatever
# the root logger's level (e.g. Lambda's log level control set to DEBUG).
_BODY_LOGGERS = ("botocore.endpoint", "botocore.parsers")


def redact(text: str) -> str:
    return _SECRET_PATTERN.sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": utc_iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging() -> None:
    """Idempotent; the level comes from BROKER_LOG_LEVEL (INFO by default)."""
    root = logging.getLogger("broker")
    if getattr(root, "_broker_configured", False):
        return
    for name in _BODY_LOGGERS:
        body_logger = logging.getLogger(name)
        body_logger.setLevel(max(body_logger.level, logging.INFO))
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(read_settings().log_level)  # uncached: this runs when app.py is imported
    root.propagate = False
    root._broker_configured = True  # type: ignore[attr-defined]
