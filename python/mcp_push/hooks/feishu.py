"""Feishu bot signature: unlike DingTalk, "timestamp\\nsecret" is the HMAC *key* and the message is empty.
Lark (international Feishu) signs the same way (hooks/lark.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from . import HookInput


def sign(secret: str, timestamp_s: int) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def signed(secret: str, now: float) -> dict:
    """{timestamp, sign} for a bot with signing on; empty values without a secret."""
    if not secret:
        return {"timestamp": "", "sign": ""}
    timestamp_s = int(now)
    signature = sign(secret, timestamp_s)
    # The sign depends only on the time and the secret: whoever holds it can post for an hour. Masked,
    # as this message's own secret: it changes every second, so the process registry never holds it.
    return {"timestamp": str(timestamp_s), "sign": signature, "message_secrets": [signature]}


def feishu_sign(data: HookInput) -> dict:
    return signed(data.env.get("FSSECRET", ""), data.now)
