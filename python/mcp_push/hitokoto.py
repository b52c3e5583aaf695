"""The optional hitokoto quote QingLong appends to every message. Never blocks or fails a send."""

from __future__ import annotations

import json
import logging
import threading

from .specs import load_settings

log = logging.getLogger("mcp_push")


def fetch_quote() -> str | None:
    """The quote, or None when it is not had within the configured timeout (a hard deadline: a server
    trickling bytes or a slow DNS lookup cannot hold the send up longer)."""
    settings = load_settings()["hitokoto"]
    found: list[str | None] = [None]
    worker = threading.Thread(target=lambda: found.__setitem__(0, _fetch(settings)), daemon=True)
    worker.start()
    worker.join(settings["timeout"])
    return found[0]


def _fetch(settings: dict) -> str | None:
    try:
        # The channels' HTTP transport: the same proxies, CA bundle and pooled connections (and no second
        # HTTP library to import).
        from .planner import PlannedRequest
        from .transports.http import send_http

        reply = send_http(PlannedRequest("hitokoto", "GET", settings["url"], {}, None, step="hitokoto"),
                          settings["timeout"])
        data = json.loads(reply.text)
        return f"{data['hitokoto']}{settings['separator']}{data['from']}"
    except Exception as exc:  # any failure only means no quote
        log.debug("hitokoto unavailable: %s", type(exc).__name__)
        return None
