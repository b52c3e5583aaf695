"""What `send()` returns: one entry per configured channel, never carrying a secret."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

# Outcome classes (`status`). Only "delivered" is ok.
DELIVERED = "delivered"
REJECTED = "rejected"  # the vendor answered and said no (HTTP 4xx/5xx, or 200 with an error code)
NETWORK_ERROR = "network_error"  # no answer: refused, reset, DNS, TLS
TIMEOUT = "timeout"
CONFIG_ERROR = "config_error"  # configured, but the configuration cannot work
SKIPPED = "skipped"
INTERNAL_ERROR = "internal_error"  # a bug on our side; reported, never raised
# The MCP server's delivery engine: accepted and not final yet; replaced by a newer update of its run.
QUEUED = "queued"
SUPERSEDED = "superseded"
RETRYING = "retrying"  # accepted, not final: every try so far failed and another one is due (the error says why)


@dataclass
class ChannelResult:
    """One channel's outcome (spec/README.md, "Results"). `attempts`: requests made for this channel, every
    try of every part and target summed, token fetches included. `parts`: parts of the message whose
    sending started (1 for a message that fit; 0 when nothing was sent). `truncated`: content was cut to fit
    the channel's limit (MCP_PUSH_OVERFLOW=truncate, or more than overflow.max_parts parts needed)."""

    channel: str
    ok: bool
    status: str
    error: str | None = None
    attempts: int = 0
    elapsed_ms: int = 0
    http_status: int | None = None
    parts: int = 0
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SendResult:
    """Per-channel results; true when at least one channel delivered."""

    channels: list[ChannelResult] = field(default_factory=list)
    skipped: str | None = None  # why nothing was attempted (empty content, SKIP_PUSH_TITLE, no channel)
    # The history's id of the message (service/history.py), when it was recorded; not in to_dict().
    message_id: str | None = None

    def __bool__(self) -> bool:
        return any(r.ok for r in self.channels)

    def __iter__(self) -> Iterator[ChannelResult]:
        return iter(self.channels)

    def __len__(self) -> int:
        return len(self.channels)

    def __getitem__(self, key: int | str) -> ChannelResult:
        if isinstance(key, str):
            for result in self.channels:
                if result.channel == key:
                    return result
            raise KeyError(key)
        return self.channels[key]

    @property
    def failed(self) -> list[ChannelResult]:
        return [r for r in self.channels if not r.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": bool(self),
            "skipped": self.skipped,
            "channels": [r.to_dict() for r in self.channels],
        }

    def __repr__(self) -> str:
        parts = ", ".join(f"{r.channel}={r.status}" for r in self.channels)
        return f"SendResult(ok={bool(self)}, {parts or self.skipped or 'no channels'})"
