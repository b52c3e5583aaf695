"""Lark (international Feishu) bot signature: Feishu's scheme, with the secret read from LARK_SECRET.

The sign depends only on the timestamp and the secret, so anyone holding it can post for the next hour:
it is returned under `secrets` to be masked like the secret itself.
"""

from __future__ import annotations

from . import HookInput
from .feishu import sign


def lark_sign(data: HookInput) -> dict:
    secret = data.env.get("LARK_SECRET", "")
    if not secret:
        return {"timestamp": "", "sign": ""}
    timestamp_s = int(data.now)
    signature = sign(secret, timestamp_s)
    return {"timestamp": str(timestamp_s), "sign": signature, "secrets": [signature]}
