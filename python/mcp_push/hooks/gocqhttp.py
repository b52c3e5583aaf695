"""go-cqhttp / OneBot v11 target: GOBOT_QQ is `user_id=N` (private) or `group_id=N` (group)."""

from __future__ import annotations

import re

from ..config import ConfigError
from . import HookInput

_TARGET = re.compile(r"^\s*(user_id|group_id)\s*=\s*(\d+)\s*$")


def gocqhttp_target(data: HookInput) -> dict:
    match = _TARGET.match(data.env["GOBOT_QQ"])
    if not match:
        raise ConfigError("GOBOT_QQ must be user_id=<QQ number> or group_id=<group number>")
    return {"target": {match.group(1): int(match.group(2))}}
