"""The optional hitokoto quote QingLong appends to every message. Never blocks or fails a send."""

from __future__ import annotations

import logging

import requests

from .specs import load_settings

log = logging.getLogger("mcp_push")


def fetch_quote() -> str | None:
    settings = load_settings()["hitokoto"]
    try:
        reply = requests.get(settings["url"], timeout=(settings["timeout"], settings["timeout"]))
        data = reply.json()
        return f"{data['hitokoto']}{settings['separator']}{data['from']}"
    except Exception as exc:  # any failure only means no quote
        log.debug("hitokoto unavailable: %s", type(exc).__name__)
        return None
