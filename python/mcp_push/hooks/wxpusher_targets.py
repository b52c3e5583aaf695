"""WxPusher targets: `;`-separated topic ids (integers) and uids."""

from __future__ import annotations

import re

from ..config import ConfigError, strip_space
from . import HookInput


def _split(value: str) -> list[str]:
    return [strip_space(part) for part in value.split(";") if strip_space(part)]


def wxpusher_targets(data: HookInput) -> dict:
    """`topic_ids` (integers) from `WXPUSHER_TOPIC_IDS` and `uids` from `WXPUSHER_UIDS`."""
    topic_ids = []
    for part in _split(data.env.get("WXPUSHER_TOPIC_IDS", "")):
        # ASCII digits only: str.isdigit() also accepts "²" (int() then raises) and full-width digits
        # (which JS parseInt rejects), so both runtimes agree on what a topic id is.
        if not re.fullmatch(r"[0-9]+", part):
            raise ConfigError(f"WXPUSHER_TOPIC_IDS must be numbers separated by ';', got '{part}'")
        topic_ids.append(int(part))
    uids = _split(data.env.get("WXPUSHER_UIDS", ""))
    if not topic_ids and not uids:
        # e.g. WXPUSHER_TOPIC_IDS=";": set, but names nobody; WxPusher would only refuse the request.
        raise ConfigError("WXPUSHER_TOPIC_IDS or WXPUSHER_UIDS must name at least one topic id or uid")
    return {"topic_ids": topic_ids, "uids": uids}
