"""Console transport: writes the message to stderr (stdout belongs to the MCP stdio protocol)."""

from __future__ import annotations

import sys
import threading

from ..planner import PlannedRequest
from . import Reply

_lock = threading.Lock()  # channels run in threads; keep one message's lines together


def send_console(request: PlannedRequest, timeout: float) -> Reply:
    with _lock:
        sys.stderr.write(f"{request.body}\n")
        sys.stderr.flush()
    return Reply(200, "")
