"""Logging for mcp_push: everything through the `mcp_push` logger, redacted, and to stderr only."""

from __future__ import annotations

import logging
import sys

from .redact import process_redactor


class RedactingFilter(logging.Filter):
    """Masks every secret this process has seen in a record's final message (defence in depth)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = process_redactor().text(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


def logger() -> logging.Logger:
    log = logging.getLogger("mcp_push")
    if not any(isinstance(f, RedactingFilter) for f in log.filters):
        log.addFilter(RedactingFilter())
    return log


def log_to_stderr(level: int = logging.INFO) -> None:
    """For scripts (the `notify` drop-in): show channel outcomes on stderr unless logging is set up."""
    log = logger()
    if log.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s mcp-push %(levelname)s %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(level)
