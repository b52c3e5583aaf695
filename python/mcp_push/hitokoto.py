"""The optional hitokoto quote QingLong appends to every message. Never blocks or fails a send."""

from __future__ import annotations

import logging
import threading

import requests

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
        reply = requests.get(settings["url"], timeout=(settings["timeout"], settings["timeout"]))
        data = reply.json()
        return f"{data['hitokoto']}{settings['separator']}{data['from']}"
    except Exception as exc:  # any failure only means no quote
        log.debug("hitokoto unavailable: %s", type(exc).__name__)
        return None
