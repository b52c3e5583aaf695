"""DingTalk robot signing ("加签"): HMAC-SHA256 keyed by the secret over "timestamp\\nsecret"."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math

from . import HookInput


def sign(secret: str, timestamp_ms: int) -> str:
    message = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def dingtalk_sign(data: HookInput) -> dict:
    """`timestamp` (ms), `sign` = Base64(HMAC-SHA256(key=secret, msg="ts\\nsecret")) from `DD_BOT_SECRET`; empty without
    a secret."""
    secret = data.env.get("DD_BOT_SECRET", "")
    if not secret:
        # Keyword- or IP-secured robots take unsigned requests.
        return {"timestamp": "", "sign": ""}
    timestamp_ms = math.floor(data.now * 1000 + 0.5)  # ties up, as JS Math.round (round() ties to even)
    return {"timestamp": str(timestamp_ms), "sign": sign(secret, timestamp_ms)}
