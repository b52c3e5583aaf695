"""Apprise targets from APPRISE_URLS: one or more Apprise URLs, separated by white space or commas."""

from __future__ import annotations

import re

from ..config import ConfigError
from . import HookInput


def apprise_targets(data: HookInput) -> dict:
    """`targets`: each URL of `APPRISE_URLS` as `{url}`, in the order given (one request, and one target
    result, per URL)."""
    urls = [url for url in re.split(r"[ \t\n\r\f\v,]+", data.env.get("APPRISE_URLS", "")) if url]
    if not urls:
        raise ConfigError("APPRISE_URLS names no URL: give one or more Apprise URLs (json://host/path, tgram://…)")
    return {"targets": [{"url": url} for url in urls]}
