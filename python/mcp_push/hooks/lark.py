"""Lark (international Feishu) bot signature: Feishu's scheme, with the secret read from LARK_SECRET."""

from __future__ import annotations

from . import HookInput
from .feishu import signed


def lark_sign(data: HookInput) -> dict:
    return signed(data.env.get("LARK_SECRET", ""), data.now)
