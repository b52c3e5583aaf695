"""Logging for mcp_push: everything through the `mcp_push` logger, redacted, and to stderr only."""

from __future__ import annotations

import logging
import sys

from .redact import process_redactor


class RedactingFilter(logging.Filter):
    """Masks every secret this process has seen in a record's final message (defence in depth)."""

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = process_redactor()
        # A record goes through two of these (its logger's and the handler's): the second finds it
        # masked by the same redactor, its message unchanged since, and has nothing left to mask.
        masked = record.__dict__.get("_mcp_push_masked")
        if masked is not None and masked[0] is redactor and masked[1] is record.msg and not record.args:
            return True
        message = record.getMessage()
        cleaned = redactor.text(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        record._mcp_push_masked = (redactor, record.msg)
        return True


# Loggers whose records can carry a request URL (with its token) or body.
REDACTED_LOGGERS = ("mcp_push", "urllib3.connectionpool", "urllib3.util.retry", "requests")


def logger() -> logging.Logger:
    for name in REDACTED_LOGGERS:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())
    return logging.getLogger("mcp_push")


def log_to_stderr(level: int = logging.INFO, own_process: bool = False) -> None:
    """The one logging setup of every entry point: mcp_push's records at `level` to stderr, one line each,
    secrets masked. `own_process` (the CLI, the server: the process is ours) puts the handler on the root
    logger, where other libraries' warnings show too; otherwise (the `notify` drop-in, imported into a
    user's script) only mcp_push's logger gets one, and none when the script has set up logging."""
    log = logger()
    root = logging.getLogger()
    if not own_process and (log.handlers or root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s mcp-push %(levelname)s %(message)s", "%H:%M:%S"))
    if own_process:
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    else:
        log.addHandler(handler)
    log.setLevel(level)
