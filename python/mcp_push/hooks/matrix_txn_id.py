"""Matrix transaction id: unique per message, the same on every retry of that message.

The homeserver treats a repeated txnId on the same path as a retransmission and answers with the first
event's id instead of posting again, so the id is derived from the message itself: the time of the
send in milliseconds and a SHA-256 of the body text. Retries reuse the planned request, so they carry
the same id; a new send (another `now`) or another text gets a new one.
"""

from __future__ import annotations

import hashlib
import math

from . import HookInput


def txn_id(title: str, content: str, now: float) -> str:
    timestamp_ms = math.floor(now * 1000 + 0.5)  # ties up, as JS Math.round (round() ties to even)
    digest = hashlib.sha256(f"{title}\n\n{content}".encode()).hexdigest()
    return f"mcp-push-{timestamp_ms}-{digest[:16]}"


def matrix_txn_id(data: HookInput) -> dict:
    """`txn_id` = `mcp-push-<ms>-<first 16 hex of SHA-256(title + "\\n\\n" + content)>`: unique per message, the same
    on every retry of it."""
    return {"txn_id": txn_id(data.title, data.content, data.now)}
