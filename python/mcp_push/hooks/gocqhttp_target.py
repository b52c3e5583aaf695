"""go-cqhttp / OneBot v11 target: GOBOT_QQ is `user_id=N` (private) or `group_id=N` (group)."""

from __future__ import annotations

import re

from ..config import ConfigError
from . import HookInput

# ASCII digits and white space only, exactly as the JS hook reads it.
_TARGET = re.compile(r"^[ \t\n\r\f\v]*(user_id|group_id)[ \t\n\r\f\v]*=[ \t\n\r\f\v]*([0-9]+)[ \t\n\r\f\v]*$")


def gocqhttp_target(data: HookInput) -> dict:
    """`target`: `{user_id: N}` or `{group_id: N}` from `GOBOT_QQ`."""
    match = _TARGET.match(data.env["GOBOT_QQ"])
    if not match:
        raise ConfigError("GOBOT_QQ must be user_id=<QQ number> or group_id=<group number>")
    return {"target": {match.group(1): int(match.group(2))}}
