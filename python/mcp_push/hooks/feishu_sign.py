"""Feishu bot signature: unlike DingTalk, "timestamp\\nsecret" is the HMAC *key* and the message is empty.
Lark (international Feishu) signs the same way with its own secret:
`hook: {use: feishu_sign, secret_var: LARK_SECRET}`."""

from __future__ import annotations

import base64
import hashlib
import hmac

from . import HookInput


def sign(secret: str, timestamp_s: int) -> str:
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def feishu_sign(data: HookInput, *, secret_var: str) -> dict:
    """`timestamp` (s), `sign` = Base64(HMAC-SHA256(key="ts\\nsecret", msg="")) with the secret from the env var
    `secret_var` names; empty without a secret. The sign is masked.
    """
    secret = data.env.get(secret_var, "")
    if not secret:
        return {"timestamp": "", "sign": ""}
    timestamp_s = int(data.now)
    signature = sign(secret, timestamp_s)
    # The sign depends only on the time and the secret: whoever holds it can post for an hour. Masked,
    # as this message's own secret: it changes every second, so the process registry never holds it.
    return {"timestamp": str(timestamp_s), "sign": signature, "message_secrets": [signature]}
