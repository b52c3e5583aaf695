"""WxPusher targets: `;`-separated topic ids (integers) and uids."""

from __future__ import annotations

from ..config import ConfigError
from . import HookInput


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def wxpusher_targets(data: HookInput) -> dict:
    topic_ids = []
    for part in _split(data.env.get("WXPUSHER_TOPIC_IDS", "")):
        if not part.isdigit():
            raise ConfigError(f"WXPUSHER_TOPIC_IDS must be numbers separated by ';', got {part!r}")
        topic_ids.append(int(part))
    return {"topic_ids": topic_ids, "uids": _split(data.env.get("WXPUSHER_UIDS", ""))}
