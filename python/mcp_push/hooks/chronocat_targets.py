"""Chronocat targets from CHRONOCAT_QQ (`user_id=1;group_id=2;...`): users first, then groups."""

from __future__ import annotations

import re

from ..config import ConfigError
from . import HookInput

PRIVATE, GROUP = 1, 2


def chronocat_targets(data: HookInput) -> dict:
    """`targets` from `CHRONOCAT_QQ`: users then groups, each `{chat_type, peer}`."""
    spec = data.env["CHRONOCAT_QQ"]
    users = re.findall(r"user_id=([0-9]+)", spec)  # ASCII digits, as in JS
    groups = re.findall(r"group_id=([0-9]+)", spec)
    if not users and not groups:
        raise ConfigError("CHRONOCAT_QQ names no target: use user_id=<QQ>;group_id=<group>")
    targets = [{"chat_type": PRIVATE, "peer": uin} for uin in users]
    targets += [{"chat_type": GROUP, "peer": uin} for uin in groups]
    return {"targets": targets}
